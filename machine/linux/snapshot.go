package linux

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/synodvm/synod/machine"
	"github.com/synodvm/synod/machine/fpu"
)

// The whole process but its memory as plain data, in a canonical order:
// threads by creation, descriptors by number, open files by id. Encoded
// (snapshot_codec.go) and with the memory (machine.Memory's state format)
// it is both the snapshot format and what the state hash covers, so
// anything that can influence the guest's future is in it. (What the Env
// holds, such as host connections, is the Env's to snapshot.) state() and
// restore() mirror each other; TestProcessStateRestoresEveryField fails
// when a field is added to one and not the other.
type processState struct {
	Config       configState
	Instructions uint64
	Threads      []threadState
	Current      int
	NextTID      uint32
	Brk          uint32
	BrkStart     uint32
	Shared       []sharedMappingState
	Umask        uint32
	Undumpable   bool
	Nice         int32
	Files        []fileState
	FDs          []fdState
	NextFileID   uint32
	Actions      []sigActionState
	Pending      []sigInfoState
	Futexes      []futexWaiterState
	Timer        timerState
	Exit         *ExitStatus
}

type configState struct {
	Argv, Envp  []string
	ExePath     string
	PID         uint32
	UID, GID    uint32
	Hostname    string
	Quantum     uint64
	MemoryLimit uint64
}

type cpuState struct {
	GR           [32]uint32
	SR           [8]uint32
	CR           [32]uint32
	IAOQFront    uint32
	IAOQBack     uint32
	PSW          uint32
	FP           [32]uint64
	Instructions uint64
}

type threadState struct {
	TID          uint32
	CPU          cpuState
	QuantumLeft  uint64
	ClearTID     uint32
	Comm         string
	Pdeathsig    uint32
	NoNewPrivs   bool
	Mask         uint64
	Pending      []sigInfoState
	SavedMask    uint64
	HasSavedMask bool
	AltSP        uint32
	AltSize      uint32
	AltFlags     uint32
	Wait         *waitStateData
}

type waitStateData struct {
	Kind        uint8
	Deadline    int64
	HasDeadline bool
	FDs         []waitFDState
	Random      bool
	Connecting  bool
	FutexAddr   uint32
	FutexBitset uint32
	Sigwait     uint64
	Remaining   uint32
	Remaining64 bool
}

type waitFDState struct {
	FD     int32
	Events uint16
}

type fileState struct {
	ID        uint32
	Kind      uint8
	Handle    uint32
	PipeID    uint32 // the read end's id; both ends name the same pipe
	Pipe      []byte // pipe contents, on the read end's record
	Readers   int
	Writers   int
	Flags     uint32
	Socket    bool
	Refs      int
	Dir       []DirEntry
	DirRead   bool
	DirPos    int
	Interests []epollInterestState
	Counter   uint64
	Semaphore bool
	Contents  []byte
	Offset    int64
}

type epollInterestState struct {
	FD       int32
	FileID   uint32
	Events   uint32
	Data     uint64
	Disabled bool
}

type fdState struct {
	FD      int32
	FileID  uint32
	Cloexec bool
}

type sigActionState struct {
	Handler, Flags uint32
	Mask           uint64
}

type sigInfoState struct {
	Signo, Code int32
	PID, UID    uint32
	Value       uint32
	Addr        uint32
	Fault       bool
}

type timerState struct {
	Armed              bool
	Deadline, Interval int64
}

type futexWaiterState struct {
	Addr, TID, Bitset uint32
}

type sharedMappingState struct {
	Addr, Length uint32
	FileID       uint32 // 0 for an anonymous mapping
	Offset       int64
	Synced       [][32]byte
}

func sigInfosState(q []sigInfo) []sigInfoState {
	out := make([]sigInfoState, len(q))
	for i, s := range q {
		out[i] = sigInfoState{s.signo, s.code, s.pid, s.uid, s.value, s.addr, s.fault}
	}
	return out
}

func sigInfosFrom(q []sigInfoState) []sigInfo {
	out := make([]sigInfo, len(q))
	for i, s := range q {
		out[i] = sigInfo{s.Signo, s.Code, s.PID, s.UID, s.Value, s.Addr, s.Fault}
	}
	return out
}

func cpuStateOf(c *machine.CPU) cpuState {
	return cpuState{GR: c.GR, SR: c.SR, CR: c.CR, IAOQFront: c.IAOQFront, IAOQBack: c.IAOQBack, PSW: c.PSW(), FP: c.FP.R, Instructions: c.Instructions}
}

func (s cpuState) restore(mem *machine.Memory) *machine.CPU {
	c := &machine.CPU{GR: s.GR, SR: s.SR, CR: s.CR, IAOQFront: s.IAOQFront, IAOQBack: s.IAOQBack, FP: fpu.State{R: s.FP}, Mem: mem, Instructions: s.Instructions}
	c.SetPSW(s.PSW)
	return c
}

// readPage copies the mapped page at addr into buf, whatever the guest's
// rights on it: a page the guest cannot read is opened for reading for the
// copy and closed again.
func readPage(mem *machine.Memory, addr uint32, buf []byte) error {
	prot, _ := mem.Mapped(addr)
	if prot&machine.ProtRead == 0 {
		if err := mem.Protect(addr, machine.PageSize, prot|machine.ProtRead); err != nil {
			return err
		}
	}
	err := mem.ReadBytes(addr, buf)
	if prot&machine.ProtRead == 0 {
		if perr := mem.Protect(addr, machine.PageSize, prot); perr != nil {
			return perr
		}
	}
	return err
}

func fileStateOf(f *openFile) fileState {
	fs := fileState{ID: f.id, Kind: uint8(f.kind), Handle: uint32(f.handle), Flags: f.flags, Socket: f.socket, Refs: f.refs, Dir: f.dir, DirRead: f.dirRead, DirPos: f.dirPos, Counter: f.counter, Semaphore: f.semaphore, Contents: f.contents, Offset: f.offset}
	for _, in := range f.interests {
		fs.Interests = append(fs.Interests, epollInterestState{in.fd, in.fileID, in.events, in.data, in.disabled})
	}
	if f.pipe != nil {
		fs.PipeID, fs.Pipe, fs.Readers, fs.Writers = f.pipe.id, f.pipe.buf, f.pipe.readers, f.pipe.writers
	}
	return fs
}

func (p *Process) state() *processState {
	s := &processState{
		Config:       configState{p.cfg.Argv, p.cfg.Envp, p.cfg.ExePath, p.cfg.PID, p.cfg.UID, p.cfg.GID, p.cfg.Hostname, p.cfg.Quantum, p.cfg.MemoryLimit},
		Instructions: p.instructions, Current: p.current, NextTID: p.nextTID,
		Brk: p.brk, BrkStart: p.brkStart, Umask: p.umask, Undumpable: p.undumpable, Nice: p.nice, NextFileID: p.files.nextID,
		Pending: sigInfosState(p.sig.pending), Exit: p.exit,
		Timer: timerState{p.timer.armed, p.timer.deadline, p.timer.interval},
	}
	for _, t := range p.threads {
		ts := threadState{
			TID: t.tid, CPU: cpuStateOf(t.cpu), QuantumLeft: t.quantumLeft, ClearTID: t.clearTID,
			Comm: t.comm, Pdeathsig: t.pdeathsig, NoNewPrivs: t.noNewPrivs,
			Mask: t.sig.mask, Pending: sigInfosState(t.sig.pending), SavedMask: t.sig.savedMask, HasSavedMask: t.sig.hasSavedMask,
			AltSP: t.sig.altSP, AltSize: t.sig.altSize, AltFlags: t.sig.altFlags,
		}
		if w := t.wait; w != nil {
			wd := &waitStateData{Kind: uint8(w.kind), Deadline: w.deadline, HasDeadline: w.hasDeadline, Random: w.random, Connecting: w.connecting, FutexAddr: w.futexAddr, FutexBitset: w.futexBitset,
				Sigwait: w.sigwait, Remaining: w.remaining, Remaining64: w.remaining64}
			for _, f := range w.fds {
				wd.FDs = append(wd.FDs, waitFDState{f.fd, uint16(f.events)})
			}
			ts.Wait = wd
		}
		s.Threads = append(s.Threads, ts)
	}
	seen := map[uint32]bool{}
	addFile := func(f *openFile) {
		if !seen[f.id] {
			seen[f.id] = true
			s.Files = append(s.Files, fileStateOf(f))
		}
	}
	for fd, ent := range p.files.fds {
		if f := ent.file; f != nil {
			s.FDs = append(s.FDs, fdState{FD: int32(fd), FileID: f.id, Cloexec: ent.cloexec})
			addFile(f)
		}
	}
	for _, m := range p.shared {
		ms := sharedMappingState{Addr: m.addr, Length: m.length, Offset: m.offset, Synced: m.synced}
		if m.file != nil {
			ms.FileID = m.file.id
			addFile(m.file) // a mapping keeps its file after close(fd)
		}
		s.Shared = append(s.Shared, ms)
	}
	slices.SortFunc(s.Files, func(a, b fileState) int { return cmp.Compare(a.ID, b.ID) })
	for sig := 1; sig <= numSignals; sig++ {
		a := p.sig.actions[sig]
		s.Actions = append(s.Actions, sigActionState{a.handler, a.flags, a.mask})
	}
	for _, w := range p.futexes {
		s.Futexes = append(s.Futexes, futexWaiterState{w.addr, w.tid, w.bitset})
	}
	return s
}

// Image is the process at one instant (Freeze): its threads and kernel
// state encoded, its memory an image that shares every page with the
// process until the process next writes it. Taking one costs the walk of
// the page table; encoding it (AppendTo) costs the copy of the memory,
// and may happen on any goroutine while the process runs on.
type Image struct {
	state []byte
	mem   *machine.MemoryImage
}

// Freeze takes an image of the process.
func (p *Process) Freeze() *Image {
	return &Image{state: encodeProcessState(p.state()), mem: p.mem.Freeze()}
}

// SizeBound is at least the length of AppendTo's output.
func (img *Image) SizeBound() int { return 8 + len(img.state) + img.mem.StateSizeBound() }

// AppendTo appends the snapshot to b: the length of the threads and
// kernel state, that state (snapshot_codec.go), and the memory
// (machine.Memory's state format).
func (img *Image) AppendTo(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(img.state)))
	b = append(b, img.state...)
	return img.mem.AppendState(b)
}

// Snapshot serializes the whole process: CPU states, memory and kernel
// state.
func (p *Process) Snapshot() []byte {
	img := p.Freeze()
	return img.AppendTo(make([]byte, 0, img.SizeBound()))
}

// StateHash is a SHA-256 over the process's complete state in a canonical
// order. Two processes that will behave the same have the same hash.
func (p *Process) StateHash() [32]byte {
	threads, memory := p.StateHashParts()
	return sha256.Sum256(append(threads[:], memory[:]...))
}

// StateHashParts are the two hashes StateHash combines: the threads'
// registers with the kernel state (files, signals, futexes, timers), and
// the memory. Comparing them tells which of the two differs.
func (p *Process) StateHashParts() (threads, memory [32]byte) {
	return sha256.Sum256(encodeProcessState(p.state())), p.mem.Hash()
}

// Restore rebuilds a process from a Snapshot. env must be in the state the
// snapshot's Env was in (same handles open); log receives diagnostics (nil
// means slog.Default()).
func Restore(snapshot []byte, env Env, log *slog.Logger) (*Process, error) {
	if len(snapshot) < 8 || binary.BigEndian.Uint64(snapshot) > uint64(len(snapshot)-8) {
		return nil, errors.New("restore: the snapshot is truncated")
	}
	stateLen := binary.BigEndian.Uint64(snapshot)
	s, err := decodeProcessState(snapshot[8 : 8+stateLen])
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	mem, rest, err := machine.RestoreMemory(snapshot[8+stateLen:])
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("restore: %d bytes after the memory", len(rest))
	}
	if log == nil {
		log = slog.Default()
	}
	p, err := s.restore(mem, env, log)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	return p, nil
}

// restore is the process whose state() is s, with memory mem. It mirrors
// state(), field by field.
func (s *processState) restore(mem *machine.Memory, env Env, log *slog.Logger) (*Process, error) {
	c := s.Config
	p := &Process{
		cfg: Config{Argv: c.Argv, Envp: c.Envp, ExePath: c.ExePath, PID: c.PID, UID: c.UID, GID: c.GID, Hostname: c.Hostname, Quantum: c.Quantum,
			MemoryLimit: c.MemoryLimit, Log: log},
		env: env, log: log, mem: mem, current: s.Current, nextTID: s.NextTID,
		instructions: s.Instructions, brkStart: s.BrkStart, brk: s.Brk, umask: s.Umask, undumpable: s.Undumpable, nice: s.Nice,
		exit: s.Exit, warned: map[uint32]bool{},
		timer: realTimer{s.Timer.Armed, s.Timer.Deadline, s.Timer.Interval},
	}
	for _, ts := range s.Threads {
		t := &thread{tid: ts.TID, cpu: ts.CPU.restore(p.mem), quantumLeft: ts.QuantumLeft, clearTID: ts.ClearTID,
			comm: ts.Comm, pdeathsig: ts.Pdeathsig, noNewPrivs: ts.NoNewPrivs,
			sig: threadSignals{mask: ts.Mask, pending: sigInfosFrom(ts.Pending), savedMask: ts.SavedMask, hasSavedMask: ts.HasSavedMask,
				altSP: ts.AltSP, altSize: ts.AltSize, altFlags: ts.AltFlags}}
		if wd := ts.Wait; wd != nil {
			w := &waitState{kind: waitKind(wd.Kind), deadline: wd.Deadline, hasDeadline: wd.HasDeadline, random: wd.Random, connecting: wd.Connecting, futexAddr: wd.FutexAddr, futexBitset: wd.FutexBitset,
				sigwait: wd.Sigwait, remaining: wd.Remaining, remaining64: wd.Remaining64}
			for _, f := range wd.FDs {
				w.fds = append(w.fds, waitFD{f.FD, PollEvents(f.Events)})
			}
			t.wait = w
		}
		p.threads = append(p.threads, t)
	}
	files := map[uint32]*openFile{}
	pipes := map[uint32]*pipe{}
	for _, fs := range s.Files {
		f := &openFile{id: fs.ID, kind: fileKind(fs.Kind), handle: Handle(fs.Handle), flags: fs.Flags, socket: fs.Socket, refs: fs.Refs, dir: fs.Dir, dirRead: fs.DirRead, dirPos: fs.DirPos, counter: fs.Counter, semaphore: fs.Semaphore, contents: fs.Contents, offset: fs.Offset}
		for _, in := range fs.Interests {
			f.interests = append(f.interests, epollInterest{in.FD, in.FileID, in.Events, in.Data, in.Disabled})
		}
		if f.kind == filePipeRead || f.kind == filePipeWrite {
			pp := pipes[fs.PipeID]
			if pp == nil {
				pp = &pipe{id: fs.PipeID, buf: fs.Pipe, readers: fs.Readers, writers: fs.Writers}
				pipes[fs.PipeID] = pp
			}
			f.pipe = pp
		}
		files[f.id] = f
	}
	p.files.nextID = s.NextFileID
	for _, fd := range s.FDs {
		f := files[fd.FileID]
		if f == nil || fd.FD < 0 || fd.FD >= maxFDs {
			return nil, fmt.Errorf("descriptor %d names unknown file %d", fd.FD, fd.FileID)
		}
		for int(fd.FD) >= len(p.files.fds) {
			p.files.fds = append(p.files.fds, fdEntry{})
		}
		p.files.fds[fd.FD] = fdEntry{file: f, cloexec: fd.Cloexec}
	}
	for _, ms := range s.Shared {
		m := &sharedMapping{addr: ms.Addr, length: ms.Length, offset: ms.Offset, synced: ms.Synced}
		if ms.FileID != 0 {
			if m.file = files[ms.FileID]; m.file == nil {
				return nil, fmt.Errorf("shared mapping at %#x names unknown file %d", ms.Addr, ms.FileID)
			}
			if len(m.synced) != int(ms.Length/machine.PageSize) {
				return nil, fmt.Errorf("shared mapping at %#x has %d page sums for %d bytes", ms.Addr, len(m.synced), ms.Length)
			}
		}
		p.shared = append(p.shared, m)
	}
	if len(s.Actions) != numSignals {
		return nil, fmt.Errorf("%d signal actions, not %d", len(s.Actions), numSignals)
	}
	for i, a := range s.Actions {
		p.sig.actions[i+1] = sigAction{a.Handler, a.Flags, a.Mask}
	}
	p.sig.pending = sigInfosFrom(s.Pending)
	for _, w := range s.Futexes {
		p.futexes = append(p.futexes, futexWaiter{w.Addr, w.TID, w.Bitset})
	}
	return p, nil
}
