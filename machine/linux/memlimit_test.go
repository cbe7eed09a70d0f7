package linux_test

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/machine"
	"github.com/synodvm/synod/machine/linux"
)

const (
	nrGetrlimit = 76
	nrPrlimit64 = 321
	rlimitAS    = 9
	page        = 4096
)

// withLimit loads the test image with room for spare more pages than it
// maps at start.
func withLimit(t *testing.T, spare uint64) *linux.Process {
	t.Helper()
	unlimited, _ := newKernel(t)
	start := unlimited.Memory().MappedBytes()
	p, _ := loadTestdata(t, "startregs", linux.Config{Argv: []string{"k"}, MemoryLimit: start + spare*page})
	return p
}

// mmapAnon maps n anonymous private pages (at addr with MAP_FIXED when
// addr is not zero) and returns mmap2's answer.
func mmapAnon(p *linux.Process, addr, n uint32) uint32 {
	const mapPrivateAnonymous, mapFixed = 0x12, 0x04
	flags := uint32(mapPrivateAnonymous)
	if addr != 0 {
		flags |= mapFixed
	}
	r, _ := linux.Syscall(p, mainTID, nrMmap2, addr, n*page, 3, flags, ^uint32(0), 0)
	return r
}

func failed(r uint32) bool { return r > 0xfffff000 }

// Past Config.MemoryLimit the guest's mappings fail as under RLIMIT_AS:
// mmap, mremap and brk with ENOMEM (brk by keeping the old break), stack
// growth with SIGSEGV; what the limit counts is pages mapped, so
// unmapping makes room and mapping over mapped pages costs nothing.
func TestMemoryLimit(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, p *linux.Process)
	}{
		{"mmap up to the limit and no further", func(t *testing.T, p *linux.Process) {
			a := mmapAnon(p, 0, 12)
			require.False(t, failed(a))
			require.Equal(t, neg(linux.ENOMEM), mmapAnon(p, 0, 5))
			b := mmapAnon(p, 0, 4)
			require.False(t, failed(b), "exactly at the limit")
			require.Equal(t, neg(linux.ENOMEM), mmapAnon(p, 0, 1))
			require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrMunmap, a, 2*page)))
			require.False(t, failed(mmapAnon(p, 0, 2)), "unmapping made room")
		}},
		{"MAP_FIXED over mapped pages", func(t *testing.T, p *linux.Process) {
			a := mmapAnon(p, 0, 16)
			require.False(t, failed(a))
			require.Equal(t, a, mmapAnon(p, a, 16), "replaces, adds nothing")
			require.Equal(t, neg(linux.ENOMEM), mmapAnon(p, a-page, 16), "one page more than it replaces")
		}},
		{"mremap", func(t *testing.T, p *linux.Process) {
			const mayMove = 1
			a := mmapAnon(p, 0, 8)
			require.False(t, failed(a))
			require.Equal(t, neg(linux.ENOMEM), first(linux.Syscall(p, mainTID, nrMremap, a, 8*page, 17*page, mayMove)))
			require.False(t, failed(first(linux.Syscall(p, mainTID, nrMremap, a, 8*page, 16*page, mayMove))))
		}},
		{"brk", func(t *testing.T, p *linux.Process) {
			start := first(linux.Syscall(p, mainTID, nrBrk, 0))
			require.Equal(t, start, first(linux.Syscall(p, mainTID, nrBrk, start+17*page)), "refused: the old break")
			require.Equal(t, start+16*page, first(linux.Syscall(p, mainTID, nrBrk, start+16*page)))
		}},
		{"stack growth", func(t *testing.T, p *linux.Process) {
			const stackEnd = 0xfa000000 + 8<<20
			grow := func(addr uint32) {
				linux.HandleStop(p, mainTID, machine.Stop{Reason: machine.StopFault,
					Fault: &machine.Fault{Addr: addr, Write: true, Unmapped: true}})
				linux.DeliverSignals(p, mainTID)
			}
			grow(stackEnd + 15*page)
			require.Nil(t, p.Exit(), "16 pages fit")
			grow(stackEnd + 16*page)
			require.Equal(t, &linux.ExitStatus{Signal: linux.SIGSEGV, Core: true}, p.Exit())
		}},
		{"getrlimit and prlimit64 report it", func(t *testing.T, p *linux.Process) {
			limit := p.Memory().MappedBytes() + 16*page
			buf := scratch(t, p)
			require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrGetrlimit, rlimitAS, buf)))
			require.Equal(t, []uint32{uint32(limit), uint32(limit)}, []uint32{word(t, p, buf), word(t, p, buf+4)})
			require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrPrlimit64, 0, rlimitAS, 0, buf)))
			b := peek(t, p, buf, 16)
			require.Equal(t, limit, binary.BigEndian.Uint64(b))
			require.Equal(t, limit, binary.BigEndian.Uint64(b[8:]))
		}},
		{"a restored process keeps it", func(t *testing.T, p *linux.Process) {
			q, _ := restored(t, p, newKernelEnv())
			require.Equal(t, neg(linux.ENOMEM), mmapAnon(q, 0, 17))
			require.False(t, failed(mmapAnon(q, 0, 16)))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, withLimit(t, 16)) })
	}
}

func TestLoadRefusesAMemoryLimitBelowTheProgram(t *testing.T) {
	unlimited, _ := newKernel(t)
	_, err := linux.Load(readTestdata(t, "startregs"),
		linux.Config{Argv: []string{"k"}, MemoryLimit: unlimited.Memory().MappedBytes() - 1}, newKernelEnv())
	require.ErrorContains(t, err, "memory limit")
}
