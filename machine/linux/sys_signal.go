package linux

// Signal system calls. A kernel sigset_t on hppa is two 32-bit words, the
// first holding signals 1-32.

const sigsetBytes = 8

func (p *Process) readSigset(addr uint32) (uint64, Errno) {
	b, e := p.readUser(addr, sigsetBytes)
	if e != 0 {
		return 0, e
	}
	return uint64(getU32(b, 4))<<32 | uint64(getU32(b, 0)), 0
}

func (p *Process) writeSigset(addr uint32, set uint64) Errno {
	b := make(be, sigsetBytes)
	b.u32(0, uint32(set))
	b.u32(4, uint32(set>>32))
	return p.writeUser(addr, b)
}

func validSignal(sig uint32) bool { return sig >= 1 && sig <= numSignals }

// rt_sigaction(sig, act, oldact, sigsetsize); struct sigaction is
// {handler, flags, mask} with no restorer on hppa.
func sysRtSigaction(p *Process, t *thread, a sysArgs) sysResult {
	sig, actAddr, oldAddr := a[0], a[1], a[2]
	if a[3] != sigsetBytes || !validSignal(sig) {
		return fail(EINVAL)
	}
	old := p.sig.actions[sig]
	if actAddr != 0 {
		if sig == SIGKILL || sig == SIGSTOP {
			return fail(EINVAL)
		}
		b, e := p.readUser(actAddr, 16)
		if e != 0 {
			return fail(e)
		}
		p.sig.actions[sig] = sigAction{
			handler: getU32(b, 0),
			flags:   getU32(b, 4),
			mask:    (uint64(getU32(b, 12))<<32 | uint64(getU32(b, 8))) &^ unblockable,
		}
		if p.ignored(int32(sig)) {
			p.discardPending(int32(sig))
		}
	}
	if oldAddr != 0 {
		b := make(be, 16)
		b.u32(0, old.handler)
		b.u32(4, old.flags)
		b.u32(8, uint32(old.mask))
		b.u32(12, uint32(old.mask>>32))
		if e := p.writeUser(oldAddr, b); e != 0 {
			return fail(e)
		}
	}
	return ok(0)
}

// discardPending drops queued instances of a signal that became ignored.
func (p *Process) discardPending(sig int32) {
	drop := func(q []sigInfo) []sigInfo {
		out := q[:0]
		for _, info := range q {
			if info.signo != sig {
				out = append(out, info)
			}
		}
		return out
	}
	p.sig.pending = drop(p.sig.pending)
	for _, t := range p.threads {
		t.sig.pending = drop(t.sig.pending)
	}
}

const (
	sigBlock   = 0
	sigUnblock = 1
	sigSetmask = 2
)

// rt_sigprocmask(how, set, oldset, sigsetsize)
func sysRtSigprocmask(p *Process, t *thread, a sysArgs) sysResult {
	how, setAddr, oldAddr := a[0], a[1], a[2]
	if a[3] != sigsetBytes {
		return fail(EINVAL)
	}
	old := t.sig.mask
	if setAddr != 0 {
		set, e := p.readSigset(setAddr)
		if e != 0 {
			return fail(e)
		}
		switch how {
		case sigBlock:
			t.sig.mask |= set
		case sigUnblock:
			t.sig.mask &^= set
		case sigSetmask:
			t.sig.mask = set
		default:
			return fail(EINVAL)
		}
		t.sig.mask &^= unblockable
	}
	if oldAddr != 0 {
		if e := p.writeSigset(oldAddr, old); e != 0 {
			return fail(e)
		}
	}
	return ok(0)
}

// rt_sigpending(set, sigsetsize)
func sysRtSigpending(p *Process, t *thread, a sysArgs) sysResult {
	var set uint64
	for _, q := range [][]sigInfo{t.sig.pending, p.sig.pending} {
		for _, info := range q {
			set |= sigBit(info.signo)
		}
	}
	return result(0, p.writeSigset(a[0], set&t.sig.mask))
}

// rt_sigsuspend(mask, sigsetsize): wait for a signal with a temporary mask.
func sysRtSigsuspend(p *Process, t *thread, a sysArgs) sysResult {
	if a[1] != sigsetBytes {
		return fail(EINVAL)
	}
	set, e := p.readSigset(a[0])
	if e != 0 {
		return fail(e)
	}
	t.sig.savedMask, t.sig.hasSavedMask = t.sig.mask, true
	t.sig.mask = set &^ unblockable
	if p.hasDeliverable(t) {
		return fail(EINTR)
	}
	return p.block(t, &waitState{kind: waitSignal})
}

func sysPause(p *Process, t *thread, _ sysArgs) sysResult {
	return p.block(t, &waitState{kind: waitSignal})
}

// sigaltstack(ss, old_ss); stack_t is {ss_sp, ss_flags, ss_size}.
func sysSigaltstack(p *Process, t *thread, a sysArgs) sysResult {
	newAddr, oldAddr := a[0], a[1]
	sp := t.cpu.GR[30]
	if oldAddr != 0 {
		b := make(be, 12)
		b.u32(0, t.sig.altSP)
		b.u32(4, t.altStackFlags(sp))
		b.u32(8, t.sig.altSize)
		if e := p.writeUser(oldAddr, b); e != 0 {
			return fail(e)
		}
	}
	if newAddr != 0 {
		b, e := p.readUser(newAddr, 12)
		if e != 0 {
			return fail(e)
		}
		if t.onAltStack(sp) {
			return fail(EPERM)
		}
		if e := p.setAltStack(t, getU32(b, 0), getU32(b, 4), getU32(b, 8)); e != 0 {
			return fail(e)
		}
	}
	return ok(0)
}

const minSigStackSize = 2048

func (p *Process) setAltStack(t *thread, sp, flags, size uint32) Errno {
	switch {
	case flags&ssDisable != 0:
		t.sig.altSP, t.sig.altSize, t.sig.altFlags = 0, 0, ssDisable
	case flags&^ssOnstack != 0:
		return EINVAL
	case size < minSigStackSize:
		return ENOMEM
	default:
		t.sig.altSP, t.sig.altSize, t.sig.altFlags = sp, size, 0
	}
	return 0
}

// kill(pid, sig): to one process (pid > 0), the caller's process group
// (0), every process but the first and the caller (-1), or group -pid.
// Signal 0 only checks that the target exists.
func sysKill(p *Process, t *thread, a sysArgs) sysResult {
	pid, sig := int32(a[0]), a[1]
	if sig != 0 && !validSignal(sig) {
		return fail(EINVAL)
	}
	var targets []*Process
	switch {
	case pid > 0:
		if q := p.k.byID(uint32(pid)); q != nil {
			targets = append(targets, q)
		}
	case pid == -1:
		for _, q := range p.k.procs {
			if q != p && q != p.k.root {
				targets = append(targets, q)
			}
		}
	default:
		pgid := uint32(-pid)
		if pid == 0 {
			pgid = p.pgid
		}
		for _, q := range p.k.procs {
			if q.pgid == pgid {
				targets = append(targets, q)
			}
		}
	}
	if len(targets) == 0 {
		return fail(ESRCH)
	}
	if sig != 0 {
		for _, q := range targets {
			q.sendToProcess(sigInfo{signo: int32(sig), code: siUser, pid: p.cfg.PID, uid: p.cfg.UID})
		}
	}
	return ok(0)
}

func (p *Process) threadByTID(tid uint32) *thread {
	for _, t := range p.threads {
		if t.tid == tid {
			return t
		}
	}
	return nil
}

// sendTkill sends sig to thread tid, which must belong to process tgid
// unless tgid is 0 (tkill).
func (p *Process) sendTkill(tgid, tid, sig uint32) sysResult {
	if sig != 0 && !validSignal(sig) {
		return fail(EINVAL)
	}
	target := p.k.thread(tid)
	if target == nil || (tgid != 0 && target.proc.cfg.PID != tgid) {
		return fail(ESRCH)
	}
	if sig != 0 {
		target.proc.sendToThread(target, sigInfo{signo: int32(sig), code: siTkill, pid: p.cfg.PID, uid: p.cfg.UID})
	}
	return ok(0)
}

// tkill(tid, sig)
func sysTkill(p *Process, t *thread, a sysArgs) sysResult { return p.sendTkill(0, a[0], a[1]) }

// tgkill(tgid, tid, sig)
func sysTgkill(p *Process, t *thread, a sysArgs) sysResult {
	return p.sendTkill(a[0], a[1], a[2])
}

// rt_sigtimedwait(set, info, timeout, sigsetsize): takes a pending signal
// of set (normally blocked) without running its handler, waiting for one
// until the timeout.
func (p *Process) sigtimedwait(t *thread, a sysArgs, time64 bool) sysResult {
	if a[3] != sigsetBytes {
		return fail(EINVAL)
	}
	set, e := p.readSigset(a[0])
	if e != 0 {
		return fail(e)
	}
	set &^= unblockable
	if info, found := p.takePending(t, set); found {
		if a[1] != 0 {
			if e := p.writeUser(a[1], encodeSiginfo(info)); e != 0 {
				return fail(e)
			}
		}
		return ok(uint32(info.signo))
	}
	w := &waitState{kind: waitRetry, sigwait: set}
	if prev := t.wait; prev != nil {
		w.deadline, w.hasDeadline = prev.deadline, prev.hasDeadline
		if w.hasDeadline && p.env.Clock(p.k.instructions).Monotonic >= w.deadline {
			return fail(EAGAIN)
		}
	} else if a[2] != 0 {
		ts, e := p.readTimespec(a[2], time64)
		if e != 0 {
			return fail(e)
		}
		if !ts.valid() {
			return fail(EINVAL)
		}
		w.deadline, w.hasDeadline = p.env.Clock(p.k.instructions).Monotonic+ts.nanos(), true
	}
	return p.block(t, w)
}

func sysRtSigtimedwait(p *Process, t *thread, a sysArgs) sysResult {
	return p.sigtimedwait(t, a, false)
}

func sysRtSigtimedwait64(p *Process, t *thread, a sysArgs) sysResult {
	return p.sigtimedwait(t, a, true)
}

// sigqueueinfo sends the siginfo at addr (as sigqueue builds it) to
// target of q, or to the process q when target is nil. Only negative
// si_codes may come from user space, as on Linux.
func (p *Process) sigqueueinfo(q *Process, target *thread, sig, addr uint32) sysResult {
	if !validSignal(sig) {
		return fail(EINVAL)
	}
	b, e := p.readUser(addr, siginfoBytes)
	if e != 0 {
		return fail(e)
	}
	info := sigInfo{signo: int32(sig), code: int32(getU32(b, 8)), pid: getU32(b, 12), uid: getU32(b, 16), value: getU32(b, 20)}
	if info.code >= 0 {
		return fail(EPERM)
	}
	if target != nil {
		q.sendToThread(target, info)
	} else {
		q.sendToProcess(info)
	}
	return ok(0)
}

// rt_sigqueueinfo(tgid, sig, info)
func sysRtSigqueueinfo(p *Process, t *thread, a sysArgs) sysResult {
	q := p.k.process(a[0])
	if q == nil {
		return fail(ESRCH)
	}
	return p.sigqueueinfo(q, nil, a[1], a[2])
}

// rt_tgsigqueueinfo(tgid, tid, sig, info)
func sysRtTgsigqueueinfo(p *Process, t *thread, a sysArgs) sysResult {
	target := p.k.thread(a[1])
	if target == nil || target.proc.cfg.PID != a[0] {
		return fail(ESRCH)
	}
	return p.sigqueueinfo(target.proc, target, a[2], a[3])
}
