package linux

import (
	"cmp"
	"slices"

	"github.com/synodvm/synod/machine"
)

// kernel is what every process of one guest shares: the scheduler with
// its one queue of all threads, the id space, the instruction count that
// drives the clocks, and the process table. The guest's first process
// (root) is its init: when it ends, the guest ends and every other
// process with it, as in a Linux pid namespace.
type kernel struct {
	root  *Process
	procs []*Process // every process not yet reaped, by pid (creation order)
	// runq is every thread of every process, by tid, which is creation
	// order: ids are never reused. current indexes the thread holding the
	// CPU.
	runq    []*thread
	current int
	nextTID uint32 // pids and tids share one space, as on Linux
	// nextFileID names open file descriptions, which fork shares.
	nextFileID uint32

	instructions uint64 // executed by all threads so far

	// The working directories (cwd.go): whether a process has changed
	// its, the Env's at the start, and the Env's now.
	cwdMoved   bool
	initialCwd string
	envCwd     string

	// trace, when set, sees every instruction any thread executes.
	trace TraceFunc
	// engine is how threads execute instructions; not part of the state.
	engine machine.Engine
	// recheck is recheckWaits' working memory, kept between calls: it runs
	// at every scheduling decision, and allocating it afresh each time was
	// a fifth of what a node allocated per request. Not part of the state.
	recheck *recheckScratch
	// polling is pollReadiness' working memory, kept between calls for
	// the same reason. Not part of the state.
	polling pollScratch
}

// process returns the process with id pid, zombies included, or nil.
func (k *kernel) process(pid uint32) *Process {
	for _, p := range k.procs {
		if p.cfg.PID == pid {
			return p
		}
	}
	return nil
}

// addThread makes cpu a new thread of p with the next id.
func (k *kernel) addThread(p *Process, cpu *machine.CPU) *thread {
	t := &thread{tid: k.nextTID, proc: p, cpu: cpu, quantumLeft: p.cfg.Quantum}
	k.nextTID++
	p.threads = append(p.threads, t)
	k.runq = append(k.runq, t)
	k.traceThread(t)
	return t
}

// removeThread takes t off its process and the run queue, keeping current
// on the thread that holds the CPU (or, if t held it, just before the
// next one).
func (k *kernel) removeThread(t *thread) {
	p := t.proc
	if i := slices.Index(p.threads, t); i >= 0 {
		p.threads = slices.Delete(p.threads, i, i+1)
	}
	if i := slices.Index(k.runq, t); i >= 0 {
		k.runq = slices.Delete(k.runq, i, i+1)
		if i <= k.current {
			k.current--
		}
	}
}

// retid gives t the id tid, moving it in the run queue (ordered by tid)
// and keeping current on the thread that holds the CPU.
func (k *kernel) retid(t *thread, tid uint32) {
	var holder *thread
	if k.current >= 0 && k.current < len(k.runq) {
		holder = k.runq[k.current]
	}
	t.tid = tid
	slices.SortFunc(k.runq, func(a, b *thread) int { return cmp.Compare(a.tid, b.tid) })
	if holder != nil {
		k.current = slices.Index(k.runq, holder)
	}
}

// removeProcess drops a reaped process from the table.
func (k *kernel) removeProcess(p *Process) {
	if i := slices.Index(k.procs, p); i >= 0 {
		k.procs = slices.Delete(k.procs, i, i+1)
	}
}

func (k *kernel) traceThread(t *thread) {
	t.cpu.Trace = nil
	if trace := k.trace; trace != nil {
		tid := t.tid
		t.cpu.Trace = func(pc, word uint32, nullified bool) { trace(tid, pc, word, nullified) }
	}
}

// run executes guest instructions, switching threads every quantum, until
// budget instructions have run, every thread waits, or the guest ends.
// It stops after exactly budget instructions when it does not stop earlier.
func (k *kernel) run(budget uint64) RunResult {
	start := k.instructions
	for k.root.exit == nil {
		done := k.instructions - start
		if done >= budget {
			return RunResult{Reason: RunBudget, Executed: done}
		}
		t := k.schedule()
		if t == nil {
			return RunResult{Reason: RunIdle, Executed: done, Wait: k.waitSet()}
		}
		p := t.proc
		k.enterCwd(p)
		if p.deliverSignals(t); p.exit != nil || !t.runnable() || t.exited {
			continue
		}
		n := min(t.quantumLeft, budget-done)
		before := t.cpu.Instructions
		t.cpu.Engine = k.engine
		stop := t.cpu.Run(n)
		ran := t.cpu.Instructions - before
		if stop.Reason != machine.StopBudget {
			// Entering the kernel (a system call, a fault) costs one
			// instruction. So every turn of this loop spends budget, even
			// for a thread that traps at once, and the count does not
			// depend on where budgets cut the run: the CPU stops for a
			// trap only before its budget is spent.
			ran++
		}
		k.instructions += ran
		p.cpuTime += ran
		t.quantumLeft -= min(ran, t.quantumLeft)
		p.handleStop(t, stop)
	}
	return RunResult{Reason: RunExited, Executed: k.instructions - start}
}

// thread returns the thread with id tid, of any process, or nil.
func (k *kernel) thread(tid uint32) *thread {
	for _, t := range k.runq {
		if t.tid == tid {
			return t
		}
	}
	return nil
}
