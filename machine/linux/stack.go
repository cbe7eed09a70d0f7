package linux

import (
	"encoding/binary"
	"fmt"

	"github.com/synodvm/synod/machine"
)

// The main thread's stack. On hppa it grows up, so the kernel writes the
// strings at its low end and the argument block above them. The base is
// where qemu-hppa puts it, so addresses printed by a guest match.
//
// qemu-hppa gives the stack 80 MiB, whatever the 8 MiB limit getrlimit
// reports, so a guest may recurse that deep. The first stackSize bytes
// are mapped at start and the rest of stackReserve when the guest reaches
// it, as the kernel grows a stack on a fault above its end.
const (
	stackBase    = 0xfa000000
	stackSize    = 8 << 20 // also what getrlimit(RLIMIT_STACK) reports
	stackReserve = 80 << 20
	stackProt    = machine.ProtRead | machine.ProtWrite | machine.ProtExec
)

// growStack maps the stack's reserve up to the page of addr, from where
// the mapped stack ends, when addr lies in the reserve and is not mapped.
// It reports whether it mapped anything (the access that needed it can
// then be done again). A stack that would pass the memory limit does not
// grow, so the access faults, as on Linux.
func (p *Process) growStack(addr uint32) bool {
	top := addr &^ (machine.PageSize - 1)
	if addr < stackBase+stackSize || addr >= stackBase+stackReserve {
		return false
	}
	if _, mapped := p.mem.Mapped(top); mapped {
		return false
	}
	bottom := top
	for bottom > stackBase+stackSize {
		if _, mapped := p.mem.Mapped(bottom - machine.PageSize); mapped {
			break
		}
		bottom -= machine.PageSize
	}
	n := top + machine.PageSize - bottom
	return p.mayMap(uint64(n)) && p.mem.Map(bottom, n, stackProt) == nil
}

// Auxiliary vector tags.
const (
	atNull     = 0
	atPhdr     = 3
	atPhent    = 4
	atPhnum    = 5
	atPagesz   = 6
	atBase     = 7
	atFlags    = 8
	atEntry    = 9
	atUID      = 11
	atEUID     = 12
	atGID      = 13
	atEGID     = 14
	atPlatform = 15
	atHwcap    = 16
	atClktck   = 17
	atSecure   = 23
	atRandom   = 25
	atExecfn   = 31
)

// platform is the AT_PLATFORM string hppa Linux reports.
const platform = "PARISC"

// startInfo is where the initial stack put things the entry registers name.
type startInfo struct {
	sp   uint32
	argv uint32
	argc uint32
}

// stackWriter appends to the stack from its low end upward.
type stackWriter struct {
	mem *machine.Memory
	at  uint32
	err error
}

func (w *stackWriter) bytes(b []byte) uint32 {
	addr := w.at
	if w.err == nil && uint64(w.at)+uint64(len(b)) > stackBase+stackSize {
		w.err = fmt.Errorf("arguments and environment exceed the %d-byte stack", stackSize)
	}
	if w.err == nil {
		w.err = w.mem.WriteBytes(w.at, b)
	}
	w.at += uint32(len(b))
	return addr
}

func (w *stackWriter) str(s string) uint32 { return w.bytes(append([]byte(s), 0)) }

func (w *stackWriter) word(v uint32) {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	w.bytes(b[:])
}

func (w *stackWriter) align(n uint32) { w.at = (w.at + n - 1) &^ (n - 1) }

// setupStack maps the main stack and lays out argv, envp and the auxiliary
// vector the way qemu-hppa does: strings from the base, then the execfn and
// platform strings, 16 random bytes, argc, the argv and envp arrays and the
// auxv pairs; the stack pointer starts one 64-byte frame above them.
func setupStack(mem *machine.Memory, img image, cfg *Config, random [16]byte) (startInfo, error) {
	if err := mem.Map(stackBase, stackSize, stackProt); err != nil {
		return startInfo{}, fmt.Errorf("map stack: %w", err)
	}
	w := &stackWriter{mem: mem, at: stackBase}
	argv := make([]uint32, len(cfg.Argv))
	for i, a := range cfg.Argv {
		argv[i] = w.str(a)
	}
	envp := make([]uint32, len(cfg.Envp))
	for i, e := range cfg.Envp {
		envp[i] = w.str(e)
	}
	execfn := w.str(cfg.execfn())
	plat := w.str(platform)
	w.align(16)
	rnd := w.bytes(random[:])
	w.align(16)
	info := startInfo{argc: uint32(len(argv)), argv: w.at + 4}
	w.word(info.argc)
	for _, a := range argv {
		w.word(a)
	}
	w.word(0)
	for _, e := range envp {
		w.word(e)
	}
	w.word(0)
	aux := [][2]uint32{
		{atPhdr, img.phdr}, {atPhent, img.phent}, {atPhnum, img.phnum},
		{atPagesz, machine.PageSize}, {atBase, 0}, {atFlags, 0}, {atEntry, img.entry},
		{atUID, cfg.UID}, {atEUID, cfg.UID}, {atGID, cfg.GID}, {atEGID, cfg.GID},
		{atHwcap, 0}, {atClktck, clockTicks}, {atRandom, rnd}, {atSecure, 0},
		{atExecfn, execfn}, {atPlatform, plat}, {atNull, 0},
	}
	for _, kv := range aux {
		w.word(kv[0])
		w.word(kv[1])
	}
	w.align(64)
	info.sp = w.at + 64
	if w.err == nil && info.sp > stackBase+stackSize {
		w.err = fmt.Errorf("arguments and environment exceed the %d-byte stack", stackSize)
	}
	return info, w.err
}
