package linux

// Signal numbers of hppa Linux (arch/parisc/include/uapi/asm/signal.h).
// Several differ from other ports: SIGBUS is 10, SIGUSR1 16, SIGCHLD 18.
const (
	SIGHUP    = 1
	SIGINT    = 2
	SIGQUIT   = 3
	SIGILL    = 4
	SIGTRAP   = 5
	SIGABRT   = 6
	SIGSTKFLT = 7
	SIGFPE    = 8
	SIGKILL   = 9
	SIGBUS    = 10
	SIGSEGV   = 11
	SIGXCPU   = 12
	SIGPIPE   = 13
	SIGALRM   = 14
	SIGTERM   = 15
	SIGUSR1   = 16
	SIGUSR2   = 17
	SIGCHLD   = 18
	SIGPWR    = 19
	SIGVTALRM = 20
	SIGPROF   = 21
	SIGIO     = 22
	SIGWINCH  = 23
	SIGSTOP   = 24
	SIGTSTP   = 25
	SIGCONT   = 26
	SIGTTIN   = 27
	SIGTTOU   = 28
	SIGURG    = 29
	SIGXFSZ   = 30
	SIGSYS    = 31

	numSignals = 64
)

// sigaction flags.
const (
	saOnstack   = 0x01
	saResetHand = 0x04
	saSiginfo   = 0x10
	saNodefer   = 0x20
	saRestart   = 0x40

	sigDFL = 0
	sigIGN = 1

	ssOnstack = 1
	ssDisable = 2
)

// si_code values.
const (
	siUser     = 0
	siKernel   = 0x80
	siTkill    = -6
	siQueue    = -1
	segvMaperr = 1
	segvAccerr = 2
	busAdraln  = 1
	illIllopc  = 1
	illPrvopc  = 5
	illPrvreg  = 6
	trapBrkpt  = 1
	fpeIntovf  = 2
	// fpeCondtrap is parisc's own code for a conditional trap (the
	// millicode's division by zero).
	fpeCondtrap = 15

	// sigRTMin is the first real-time signal: those queue every instance,
	// the standard ones below it are pending at most once.
	sigRTMin = 32
)

// sigInfo is the content of a siginfo_t the kernel delivers.
type sigInfo struct {
	signo, code int32
	pid, uid    uint32 // sent by kill, tkill, tgkill, sigqueue
	value       uint32 // sigqueue's si_value
	addr        uint32 // the faulting address, when fault is set
	fault       bool   // synchronous: raised by an instruction
}

// queue adds info to q, unless it is a standard signal already pending
// there (standard signals do not queue; real-time ones do).
func queue(q []sigInfo, info sigInfo) []sigInfo {
	if info.signo < sigRTMin {
		for _, pending := range q {
			if pending.signo == info.signo {
				return q
			}
		}
	}
	return append(q, info)
}

// sigAction is one entry of the process's signal disposition table.
type sigAction struct {
	handler uint32 // SIG_DFL, SIG_IGN or a function pointer (plabel)
	flags   uint32
	mask    uint64
}

// processSignals is the signal state threads share.
type processSignals struct {
	actions [numSignals + 1]sigAction // indexed by signal number
	pending []sigInfo                 // process-directed, in arrival order
}

// threadSignals is one thread's signal state.
type threadSignals struct {
	mask    uint64
	pending []sigInfo // thread-directed, in arrival order
	// savedMask is the mask sigsuspend replaced; the next handler's frame
	// records it so that sigreturn restores it.
	savedMask    uint64
	hasSavedMask bool
	altSP        uint32
	altSize      uint32
	altFlags     uint32
}

func sigBit(sig int32) uint64 { return 1 << (sig - 1) }

// unblockable signals can be neither blocked nor caught.
const unblockable = 1<<(SIGKILL-1) | 1<<(SIGSTOP-1)

// defaultAction is what SIG_DFL does with a signal.
type defaultAction uint8

const (
	actTerminate defaultAction = iota
	actCore
	actIgnore
	actStop
)

func defaultActionOf(sig int32) defaultAction {
	switch sig {
	case SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGFPE, SIGBUS, SIGSEGV, SIGXCPU, SIGXFSZ, SIGSYS:
		return actCore
	case SIGCHLD, SIGURG, SIGWINCH, SIGCONT:
		return actIgnore
	case SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU:
		return actStop // stop.go
	}
	return actTerminate
}

// ignored reports whether sig would be discarded on delivery anyway.
func (p *Process) ignored(sig int32) bool {
	a := p.sig.actions[sig]
	if a.handler == sigIGN {
		return true
	}
	if a.handler == sigDFL {
		d := defaultActionOf(sig)
		return d == actIgnore || (d == actStop && !p.stopsOn(sig))
	}
	return false
}

// fatalNow reports whether sig, unblocked, would kill the process.
func (p *Process) fatalNow(sig int32) bool {
	if sig == SIGKILL {
		return true
	}
	if p.sig.actions[sig].handler != sigDFL {
		return false
	}
	d := defaultActionOf(sig)
	return d == actTerminate || d == actCore
}

// terminate ends the process because of sig.
func (p *Process) terminate(sig int32) {
	p.end(ExitStatus{Signal: int(sig), Core: defaultActionOf(sig) == actCore})
}

// sendToThread queues a thread-directed signal (tkill, tgkill, faults).
func (p *Process) sendToThread(t *thread, info sigInfo) {
	p.prepareSignal(info.signo)
	if p.ignored(info.signo) {
		return
	}
	unblocked := t.sig.mask&sigBit(info.signo) == 0
	if p.fatalNow(info.signo) && unblocked {
		p.terminate(info.signo)
		return
	}
	if isStopSignal(info.signo) && p.sig.actions[info.signo].handler == sigDFL && unblocked {
		p.stop(info.signo) // at once: its blocked calls wait on
		return
	}
	t.sig.pending = queue(t.sig.pending, info)
	switch {
	case t.wait != nil && t.wait.sigwait&sigBit(info.signo) != 0:
		p.retry(t) // rt_sigtimedwait takes it
	case t.sig.mask&sigBit(info.signo) == 0:
		p.interrupt(t, info.signo)
	}
}

// sendToProcess queues a process-directed signal (kill): the first thread
// that does not block it takes it; if all block it, it waits on the process.
func (p *Process) sendToProcess(info sigInfo) {
	if p.exit != nil {
		return
	}
	p.prepareSignal(info.signo)
	if p.ignored(info.signo) {
		return
	}
	for _, t := range p.threads {
		if t.sig.mask&sigBit(info.signo) == 0 || (t.wait != nil && t.wait.sigwait&sigBit(info.signo) != 0) {
			p.sendToThread(t, info)
			return
		}
	}
	p.sig.pending = queue(p.sig.pending, info)
}

// forceSignal delivers a synchronous fault signal to t: a blocked or
// ignored fault signal cannot be deferred, so it reverts to its default
// action, as the Linux kernel's force_sig does.
func (p *Process) forceSignal(t *thread, info sigInfo) {
	bit := sigBit(info.signo)
	if t.sig.mask&bit != 0 || p.sig.actions[info.signo].handler == sigIGN {
		t.sig.mask &^= bit
		p.sig.actions[info.signo].handler = sigDFL
	}
	p.sendToThread(t, info)
}

// interrupt ends t's blocking system call because sig arrived for it:
// EINTR (an interrupted sleep reports the time left, or EFAULT if it
// cannot), or a restart of the call after the handler when the call can
// be restarted and the handler was installed with SA_RESTART.
func (p *Process) interrupt(t *thread, sig int32) {
	w := t.wait
	if w == nil || w.kind == waitVfork {
		return
	}
	p.removeFutexWaiter(t)
	t.wait = nil
	if (w.kind == waitRetry || w.kind == waitChild) && !w.hasDeadline && p.sig.actions[sig].flags&saRestart != 0 {
		// Resume at the branch into the gateway so the call is made again;
		// its delay slot sets r20 again, as the kernel relies on.
		ble := (t.cpu.GR[31]&^3 - 8) | privUser
		t.cpu.IAOQFront, t.cpu.IAOQBack = ble, ble+4
		return
	}
	e := EINTR
	if w.kind == waitSleep && w.remaining != 0 {
		left := max(w.deadline-p.env.Clock(p.k.instructions).Monotonic, 0)
		if p.writeTimespec(w.remaining, timespecOf(left), w.remaining64) != 0 {
			e = EFAULT
		}
	}
	p.returnFromSyscall(t, e.ret())
}

// takePending removes and returns the first pending signal for t in set:
// the thread's own first, then the process's, each in arrival order.
func (p *Process) takePending(t *thread, set uint64) (sigInfo, bool) {
	for _, q := range []*[]sigInfo{&t.sig.pending, &p.sig.pending} {
		for i, info := range *q {
			if set&sigBit(info.signo) != 0 {
				*q = append((*q)[:i:i], (*q)[i+1:]...)
				return info, true
			}
		}
	}
	return sigInfo{}, false
}

// hasDeliverable reports whether a signal t does not block is pending.
func (p *Process) hasDeliverable(t *thread) bool {
	for _, q := range [][]sigInfo{t.sig.pending, p.sig.pending} {
		for _, info := range q {
			if t.sig.mask&sigBit(info.signo) == 0 {
				return true
			}
		}
	}
	return false
}

// deliverSignals acts on t's first deliverable signal before t runs again:
// it discards, terminates, or builds a handler frame.
func (p *Process) deliverSignals(t *thread) {
	for p.exit == nil {
		info, found := p.takePending(t, ^t.sig.mask)
		if !found {
			return
		}
		act := p.sig.actions[info.signo]
		switch {
		case act.handler == sigIGN:
			continue
		case act.handler == sigDFL:
			switch defaultActionOf(info.signo) {
			case actIgnore:
				continue
			case actStop:
				if p.stopsOn(info.signo) {
					p.stop(info.signo)
					return
				}
				continue
			}
			p.terminate(info.signo)
			return
		}
		p.setupFrame(t, info, act)
		return
	}
}
