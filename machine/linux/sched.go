package linux

import "github.com/synodvm/synod/machine"

// thread is one guest thread: a CPU context sharing the process's memory.
type thread struct {
	tid         uint32
	proc        *Process
	cpu         *machine.CPU
	quantumLeft uint64
	exited      bool

	// clearTID is the CLONE_CHILD_CLEARTID address: zeroed and woken
	// (futex) when the thread exits, which is how pthread_join waits.
	clearTID uint32

	// What prctl sets: the thread's name (at most 15 bytes), the signal
	// asked for when the parent dies (it never does here) and the
	// no_new_privs bit.
	comm       string
	pdeathsig  uint32
	noNewPrivs bool

	sig threadSignals

	// wait is non-nil while the thread is blocked in a system call. Its
	// CPU then still points at the gateway entry, so retrying the call is
	// re-dispatching it.
	wait *waitState
}

// waitKind says what a blocked thread waits for and what waking means.
type waitKind uint8

const (
	// waitRetry: the call could not complete now (no data, no connection,
	// no random bytes); when one of fds is ready, the call runs again.
	waitRetry waitKind = iota
	// waitFutex: FUTEX_WAIT; ends with 0 when woken, ETIMEDOUT at the deadline.
	waitFutex
	// waitSleep: nanosleep and friends; ends with 0 at the deadline.
	waitSleep
	// waitSignal: pause/sigsuspend; ends when a signal is delivered.
	waitSignal
	// waitChild: wait4/waitid; the call runs again when a child ends.
	waitChild
	// waitVfork: the parent of a vfork until the child execs or ends;
	// signals wait until then.
	waitVfork
)

// waitState describes why a thread is blocked.
type waitState struct {
	kind waitKind
	// deadline is a CLOCK_MONOTONIC time in ns; hasDeadline says whether
	// the wait has one. For waitRetry calls with a timeout (poll), the call
	// reads it back when it runs again so the timeout does not restart.
	deadline    int64
	hasDeadline bool
	fds         []waitFD // waitRetry: descriptors and the events wanted
	random      bool     // waitRetry: getrandom with an empty pool
	connecting  bool     // waitRetry: a blocking connect in progress
	sigwait     uint64   // waitRetry: rt_sigtimedwait's set; a signal in it retries the call
	// remaining is where a relative sleep interrupted by a signal writes
	// the time left (0: nowhere); remaining64 says it is a 64-bit timespec.
	remaining   uint32
	remaining64 bool
	futexAddr   uint32
	futexBitset uint32
}

type waitFD struct {
	fd     int32
	events PollEvents
}

// schedule picks the thread to run next, among the threads of every
// process: the current one while it has quantum left and can run, else the
// next runnable thread in round-robin order by tid (re-checking blocked
// threads against the Env first). It returns nil when every thread is
// blocked.
func (k *kernel) schedule() *thread {
	if k.current >= 0 && k.current < len(k.runq) {
		if t := k.runq[k.current]; t.runnable() && t.quantumLeft > 0 {
			return t
		}
	}
	k.recheckWaits()
	n := len(k.runq)
	for i := 1; i <= n; i++ {
		idx := (k.current + i) % n
		if t := k.runq[idx]; t.runnable() {
			k.current = idx
			t.quantumLeft = t.proc.cfg.Quantum
			return t
		}
	}
	return nil
}

// runnable reports whether t can run: it is not blocked in a call and its
// process is not stopped.
func (t *thread) runnable() bool { return t.wait == nil && !t.proc.stopped }

// recheckWaits wakes blocked threads whose condition now holds and fires
// the interval timers that are due. It asks the Env at most once for the
// time and once for readiness, for all threads together, and decides for
// each thread in tid order.
func (k *kernel) recheckWaits() {
	s := k.recheck
	if s == nil {
		s = new(recheckScratch)
	}
	k.recheck = nil // a call made while waking threads gets its own
	defer func() {
		clear(s.threads)
		k.recheck = s
	}()
	var needClock, waiting bool
	requests := s.requests[:0]
	threads := append(s.threads[:0], k.runq...) // waking may end processes
	// envIndex[first[i]+j] is the index in requests of thread i's j-th
	// descriptor, or -1.
	first, envIndex := s.first[:0], s.envIndex[:0]
	for _, t := range threads {
		first = append(first, len(envIndex))
		w := t.wait
		if w == nil {
			continue
		}
		waiting = true
		needClock = needClock || w.hasDeadline
		for _, f := range w.fds {
			idx := -1
			if h, ok := t.proc.files.envHandle(f.fd); ok {
				idx = len(requests)
				requests = append(requests, PollRequest{Handle: h, Events: f.events})
			}
			envIndex = append(envIndex, idx)
		}
	}
	s.threads, s.requests, s.first, s.envIndex = threads, requests, first, envIndex
	timers := k.armedTimers()
	if !waiting && len(timers) == 0 {
		return
	}
	var now int64
	if needClock || len(timers) > 0 {
		now = k.root.env.Clock(k.instructions).Monotonic
		for _, p := range timers {
			p.fireTimer(now)
		}
	}
	// Waking a thread may poll again (a retried call), so the answers
	// stay in this call's own scratch, not the one pollReadiness reuses.
	ready := growEvents(s.ready, len(requests))
	s.ready = ready
	if len(requests) > 0 {
		k.root.env.Poll(requests, ready)
	}
	for i, t := range threads {
		w := t.wait
		if w == nil || t.exited {
			continue
		}
		fired := w.random
		for j, f := range w.fds {
			var ev PollEvents
			if idx := envIndex[first[i]+j]; idx >= 0 {
				ev = ready[idx]
			} else {
				ev = t.proc.files.internalReadiness(f.fd)
			}
			fired = fired || ev&(f.events|PollErr|PollHup|PollNval) != 0
		}
		t.proc.wakeIf(t, fired, w.hasDeadline && now >= w.deadline)
	}
}

// recheckScratch is the working memory of recheckWaits.
type recheckScratch struct {
	threads         []*thread
	requests        []PollRequest
	ready           []PollEvents
	first, envIndex []int
}

// armedTimers lists the live processes whose interval timer is armed.
func (k *kernel) armedTimers() []*Process {
	var armed []*Process
	for _, p := range k.procs {
		if p.exit == nil && p.timer.armed {
			armed = append(armed, p)
		}
	}
	return armed
}

// wakeIf ends t's wait when its condition holds: a waitRetry call runs again,
// a sleep or futex wait returns.
func (p *Process) wakeIf(t *thread, ready, timedOut bool) {
	w := t.wait
	switch w.kind {
	case waitRetry:
		if ready || timedOut {
			p.retry(t)
		}
	case waitFutex:
		// FUTEX_WAKE completes the wait itself; only the timeout is left.
		if timedOut {
			p.removeFutexWaiter(t)
			p.finishWait(t, ETIMEDOUT.ret())
		}
	case waitSleep:
		if timedOut {
			p.finishWait(t, 0)
		}
	case waitSignal, waitChild, waitVfork:
	}
}

// retry runs a blocked system call again; it may block again.
func (p *Process) retry(t *thread) { p.syscall(t) }

// finishWait completes the blocked system call of t with result r28.
func (p *Process) finishWait(t *thread, r28 uint32) {
	t.wait = nil
	p.returnFromSyscall(t, r28)
}

// block parks t in its current system call.
func (p *Process) block(t *thread, w *waitState) sysResult {
	t.wait = w
	return sysResult{action: actBlocked}
}

// waitSet summarises what the blocked threads (and the interval timers)
// wait for.
func (k *kernel) waitSet() WaitSet {
	var ws WaitSet
	earliest := func(deadline int64) {
		if !ws.HasDeadline || deadline < ws.Deadline {
			ws.Deadline, ws.HasDeadline = deadline, true
		}
	}
	for _, p := range k.armedTimers() {
		earliest(p.timer.deadline)
	}
	// One array of the right size: a guest waits on every one of its
	// clients' descriptors, and growing the list by appends was a tenth
	// of what a replica allocated per request.
	n := 0
	for _, t := range k.runq {
		if t.wait != nil {
			n += len(t.wait.fds)
		}
	}
	if n > 0 {
		ws.Handles = make([]PollRequest, 0, n)
	}
	for _, t := range k.runq {
		w := t.wait
		if w == nil {
			continue
		}
		if w.hasDeadline {
			earliest(w.deadline)
		}
		ws.Random = ws.Random || w.random
		for _, f := range w.fds {
			if h, ok := t.proc.files.envHandle(f.fd); ok {
				ws.Handles = append(ws.Handles, PollRequest{Handle: h, Events: f.events})
			}
		}
	}
	return ws
}
