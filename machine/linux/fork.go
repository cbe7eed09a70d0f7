package linux

// fork, vfork and clone without CLONE_THREAD: a new process that starts as
// a copy of its parent. The copy of the memory is copy-on-write
// (machine.Memory.Clone) but for MAP_SHARED mappings, whose pages stay one
// (machine.Memory.ShareWith); descriptors share their open file
// descriptions, and so their offsets, with the parent's.

import "slices"

// cloneRequest is what clone was asked for, in the order hppa passes it.
type cloneRequest struct {
	flags, stack, parentTID, tls, childTID uint32
}

// fork()
func sysFork(p *Process, t *thread, _ sysArgs) sysResult {
	return p.fork(t, cloneRequest{flags: SIGCHLD})
}

// vfork(): the child runs in the parent's memory, the parent waits until
// the child execs or ends.
func sysVfork(p *Process, t *thread, _ sysArgs) sysResult {
	return p.fork(t, cloneRequest{flags: cloneVM | cloneVfork | SIGCHLD})
}

// fork starts a child process of p from thread t, as clone without
// CLONE_THREAD does; with CLONE_PARENT, a sibling of p. CLONE_VM makes the
// child borrow p's memory until it execs or ends (vfork and posix_spawn);
// CLONE_VFORK suspends t until then. CLONE_FILES, CLONE_FS and
// CLONE_SIGHAND without CLONE_THREAD give the child copies rather than
// shared tables. Nothing is started when the call fails.
func (p *Process) fork(t *thread, req cloneRequest) sysResult {
	k := p.k
	switch {
	case req.flags&cloneSighand != 0 && req.flags&cloneVM == 0:
		return fail(EINVAL)
	case req.flags&cloneParent != 0 && p == k.root:
		return fail(EINVAL) // the first process's parent is outside the guest
	case uint32(len(k.procs)) >= p.cfg.MaxProcesses:
		return fail(EAGAIN)
	}
	child := &Process{
		k: k, cfg: p.cfg, env: p.env, log: p.log,
		ppid: p.cfg.PID, pgid: p.pgid, sid: p.sid, exitSignal: int32(req.flags & cloneSignalMask),
		cwd: p.cwd, brkStart: p.brkStart, brk: p.brk, umask: p.umask, undumpable: p.undumpable, nice: p.nice,
		warned: map[uint32]bool{},
	}
	child.cfg.PID = k.nextTID // and its thread's id: addThread takes the next
	if req.flags&cloneParent != 0 {
		child.ppid = p.ppid
	}
	child.sig.actions = p.sig.actions
	if req.flags&cloneVM != 0 {
		child.mem, child.borrowedMem = p.mem, true
	} else {
		child.mem = p.mem.Clone()
		if e := p.shareMappings(child); e != 0 {
			return fail(e)
		}
	}
	if req.flags&cloneParentSettid != 0 {
		if e := p.writeU32(req.parentTID, child.cfg.PID); e != 0 {
			return fail(e)
		}
	}
	if req.flags&cloneChildSettid != 0 {
		if e := child.writeU32(req.childTID, child.cfg.PID); e != 0 {
			return fail(e)
		}
	}
	child.files = p.files.fork()
	cpu := *t.cpu
	cpu.Instructions = 0
	cpu.Mem = child.mem
	if req.stack != 0 {
		cpu.GR[30] = req.stack
	}
	if req.flags&cloneSettls != 0 {
		cpu.CR[controlRegThread] = req.tls
	}
	k.procs = append(k.procs, child)
	ct := k.addThread(child, &cpu)
	ct.sig.mask = t.sig.mask
	ct.sig.altSP, ct.sig.altSize, ct.sig.altFlags = t.sig.altSP, t.sig.altSize, t.sig.altFlags
	ct.comm, ct.noNewPrivs = t.comm, t.noNewPrivs
	if req.flags&cloneChildCleartid != 0 {
		ct.clearTID = req.childTID
	}
	child.returnFromSyscall(ct, 0)
	if req.flags&cloneVfork != 0 {
		child.vforkParent = t.tid
		return p.block(t, &waitState{kind: waitVfork})
	}
	return ok(child.cfg.PID)
}

// shareMappings makes the pages of p's MAP_SHARED mappings one between p
// and child, its fresh copy, and gives child the mappings' records: they
// are the child's shared mappings too.
func (p *Process) shareMappings(child *Process) Errno {
	for _, m := range p.shared {
		if err := p.mem.ShareWith(child.mem, m.addr, m.length); err != nil {
			p.log.Error("fork: a shared mapping is not mapped", "addr", hex32(m.addr), "err", err)
			return ENOMEM
		}
	}
	for _, m := range p.shared {
		c := *m
		c.synced = slices.Clone(m.synced)
		if c.file != nil {
			c.file.refs++
		}
		child.shared = append(child.shared, &c)
	}
	return 0
}

// releaseVforkParent lets the thread suspended in vfork go on, with the
// child's pid, once the child has exec'd or ended.
func (p *Process) releaseVforkParent() {
	if p.vforkParent == 0 {
		return
	}
	if t := p.k.thread(p.vforkParent); t != nil && t.wait != nil && t.wait.kind == waitVfork {
		t.proc.finishWait(t, p.cfg.PID)
	}
	p.vforkParent = 0
}

// fork copies the descriptor table for a child: the same open file
// descriptions, each with one more reference.
func (ft *fileTable) fork() fileTable {
	c := fileTable{fds: make([]fdEntry, len(ft.fds)), nextID: ft.nextID}
	copy(c.fds, ft.fds)
	for _, e := range c.fds {
		if e.file != nil {
			e.file.refs++
		}
	}
	return c
}
