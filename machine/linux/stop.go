package linux

// Job control: a stop signal (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU) with
// its default action stops a process: none of its threads runs until
// SIGCONT. Its parent learns of both through SIGCHLD (unless it set
// SA_NOCLDSTOP) and wait (WUNTRACED, WCONTINUED). The first process has
// no parent in the guest to continue it, so stop signals are discarded
// there; and as on Linux, the terminal's stop signals (all but SIGSTOP)
// are discarded for a process of an orphaned process group, which no
// job-control shell would continue.

// What a child has to report to a wait for stops and continues.
const (
	reportNothing   uint8 = iota
	reportStopped         // stopped, not yet waited for with WUNTRACED
	reportContinued       // continued, not yet waited for with WCONTINUED
)

// si_code values of SIGCHLD and waitid for stops and continues, and the
// SIGCHLD flag that asks for neither.
const (
	cldStopped   = 5
	cldContinued = 6
	saNocldstop  = 0x8
)

func isStopSignal(sig int32) bool { return defaultActionOf(sig) == actStop }

// stopsOn reports whether p stops on stop signal sig (rather than
// discarding it).
func (p *Process) stopsOn(sig int32) bool {
	return p != p.k.root && (sig == SIGSTOP || !p.k.orphanedGroup(p.pgid))
}

// orphanedGroup reports whether no live member of process group pgid has a
// parent in another group of the same session: the parent of each is in
// the group, or outside the session (outside the guest, for the first
// process).
func (k *kernel) orphanedGroup(pgid uint32) bool {
	for _, q := range k.procs {
		if q.exit != nil || q.pgid != pgid {
			continue
		}
		if parent := k.process(q.ppid); parent != nil && parent.pgid != pgid && parent.sid == q.sid {
			return false
		}
	}
	return true
}

// prepareSignal does what generating sig does at once, whatever its
// disposition: SIGCONT continues a stopped process and drops pending stop
// signals; a stop signal drops a pending SIGCONT.
func (p *Process) prepareSignal(sig int32) {
	switch {
	case sig == SIGCONT:
		p.dropPending(isStopSignal)
		p.cont()
	case isStopSignal(sig):
		p.dropPending(func(s int32) bool { return s == SIGCONT })
	}
}

// dropPending removes the pending signals drop chooses, from the process
// and from each of its threads.
func (p *Process) dropPending(drop func(int32) bool) {
	keep := func(q []sigInfo) []sigInfo {
		out := q[:0]
		for _, info := range q {
			if !drop(info.signo) {
				out = append(out, info)
			}
		}
		return out
	}
	p.sig.pending = keep(p.sig.pending)
	for _, t := range p.threads {
		t.sig.pending = keep(t.sig.pending)
	}
}

// stop stops p because of sig, and tells its parent.
func (p *Process) stop(sig int32) {
	if p.stopped {
		return
	}
	p.stopped, p.stopSignal, p.report = true, sig, reportStopped
	p.notifyStop(cldStopped, uint32(sig))
}

// cont continues a stopped p, and tells its parent.
func (p *Process) cont() {
	if !p.stopped {
		return
	}
	p.stopped, p.report = false, reportContinued
	p.notifyStop(cldContinued, SIGCONT)
}

// notifyStop wakes the parent's waits and sends it SIGCHLD unless it asked
// not to hear of stops.
func (p *Process) notifyStop(code int32, status uint32) {
	parent := p.k.process(p.ppid)
	if parent == nil || parent.exit != nil {
		return
	}
	parent.childChanged()
	if parent.sig.actions[SIGCHLD].flags&saNocldstop == 0 {
		parent.sendToProcess(sigInfo{signo: SIGCHLD, code: code, pid: p.cfg.PID, uid: p.cfg.UID, value: status})
	}
}
