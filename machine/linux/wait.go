package linux

// wait4, waitpid and waitid: a parent collects its ended children, and
// hears of stopped and continued ones (stop.go). A child that ended stays
// a zombie, its pid taken and counted against the process limit, until
// one of these reaps it.

const (
	wNohang    = 0x1
	wUntraced  = 0x2 // wait4; WSTOPPED for waitid
	wExited    = 0x4
	wContinued = 0x8
	wNowait    = 0x01000000
	wNothread  = 0x20000000
	wAll       = 0x40000000
	wClone     = 0x80000000

	pAll  = 0
	pPID  = 1
	pPGID = 2
)

// waitFor is what a wait reports: ended children (always, for wait4),
// stopped ones (WUNTRACED), continued ones (WCONTINUED).
type waitFor struct{ exited, stopped, continued bool }

// childEvent is what a wait reports of one child: the si_code and
// si_status of waitid, and wait4's status word.
type childEvent struct {
	code   int32
	status uint32
	word   uint32
}

// event is what c has to report to a wait for want, if anything; ended is
// set when c is a zombie to reap.
func (c *Process) event(want waitFor) (ev childEvent, ended, found bool) {
	switch {
	case c.exit != nil && want.exited:
		code, status := childCode(*c.exit)
		return childEvent{code, status, waitStatus(*c.exit)}, true, true
	case c.exit != nil:
	case c.report == reportStopped && want.stopped:
		return childEvent{cldStopped, uint32(c.stopSignal), uint32(c.stopSignal)<<8 | 0x7f}, false, true
	case c.report == reportContinued && want.continued:
		return childEvent{cldContinued, SIGCONT, 0xffff}, false, true
	}
	return childEvent{}, false, false
}

// waitChild finds a child of p that matches and has something to report,
// reports it, and returns its pid; a zombie is reaped and a stop or
// continue is consumed, unless noReap. It returns 0 when no child has
// anything to report and nohang is set, ECHILD when no child matches at
// all. Otherwise t waits until a child changes and the call runs again.
func (p *Process) waitChild(t *thread, matches func(*Process) bool, want waitFor, nohang, noReap bool, report func(*Process, childEvent) Errno) sysResult {
	found := false
	for _, c := range p.k.procs {
		if c.ppid != p.cfg.PID || !matches(c) {
			continue
		}
		found = true
		ev, ended, has := c.event(want)
		if !has {
			continue
		}
		if e := report(c, ev); e != 0 {
			return fail(e)
		}
		switch {
		case noReap:
		case ended:
			p.childCPUTime += c.cpuTime + c.childCPUTime
			p.k.removeProcess(c)
		default:
			c.report = reportNothing
		}
		return ok(c.cfg.PID)
	}
	switch {
	case !found:
		return fail(ECHILD)
	case nohang:
		return ok(0)
	}
	return p.block(t, &waitState{kind: waitChild})
}

// rusage is what wait reports of c's resource usage: its user time and
// that of the children it reaped.
func (c *Process) rusage() []byte { return rusage(c.cpuTime + c.childCPUTime) }

// childOf says which children a wait4 pid argument selects: one pid, any
// child (-1), those of p's process group (0) or of group -pid.
func (p *Process) childOf(pid int32) func(*Process) bool {
	switch {
	case pid > 0:
		return func(c *Process) bool { return c.cfg.PID == uint32(pid) }
	case pid == -1:
		return func(*Process) bool { return true }
	case pid == 0:
		return func(c *Process) bool { return c.pgid == p.pgid }
	}
	return func(c *Process) bool { return c.pgid == uint32(-pid) }
}

// waitStatus is the status word wait4 stores for an ended process. It
// never has the core-dump bit: no core file is ever written.
func waitStatus(e ExitStatus) uint32 {
	if e.Signal == 0 {
		return uint32(e.Code&0xff) << 8
	}
	return uint32(e.Signal)
}

// wait4(pid, status, options, rusage): the resource usage is the child's
// user time and that of the children it reaped.
func sysWait4(p *Process, t *thread, a sysArgs) sysResult {
	pid, statusAddr, options, rusage := int32(a[0]), a[1], a[2], a[3]
	if options&^(wNohang|wUntraced|wContinued|wNothread|wAll|wClone) != 0 || pid == -0x80000000 {
		return fail(EINVAL)
	}
	want := waitFor{exited: true, stopped: options&wUntraced != 0, continued: options&wContinued != 0}
	return p.waitChild(t, p.childOf(pid), want, options&wNohang != 0, false, func(c *Process, ev childEvent) Errno {
		if statusAddr != 0 {
			if e := p.writeU32(statusAddr, ev.word); e != 0 {
				return e
			}
		}
		if rusage != 0 {
			return p.writeUser(rusage, c.rusage())
		}
		return 0
	})
}

// waitpid(pid, status, options)
func sysWaitpid(p *Process, t *thread, a sysArgs) sysResult {
	return sysWait4(p, t, sysArgs{a[0], a[1], a[2], 0})
}

// waitid(idtype, id, infop, options, rusage): reports through a siginfo.
// With WNOHANG and no child ended, the siginfo is zeroed and it returns 0.
func sysWaitid(p *Process, t *thread, a sysArgs) sysResult {
	idtype, id, infop, options, rusage := a[0], a[1], a[2], a[3], a[4]
	if options&^(wNohang|wUntraced|wExited|wContinued|wNowait|wNothread|wAll|wClone) != 0 ||
		options&(wUntraced|wExited|wContinued) == 0 {
		return fail(EINVAL)
	}
	var matches func(*Process) bool
	switch idtype {
	case pAll:
		matches = func(*Process) bool { return true }
	case pPID:
		matches = func(c *Process) bool { return c.cfg.PID == id }
	case pPGID:
		if id == 0 {
			id = p.pgid
		}
		matches = func(c *Process) bool { return c.pgid == id }
	default:
		return fail(EINVAL)
	}
	want := waitFor{exited: options&wExited != 0, stopped: options&wUntraced != 0, continued: options&wContinued != 0}
	writeInfo := func(code int32, pid, uid, status uint32) Errno {
		if infop == 0 {
			return 0
		}
		info := make(be, 24)
		if pid != 0 {
			info.u32(0, SIGCHLD)
		}
		info.u32(8, uint32(code))
		info.u32(12, pid)
		info.u32(16, uid)
		info.u32(20, status)
		return p.writeUser(infop, info)
	}
	r := p.waitChild(t, matches, want, options&wNohang != 0, options&wNowait != 0, func(c *Process, ev childEvent) Errno {
		if e := writeInfo(ev.code, c.cfg.PID, c.cfg.UID, ev.status); e != 0 {
			return e
		}
		if rusage != 0 {
			return p.writeUser(rusage, c.rusage())
		}
		return 0
	})
	switch {
	case r.action != actReturn || int32(r.ret) < 0:
		return r
	case r.ret == 0: // WNOHANG, and no child has ended
		return result(0, writeInfo(0, 0, 0, 0))
	}
	return ok(0)
}
