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

// The whole guest but its memories as plain data, in a canonical order:
// processes by pid, threads by creation, descriptors by number, open files
// by id. Encoded (snapshot_codec.go) and with the memories (machine.Memory's
// state format) it is both the snapshot format and what the state hash
// covers, so anything that can influence the guest's future is in it.
// (What the Env holds, such as host connections, is the Env's to
// snapshot.) state() and restore() mirror each other;
// TestGuestStateRestoresEveryField fails when a field is added to one and
// not the other.
type guestState struct {
	Instructions uint64
	Current      int
	NextTID      uint32
	NextFileID   uint32
	CwdMoved     bool
	InitialCwd   string
	EnvCwd       string
	// Files are the open file descriptions of every process: fork shares
	// them, so they are named by id across processes.
	Files     []fileState
	Processes []processState
}

// processState is one process. Memory says whether its memory follows
// the state in the snapshot.
type processState struct {
	Config       configState
	PPID         uint32
	PGID         uint32
	SID          uint32
	ExitSignal   int32
	VforkParent  uint32
	Memory       memoryKind
	Threads      []threadState
	Cwd          string
	Brk          uint32
	BrkStart     uint32
	Shared       []sharedMappingState
	Umask        uint32
	Undumpable   bool
	Nice         int32
	FDs          []fdState
	Actions      []sigActionState
	Pending      []sigInfoState
	Futexes      []futexWaiterState
	Timer        timerState
	Stopped      bool
	StopSignal   int32
	Report       uint8
	CPUTime      uint64
	ChildCPUTime uint64
	Exit         *ExitStatus
}

// memoryKind says which memory a process runs in.
type memoryKind uint8

const (
	memoryNone     memoryKind = iota // it has ended (a zombie)
	memoryOwn                        // its own, which the snapshot holds
	memoryBorrowed                   // its parent's (vfork), until it execs or ends
)

type configState struct {
	Argv, Envp   []string
	ExePath      string
	PID          uint32
	UID, GID     uint32
	Hostname     string
	Quantum      uint64
	MemoryLimit  uint64
	MaxProcesses uint32
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

// state is the whole guest's state.
func (k *kernel) state() *guestState {
	s := &guestState{Instructions: k.instructions, Current: k.current, NextTID: k.nextTID, NextFileID: k.nextFileID,
		CwdMoved: k.cwdMoved, InitialCwd: k.initialCwd, EnvCwd: k.envCwd}
	seen := map[uint32]bool{}
	addFile := func(f *openFile) {
		if !seen[f.id] {
			seen[f.id] = true
			s.Files = append(s.Files, fileStateOf(f))
		}
	}
	for _, p := range k.procs {
		s.Processes = append(s.Processes, p.state(addFile))
	}
	slices.SortFunc(s.Files, func(a, b fileState) int { return cmp.Compare(a.ID, b.ID) })
	return s
}

// state is p's state; addFile collects the open files it refers to.
func (p *Process) state(addFile func(*openFile)) processState {
	c := p.cfg
	s := processState{
		Config: configState{c.Argv, c.Envp, c.ExePath, c.PID, c.UID, c.GID, c.Hostname, c.Quantum, c.MemoryLimit, c.MaxProcesses},
		PPID:   p.ppid, PGID: p.pgid, SID: p.sid, ExitSignal: p.exitSignal, VforkParent: p.vforkParent,
		Memory: p.memoryKind(),
		Cwd:    p.cwd, Brk: p.brk, BrkStart: p.brkStart, Umask: p.umask, Undumpable: p.undumpable, Nice: p.nice,
		Pending: sigInfosState(p.sig.pending), Exit: p.exit,
		Timer:   timerState{p.timer.armed, p.timer.deadline, p.timer.interval},
		Stopped: p.stopped, StopSignal: p.stopSignal, Report: p.report,
		CPUTime: p.cpuTime, ChildCPUTime: p.childCPUTime,
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
	for sig := 1; sig <= numSignals; sig++ {
		a := p.sig.actions[sig]
		s.Actions = append(s.Actions, sigActionState{a.handler, a.flags, a.mask})
	}
	for _, w := range p.futexes {
		s.Futexes = append(s.Futexes, futexWaiterState{w.addr, w.tid, w.bitset})
	}
	return s
}

// ownsMemory reports whether p has a memory of its own: not when it has
// ended (a zombie) or runs in its parent's.
func (p *Process) ownsMemory() bool { return p.memoryKind() == memoryOwn }

func (p *Process) memoryKind() memoryKind {
	switch {
	case p.mem == nil:
		return memoryNone
	case p.borrowedMem:
		return memoryBorrowed
	}
	return memoryOwn
}

// memories are the address spaces of the processes that own one, in pid
// order: the order a snapshot holds them in.
func (k *kernel) memories() []*machine.Memory {
	var mems []*machine.Memory
	for _, p := range k.procs {
		if p.ownsMemory() {
			mems = append(mems, p.mem)
		}
	}
	return mems
}

// Image is the guest at one instant (Freeze): its processes' threads and
// kernel state encoded, their memories images that share every page with
// the guest until it next writes it. Taking one costs the walk of the page
// tables; encoding it (AppendTo) costs the copy of the memory, and may
// happen on any goroutine while the guest runs on.
type Image struct {
	state []byte
	mems  []*machine.MemoryImage
}

// Freeze takes an image of the guest.
func (p *Process) Freeze() *Image {
	return &Image{state: encodeGuestState(p.k.state()), mems: machine.FreezeGroup(p.k.memories())}
}

// SizeBound is at least the length of AppendTo's output.
func (img *Image) SizeBound() int {
	size := 8 + len(img.state)
	for _, m := range img.mems {
		size += m.StateSizeBound()
	}
	return size
}

// AppendTo appends the snapshot to b: the length of the processes' state,
// that state (snapshot_codec.go), and the memory of each process that
// owns one, in pid order, as a group (machine.AppendGroupState): the
// pages processes share copy on write are written once.
func (img *Image) AppendTo(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(img.state)))
	b = append(b, img.state...)
	return machine.AppendGroupState(b, img.mems)
}

// Snapshot serializes the whole guest: every process's CPU states, memory
// and kernel state.
func (p *Process) Snapshot() []byte {
	img := p.Freeze()
	return img.AppendTo(make([]byte, 0, img.SizeBound()))
}

// StateHash is a SHA-256 over the guest's complete state in a canonical
// order. Two guests that will behave the same have the same hash.
func (p *Process) StateHash() [32]byte {
	threads, memory := p.StateHashParts()
	return sha256.Sum256(append(threads[:], memory[:]...))
}

// StateHashParts are the two hashes StateHash combines: the threads'
// registers with the kernel state (processes, files, signals, futexes,
// timers), and the memories. Comparing them tells which of the two
// differs.
func (p *Process) StateHashParts() (threads, memory [32]byte) {
	h := sha256.New()
	for _, m := range p.k.memories() {
		sum := m.Hash()
		h.Write(sum[:])
	}
	h.Sum(memory[:0])
	return sha256.Sum256(encodeGuestState(p.k.state())), memory
}

// Restore rebuilds a guest from a Snapshot, and returns its first process.
// env must be in the state the snapshot's Env was in (same handles open);
// log receives diagnostics (nil means slog.Default()). The guest's memory
// refers to the snapshot's pages in place (machine.RestoreMemory): the
// snapshot must not change afterwards.
func Restore(snapshot []byte, env Env, log *slog.Logger) (*Process, error) {
	return RestoreKeeping(snapshot, nil, env, log)
}

// RestoreKeeping is Restore from a snapshot outside the Go heap (a mapped
// file) that stays valid while keep is reachable: the guest's memories,
// and their clones and images, keep it so (machine.RestoreGroup).
func RestoreKeeping(snapshot []byte, keep any, env Env, log *slog.Logger) (*Process, error) {
	if len(snapshot) < 8 || binary.BigEndian.Uint64(snapshot) > uint64(len(snapshot)-8) {
		return nil, errors.New("restore: the snapshot is truncated")
	}
	stateLen := binary.BigEndian.Uint64(snapshot)
	s, err := decodeGuestState(snapshot[8 : 8+stateLen])
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	owners := 0
	for _, ps := range s.Processes {
		if ps.Memory == memoryOwn {
			owners++
		}
	}
	mems, rest, err := machine.RestoreGroup(snapshot[8+stateLen:], owners, keep)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("restore: %d bytes after the memories", len(rest))
	}
	if log == nil {
		log = slog.Default()
	}
	p, err := s.restore(mems, env, log)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	return p, nil
}

// restore is the guest whose state() is s, with mems the memories of the
// processes that own one, in order; it returns the first process. It
// mirrors state(), field by field.
func (s *guestState) restore(mems []*machine.Memory, env Env, log *slog.Logger) (*Process, error) {
	if len(s.Processes) == 0 {
		return nil, errors.New("no processes")
	}
	k := &kernel{instructions: s.Instructions, current: s.Current, nextTID: s.NextTID, nextFileID: s.NextFileID,
		cwdMoved: s.CwdMoved, initialCwd: s.InitialCwd, envCwd: s.EnvCwd}
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
	for i := range s.Processes {
		ps := &s.Processes[i]
		var mem *machine.Memory
		switch ps.Memory {
		case memoryNone:
		case memoryOwn:
			if len(mems) == 0 {
				return nil, fmt.Errorf("process %d has no memory in the snapshot", ps.Config.PID)
			}
			mem, mems = mems[0], mems[1:]
		case memoryBorrowed:
			parent := k.process(ps.PPID)
			if parent == nil || parent.mem == nil {
				return nil, fmt.Errorf("process %d runs in the memory of %d, which has none", ps.Config.PID, ps.PPID)
			}
			mem = parent.mem
		default:
			return nil, fmt.Errorf("process %d: memory kind %d", ps.Config.PID, ps.Memory)
		}
		p, err := ps.restore(k, mem, files, env, log)
		if err != nil {
			return nil, fmt.Errorf("process %d: %w", ps.Config.PID, err)
		}
		k.procs = append(k.procs, p)
		k.runq = append(k.runq, p.threads...)
	}
	slices.SortFunc(k.runq, func(a, b *thread) int { return cmp.Compare(a.tid, b.tid) })
	k.root = k.procs[0]
	return k.root, nil
}

// restore is the process whose state() is ps, with memory mem (nil for a
// zombie), in kernel k.
func (ps *processState) restore(k *kernel, mem *machine.Memory, files map[uint32]*openFile, env Env, log *slog.Logger) (*Process, error) {
	c := ps.Config
	p := &Process{
		k: k,
		cfg: Config{Argv: c.Argv, Envp: c.Envp, ExePath: c.ExePath, PID: c.PID, UID: c.UID, GID: c.GID, Hostname: c.Hostname, Quantum: c.Quantum,
			MemoryLimit: c.MemoryLimit, MaxProcesses: c.MaxProcesses, Log: log},
		env: env, log: log, mem: mem,
		ppid: ps.PPID, pgid: ps.PGID, sid: ps.SID, exitSignal: ps.ExitSignal, vforkParent: ps.VforkParent, borrowedMem: ps.Memory == memoryBorrowed,
		cwd: ps.Cwd, brkStart: ps.BrkStart, brk: ps.Brk, umask: ps.Umask, undumpable: ps.Undumpable, nice: ps.Nice,
		stopped: ps.Stopped, stopSignal: ps.StopSignal, report: ps.Report,
		cpuTime: ps.CPUTime, childCPUTime: ps.ChildCPUTime,
		exit: ps.Exit, warned: map[uint32]bool{},
		timer: realTimer{ps.Timer.Armed, ps.Timer.Deadline, ps.Timer.Interval},
		files: fileTable{nextID: &k.nextFileID},
	}
	if mem == nil && len(ps.Threads) > 0 && ps.Exit == nil {
		return nil, errors.New("threads without memory")
	}
	for _, ts := range ps.Threads {
		t := &thread{tid: ts.TID, proc: p, cpu: ts.CPU.restore(p.mem), quantumLeft: ts.QuantumLeft, clearTID: ts.ClearTID,
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
	for _, fd := range ps.FDs {
		f := files[fd.FileID]
		if f == nil || fd.FD < 0 || fd.FD >= maxFDs {
			return nil, fmt.Errorf("descriptor %d names unknown file %d", fd.FD, fd.FileID)
		}
		for int(fd.FD) >= len(p.files.fds) {
			p.files.fds = append(p.files.fds, fdEntry{})
		}
		p.files.fds[fd.FD] = fdEntry{file: f, cloexec: fd.Cloexec}
	}
	for _, ms := range ps.Shared {
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
	if len(ps.Actions) != numSignals {
		return nil, fmt.Errorf("%d signal actions, not %d", len(ps.Actions), numSignals)
	}
	for i, a := range ps.Actions {
		p.sig.actions[i+1] = sigAction{a.Handler, a.Flags, a.Mask}
	}
	p.sig.pending = sigInfosFrom(ps.Pending)
	for _, w := range ps.Futexes {
		p.futexes = append(p.futexes, futexWaiter{w.Addr, w.TID, w.Bitset})
	}
	return p, nil
}
