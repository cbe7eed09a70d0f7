package linux

// wait4, waitpid and waitid: a parent collects its ended children. A
// child that ended stays a zombie, its pid taken and counted against the
// process limit, until one of these reaps it. Stopped and continued
// children are never reported: stop signals are discarded (signal.go).

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

// waitChild finds a child of p that matches and has ended, reports it and
// reaps it (unless noReap), and returns its pid; 0 when none has ended and
// nohang is set; ECHILD when no child matches at all. Otherwise t waits
// until a child ends and the call runs again.
func (p *Process) waitChild(t *thread, matches func(*Process) bool, nohang, noReap bool, report func(*Process) Errno) sysResult {
	found := false
	for _, c := range p.k.procs {
		if c.ppid != p.cfg.PID || !matches(c) {
			continue
		}
		found = true
		if c.exit == nil {
			continue
		}
		if e := report(c); e != 0 {
			return fail(e)
		}
		if !noReap {
			p.k.removeProcess(c)
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

// wait4(pid, status, options, rusage): the resource usage is reported as
// zeros.
func sysWait4(p *Process, t *thread, a sysArgs) sysResult {
	pid, statusAddr, options, rusage := int32(a[0]), a[1], a[2], a[3]
	if options&^(wNohang|wUntraced|wContinued|wNothread|wAll|wClone) != 0 || pid == -0x80000000 {
		return fail(EINVAL)
	}
	return p.waitChild(t, p.childOf(pid), options&wNohang != 0, false, func(c *Process) Errno {
		if statusAddr != 0 {
			if e := p.writeU32(statusAddr, waitStatus(*c.exit)); e != 0 {
				return e
			}
		}
		if rusage != 0 {
			return p.writeUser(rusage, make([]byte, rusageBytes))
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
	if options&wExited == 0 {
		matches = func(*Process) bool { return false } // only stops and continues, which never happen
	}
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
	r := p.waitChild(t, matches, options&wNohang != 0, options&wNowait != 0, func(c *Process) Errno {
		code, status := childCode(*c.exit)
		if e := writeInfo(code, c.cfg.PID, c.cfg.UID, status); e != 0 {
			return e
		}
		if rusage != 0 {
			return p.writeUser(rusage, make([]byte, rusageBytes))
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
