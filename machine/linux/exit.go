package linux

// How a process ends: its threads stop, it lets go of its descriptors and
// memory, its children pass to the first process, and it stays a zombie
// until its parent reaps it (wait.go).

// si_code values of SIGCHLD and waitid.
const (
	cldExited = 1
	cldKilled = 2
)

// saNocldwait: the children of a process whose SIGCHLD action has it are
// reaped as they end.
const saNocldwait = 0x80

// end ends the process with status, unless it has ended already. What the
// guest wrote into shared file mappings reaches the files first, as when
// Linux tears down the address space. The first process ending ends the
// guest: every other process is killed with it.
func (p *Process) end(status ExitStatus) {
	if p.exit != nil {
		return
	}
	if !p.borrowedMem {
		p.writeBackAll()
	}
	p.exit = &status
	k := p.k
	if p == k.root {
		for _, q := range k.procs {
			if q != p && q.exit == nil {
				if !q.borrowedMem {
					q.writeBackAll()
				}
				q.exit = &ExitStatus{Signal: SIGKILL}
				q.stopThreads()
			}
		}
		return
	}
	p.stopThreads()
	if p.ownsMemory() {
		// A vfork child still running in this memory keeps it.
		for _, c := range k.procs {
			if c.borrowedMem && c.mem == p.mem {
				c.borrowedMem = false
			}
		}
	}
	p.release()
	p.releaseVforkParent()
	for _, c := range k.procs {
		if c.ppid == p.cfg.PID {
			c.ppid = k.root.cfg.PID
			if c.exit != nil {
				k.root.childChanged()
			}
		}
	}
	p.notifyParent()
}

// stopThreads takes every thread of the process off the run queue.
func (p *Process) stopThreads() {
	for len(p.threads) > 0 {
		t := p.threads[0]
		p.removeFutexWaiter(t)
		t.exited = true
		p.k.removeThread(t)
	}
}

// release lets go of what an ended process holds: its descriptors (a
// pipe's other end sees end of file), its shared mappings' files, its
// memory and its timer.
func (p *Process) release() {
	for fd := range p.files.fds {
		if last, e := p.files.remove(int32(fd)); e == 0 && last != nil {
			_ = p.releaseFile(last)
		}
	}
	p.files.fds = nil
	for _, m := range p.shared {
		if m.file != nil {
			p.unref(m.file)
		}
	}
	p.shared = nil
	p.futexes = nil
	p.timer = realTimer{}
	p.mem, p.borrowedMem = nil, false
}

// notifyParent tells the parent that p ended: a thread of the parent
// waiting for a child runs its wait again, then the parent gets p's exit
// signal. A parent that ignores SIGCHLD (or set SA_NOCLDWAIT) reaps p at
// once.
func (p *Process) notifyParent() {
	k := p.k
	parent := k.process(p.ppid)
	if parent == nil || parent.exit != nil {
		return
	}
	act := parent.sig.actions[SIGCHLD]
	if p.exitSignal == SIGCHLD && (act.handler == sigIGN || act.flags&saNocldwait != 0) {
		k.removeProcess(p)
	}
	parent.childChanged()
	if p.exitSignal != 0 {
		code, status := childCode(*p.exit)
		parent.sendToProcess(sigInfo{signo: p.exitSignal, code: code, pid: p.cfg.PID, uid: p.cfg.UID, value: status})
	}
}

// childChanged runs again the wait of every thread of p waiting for a
// child: one has ended, stopped or continued.
func (p *Process) childChanged() {
	for _, t := range append([]*thread(nil), p.threads...) {
		if t.wait != nil && t.wait.kind == waitChild {
			p.retry(t)
		}
	}
}

// childCode is the si_code and si_status that describe an ended process.
// A process killed by a signal whose default action dumps core is
// CLD_KILLED, not CLD_DUMPED: no core file is ever written.
func childCode(e ExitStatus) (code int32, status uint32) {
	if e.Signal == 0 {
		return cldExited, uint32(e.Code)
	}
	return cldKilled, uint32(e.Signal)
}
