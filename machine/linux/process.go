package linux

import (
	"fmt"
	"log/slog"

	"github.com/synodvm/synod/machine"
)

// Config is the deterministic part of a process's start: everything here is
// the same on every replica (it belongs in a cluster's boot entry).
type Config struct {
	Argv []string // argv[0] is also AT_EXECFN
	Envp []string
	// ExePath is what readlink("/proc/self/exe") answers.
	ExePath string
	// PID is the process id the guest sees (and the main thread's tid).
	// Zero means 1000.
	PID uint32
	// UID and GID are the identity the guest sees (getuid, AT_UID, ...).
	UID, GID uint32
	// Hostname is uname's nodename. Empty means "synod".
	Hostname string
	// Quantum is how many instructions a thread runs before the scheduler
	// moves to the next runnable one. Smaller interleaves threads more
	// finely; larger runs longer stretches without scheduling work. Zero
	// means DefaultQuantum. Part of the deterministic state: replicas must
	// agree on it.
	Quantum uint64
	// MemoryLimit caps the bytes the process may have mapped (program,
	// stack, brk, mmap), as RLIMIT_AS does on Linux: beyond it brk and
	// mmap fail with ENOMEM and the stack does not grow. Every mapped
	// page may come to cost host memory, so this is what keeps a guest
	// from taking the host's. Zero means no limit. Part of the
	// deterministic state: replicas must agree on it.
	MemoryLimit uint64
	// MaxProcesses caps how many processes (zombies included) the guest
	// may have at once, as RLIMIT_NPROC does: beyond it fork fails with
	// EAGAIN, so a fork bomb costs neither the host's memory nor its
	// time. Zero means DefaultMaxProcesses. Part of the deterministic
	// state: replicas must agree on it.
	MaxProcesses uint32
	// Log receives diagnostics (unknown system calls, illegal
	// instructions). Nil means slog.Default().
	Log *slog.Logger
}

// DefaultQuantum is the scheduling quantum when Config.Quantum is zero.
const DefaultQuantum = 100_000

// DefaultMaxProcesses is the process limit when Config.MaxProcesses is zero.
const DefaultMaxProcesses = 256

func (c *Config) execfn() string {
	if len(c.Argv) > 0 {
		return c.Argv[0]
	}
	return c.ExePath
}

// Process is one guest process: its memory, threads and kernel state. The
// one Load returns is the guest's first process, and its methods (Run,
// Snapshot, StateHash...) act on the whole guest: every process it and
// its descendants start. The guest is deterministic: the same binary,
// Config and Env answers give the same instructions and the same state
// hash.
type Process struct {
	k   *kernel
	cfg Config
	env Env
	log *slog.Logger
	mem *machine.Memory

	threads []*thread // in creation order

	// The family: the parent's pid (1, outside the guest, for the first
	// process), the process group and the session.
	ppid, pgid, sid uint32
	// exitSignal is what the parent is sent when the process ends
	// (clone's low byte: SIGCHLD for fork, none for some clones).
	exitSignal int32
	// vforkParent is the thread suspended in vfork (or a CLONE_VFORK
	// clone) until this process execs or ends; 0 when there is none.
	vforkParent uint32
	// borrowedMem says mem is the parent's (CLONE_VM without
	// CLONE_THREAD, as vfork and posix_spawn make): the child runs in it
	// until it execs or ends, and never tears it down.
	borrowedMem bool

	cwd           string // the working directory; "" while it is the Env's first (cwd.go)
	brkStart, brk uint32
	shared        []*sharedMapping // MAP_SHARED mappings, in address order
	umask         uint32
	files         fileTable
	sig           processSignals
	futexes       []futexWaiter // in the order the threads started waiting
	timer         realTimer     // alarm/setitimer
	undumpable    bool          // prctl(PR_SET_DUMPABLE, 0)
	nice          int32         // setpriority, for getpriority

	// CPU time, at one nanosecond per instruction: what the process's
	// threads have executed, and what its reaped children (and theirs)
	// had.
	cpuTime, childCPUTime uint64

	// Job control (stop.go): whether the process is stopped, by which
	// signal, and what its parent's wait has yet to hear of it.
	stopped    bool
	stopSignal int32
	report     uint8

	// exit is how the process ended; until its parent reaps it, it stays
	// in the process table as a zombie.
	exit   *ExitStatus
	warned map[uint32]bool // unknown syscalls already logged (diagnostics only)
}

// TraceFunc receives each instruction before it executes: the thread, its
// address (privilege bits included), its word, and whether it is nullified.
type TraceFunc func(tid, pc, word uint32, nullified bool)

// ExitStatus is how a process ended.
type ExitStatus struct {
	Code   int  // exit code, when Signal is zero
	Signal int  // the guest signal that killed it, or zero
	Core   bool // the signal's default action dumps core
}

// RunReason says why Run returned.
type RunReason uint8

const (
	RunBudget RunReason = iota // the instruction budget is spent
	RunIdle                    // every thread waits; Wait says for what
	RunExited                  // the process has ended; see Exit
)

func (r RunReason) String() string {
	return [...]string{"budget", "idle", "exited"}[r]
}

// RunResult reports one call of Run.
type RunResult struct {
	Reason   RunReason
	Executed uint64  // instructions executed by this call
	Wait     WaitSet // for RunIdle
}

// WaitSet is what an idle process waits for. Whoever drives the process
// waits for one of these (or for new input it knows of) and calls Run again;
// the kernel then re-checks its waiting threads against the Env.
type WaitSet struct {
	// Deadline is the earliest CLOCK_MONOTONIC time (ns) at which a
	// sleeping thread wakes; HasDeadline says whether there is one.
	Deadline    int64
	HasDeadline bool
	// Handles lists the Env handles and events threads wait on.
	Handles []PollRequest
	// Random is set when a thread waits for random bytes.
	Random bool
}

// Load maps a static hppa executable and prepares its main thread to start
// as the Linux kernel (and qemu-hppa) would start it.
func Load(binary []byte, cfg Config, env Env) (*Process, error) {
	if cfg.PID == 0 {
		cfg.PID = 1000
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "synod"
	}
	if cfg.Quantum == 0 {
		cfg.Quantum = DefaultQuantum
	}
	if cfg.MaxProcesses == 0 {
		cfg.MaxProcesses = DefaultMaxProcesses
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	start, err := newProgram(binary, &cfg, env)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	k := &kernel{nextTID: cfg.PID}
	p := &Process{k: k, cfg: cfg, env: env, log: log, mem: start.mem, ppid: 1, pgid: cfg.PID, sid: cfg.PID,
		exitSignal: SIGCHLD, warned: map[uint32]bool{}}
	k.root = p
	k.procs = []*Process{p}
	p.brkStart, p.brk = start.brk, start.brk
	p.umask = 0o022
	p.files = newFileTable(k)
	k.addThread(p, start.cpu).comm = initialComm(&cfg)
	return p, nil
}

// program is a freshly loaded executable: its address space, the CPU of
// its first thread and its initial program break.
type program struct {
	mem *machine.Memory
	cpu *machine.CPU
	brk uint32
}

// newProgram maps binary with its stack for cfg's arguments, as Load and
// execve start a program.
func newProgram(binary []byte, cfg *Config, env Env) (program, error) {
	mem := machine.NewMemory()
	img, err := loadELF(binary, mem)
	if err != nil {
		return program{}, err
	}
	var random [16]byte
	copy(random[:], env.Random(len(random)))
	start, err := setupStack(mem, img, cfg, random)
	if err != nil {
		return program{}, err
	}
	if err := mapSigreturnPage(mem); err != nil {
		return program{}, err
	}
	// The gateway page is mapped execute-only, so that a NULL pointer
	// access faults with SEGV_ACCERR as on hppa Linux and qemu-hppa.
	if err := mem.Map(0, machine.PageSize, machine.ProtExec); err != nil {
		return program{}, err
	}
	if cfg.MemoryLimit != 0 && mem.MappedBytes() > cfg.MemoryLimit {
		return program{}, fmt.Errorf("the program and its stack need %d bytes, more than the memory limit of %d",
			mem.MappedBytes(), cfg.MemoryLimit)
	}
	cpu := &machine.CPU{Mem: mem}
	cpu.IAOQFront = img.entry | privUser
	cpu.IAOQBack = (img.entry + 4) | privUser
	cpu.GR[24] = start.argv
	cpu.GR[25] = start.argc
	cpu.GR[30] = start.sp
	cpu.GR[31] = img.entry
	return program{mem: mem, cpu: cpu, brk: img.brk}, nil
}

// privUser is the privilege level of user code, kept in the low two bits of
// the instruction address queue.
const privUser = 3

// Kill sends a process-directed signal from outside, as kill(1) would: the
// first thread that does not block it takes it. For a replicated process it
// must be called at the same point of execution on every replica.
func (p *Process) Kill(sig int) error {
	if sig < 1 || sig > numSignals {
		return fmt.Errorf("kill: no signal %d", sig)
	}
	p.sendToProcess(sigInfo{signo: int32(sig), code: siUser})
	return nil
}

// KillGroup sends sig from outside to every process of p's process group,
// as a terminal sends Ctrl-C's SIGINT to its foreground group. The same
// determinism rule as Kill's holds.
func (p *Process) KillGroup(sig int) error {
	if sig < 1 || sig > numSignals {
		return fmt.Errorf("kill: no signal %d", sig)
	}
	for _, q := range p.k.procs {
		if q.pgid == p.pgid {
			q.sendToProcess(sigInfo{signo: int32(sig), code: siUser})
		}
	}
	return nil
}

// Ignore sets sig's disposition to SIG_IGN before the program runs: a
// program starts with the signals its parent ignored still ignored, as
// execve leaves them.
func (p *Process) Ignore(sig int) error {
	if sig < 1 || sig > numSignals || sig == SIGKILL || sig == SIGSTOP {
		return fmt.Errorf("ignore: no signal %d that can be ignored", sig)
	}
	p.sig.actions[sig] = sigAction{handler: sigIGN}
	return nil
}

// SetTrace makes every thread of every process, present and future,
// report each instruction to trace before executing it. It slows
// execution; nil turns it off.
func (p *Process) SetTrace(trace TraceFunc) {
	p.k.trace = trace
	for _, t := range p.k.runq {
		p.k.traceThread(t)
	}
}

// Instructions is the number of instructions all threads of all processes
// have executed.
func (p *Process) Instructions() uint64 { return p.k.instructions }

// Exit reports how the process ended, or nil while it runs.
func (p *Process) Exit() *ExitStatus { return p.exit }

// SetEngine chooses how the guest's threads, in every process, execute
// instructions. The engines agree on every instruction, so replicas may
// differ in it.
func (p *Process) SetEngine(e machine.Engine) { p.k.engine = e }

// Memory is the process's address space (for tracing and tests).
func (p *Process) Memory() *machine.Memory { return p.mem }

// Run executes guest instructions of every process, switching threads
// every quantum, until budget instructions have run, every thread waits,
// or the guest's first process ends (which ends the guest). It stops after
// exactly budget instructions when it does not stop earlier.
func (p *Process) Run(budget uint64) RunResult { return p.k.run(budget) }
