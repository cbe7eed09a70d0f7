package linux_test

import (
	"fmt"
	"testing"

	"github.com/synodvm/synod/machine/linux"
)

// BenchmarkFork: fork, exit and reap a child of a process that has
// written touched pages: copy-on-write makes the fork cost the page
// records, not the contents.
func BenchmarkFork(b *testing.B) {
	for _, touched := range []int{16, 4096} {
		b.Run(fmt.Sprintf("%dpages", touched), func(b *testing.B) {
			p, err := linux.Load(readTestdata(b, "startregs"), linux.Config{Argv: []string{"k"}}, guestEnv(1))
			if err != nil {
				b.Fatal(err)
			}
			size := uint32(touched) * 4096
			addr, _ := linux.Syscall(p, mainTID, nrMmap2, 0, size, 3, 0x12, ^uint32(0), 0)
			for off := uint32(0); off < size; off += 4096 {
				if err := p.Memory().StoreWord(addr+off, off|1); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				child, _ := linux.Syscall(p, mainTID, nrFork)
				linux.Syscall(p, child, nrExitGroup, 0)
				if got, _ := linux.Syscall(p, mainTID, nrWait4, child, 0, 0, 0); got != child {
					b.Fatalf("wait4 = %d, want %d", int32(got), child)
				}
			}
		})
	}
}
