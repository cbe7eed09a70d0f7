package linux

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/synodvm/synod/machine"
)

// Files under /proc that describe the guest itself are the kernel's to
// answer: asking the Env would show the host process instead.

// procProcess returns the guest process a /proc path is about (self,
// thread-self or a pid of the guest) and the file under it. found is
// false for paths the kernel does not answer; e is ENOENT for a pid the
// guest does not have, which the host must not answer for either.
func (p *Process) procProcess(path string) (q *Process, name string, found bool, e Errno) {
	rest, ok := strings.CutPrefix(path, "/proc/")
	if !ok {
		return nil, "", false, 0
	}
	who, name, _ := strings.Cut(rest, "/")
	switch who {
	case "self", "thread-self":
		return p, name, true, 0
	}
	pid, err := strconv.ParseUint(who, 10, 32)
	if err != nil {
		return nil, "", false, 0
	}
	if q = p.k.byID(uint32(pid)); q == nil {
		return nil, "", true, ENOENT
	}
	return q, name, true, 0
}

// procFile returns the contents of a /proc file about the guest, or false
// when path is not one the kernel makes.
func (p *Process) procFile(path string) ([]byte, bool, Errno) {
	if path == "/proc/cpuinfo" {
		return []byte(cpuinfo), true, 0
	}
	q, name, found, e := p.procProcess(path)
	if !found || e != 0 {
		return nil, found, e
	}
	switch name {
	case "maps":
		return q.maps(), true, 0
	case "cmdline":
		return q.cmdline(), true, 0
	case "comm":
		return []byte(q.leaderComm() + "\n"), true, 0
	}
	return nil, false, 0
}

// cpuinfo describes the processor as qemu-hppa's user mode does.
const cpuinfo = "cpu family\t: PA-RISC 1.1e\n" +
	"cpu\t\t: PA7300LC (PCX-L2)\n" +
	"capabilities\t: os32\n" +
	"model\t\t: 9000/778/B160L\n" +
	"model name\t: Merlin L2 160 QEMU (9000/778/B160L)\n"

// cmdline is the arguments, each ended by a NUL; empty for a zombie.
func (p *Process) cmdline() []byte {
	if p.exit != nil && p != p.k.root {
		return nil
	}
	var b []byte
	for _, arg := range p.cfg.Argv {
		b = append(append(b, arg...), 0)
	}
	return b
}

// leaderComm is the name of the main thread, which /proc/self/comm shows
// (for /proc/thread-self too: the file is not told which thread asks).
// Once the main thread has exited, its name at start stands in for it.
func (p *Process) leaderComm() string {
	if t := p.threadByTID(p.cfg.PID); t != nil {
		return t.comm
	}
	return initialComm(&p.cfg)
}

// maps lists the address space the way /proc/self/maps does: one line per
// run of pages with the same rights, the image named by its path and the
// main stack marked.
func (p *Process) maps() []byte {
	var b strings.Builder
	if p.mem == nil {
		return nil // a zombie
	}
	var start uint32
	var prot machine.Prot
	open := false
	flush := func(end uint32) {
		if !open {
			return
		}
		name := ""
		switch {
		case start >= stackBase && start < stackBase+stackSize:
			name = "[stack]"
		case start < p.brkStart && start >= machine.PageSize:
			name = p.cfg.ExePath
		}
		perm := []byte("---p")
		for i, bit := range []machine.Prot{machine.ProtRead, machine.ProtWrite, machine.ProtExec} {
			if prot&bit != 0 {
				perm[i] = "rwx"[i]
			}
		}
		line := fmt.Sprintf("%x-%x %s 00000000 00:00 0", start, end, perm)
		if name != "" {
			line = fmt.Sprintf("%-73s%s", line+" ", name)
		}
		b.WriteString(line + "\n")
		open = false
	}
	for n := uint64(0); n < 1<<(32-machine.PageShift); n++ {
		addr := uint32(n << machine.PageShift)
		pr, mapped := p.mem.Mapped(addr)
		if open && (!mapped || pr != prot || addr == stackBase || addr == p.brkStart) {
			flush(addr)
		}
		if mapped && !open {
			start, prot, open = addr, pr, true
		}
	}
	flush(0xffffffff)
	return []byte(b.String())
}

// bufferRead reads from a kernel-made file.
func (f *openFile) bufferRead(n int) []byte {
	if f.offset >= int64(len(f.contents)) {
		return nil
	}
	end := min(int64(len(f.contents)), f.offset+int64(n))
	out := f.contents[f.offset:end]
	f.offset = end
	return out
}
