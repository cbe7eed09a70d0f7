package linux

// Process groups and sessions. The first process leads its own session
// and process group, as a program does once it has called setsid() (or
// when a supervisor started it so): both ids are its pid. Children inherit
// both; setpgid and setsid move processes between them as on Linux.

// byID returns the process that id names: a process's pid or the id of one
// of its threads (Linux looks threads up by id as well), zombies included.
func (k *kernel) byID(id uint32) *Process {
	if p := k.process(id); p != nil {
		return p
	}
	if t := k.thread(id); t != nil {
		return t.proc
	}
	return nil
}

// getpgrp()
func sysGetpgrp(p *Process, t *thread, _ sysArgs) sysResult { return ok(p.pgid) }

// target is the process a pid argument names: the caller for 0.
func (p *Process) target(pid uint32) (*Process, Errno) {
	if pid == 0 {
		return p, 0
	}
	if q := p.k.byID(pid); q != nil {
		return q, 0
	}
	return nil, ESRCH
}

// getpgid(pid)
func sysGetpgid(p *Process, t *thread, a sysArgs) sysResult {
	q, e := p.target(a[0])
	if e != 0 {
		return fail(e)
	}
	return ok(q.pgid)
}

// getsid(pid)
func sysGetsid(p *Process, t *thread, a sysArgs) sysResult {
	q, e := p.target(a[0])
	if e != 0 {
		return fail(e)
	}
	return ok(q.sid)
}

// setpgid(pid, pgid): the caller or one of its children joins process
// group pgid of its session, or starts group pid. A session leader
// cannot move.
func sysSetpgid(p *Process, t *thread, a sysArgs) sysResult {
	pid, pgid := a[0], a[1]
	if pid == 0 {
		pid = p.cfg.PID
	}
	if pgid == 0 {
		pgid = pid
	}
	if int32(pgid) < 0 {
		return fail(EINVAL)
	}
	q := p.k.process(pid)
	switch {
	case q == nil && p.k.byID(pid) != nil:
		return fail(EINVAL) // a thread other than a leader
	case q == nil || (q != p && q.ppid != p.cfg.PID) || q.exit != nil:
		return fail(ESRCH)
	case q.sid != p.sid:
		return fail(EPERM)
	case q.sid == q.cfg.PID:
		return fail(EPERM) // a session leader
	case pgid != q.cfg.PID && !p.k.groupInSession(pgid, p.sid):
		return fail(EPERM)
	}
	q.pgid = pgid
	return ok(0)
}

// groupInSession reports whether a live process of session sid is in
// process group pgid.
func (k *kernel) groupInSession(pgid, sid uint32) bool {
	for _, q := range k.procs {
		if q.exit == nil && q.pgid == pgid && q.sid == sid {
			return true
		}
	}
	return false
}

// setsid(): the caller leads a new session and process group, unless a
// process group already has its id (it leads one itself).
func sysSetsid(p *Process, t *thread, _ sysArgs) sysResult {
	for _, q := range p.k.procs {
		if q.exit == nil && q.pgid == p.cfg.PID {
			return fail(EPERM)
		}
	}
	p.sid, p.pgid = p.cfg.PID, p.cfg.PID
	return ok(p.cfg.PID)
}
