package linux

// Threads: clone, exit, and the thread-id bookkeeping glibc's pthreads use.

const (
	cloneSignalMask    = 0x000000ff // the signal the parent gets when the child ends
	cloneVM            = 0x00000100
	cloneFS            = 0x00000200
	cloneFiles         = 0x00000400
	cloneSighand       = 0x00000800
	cloneVfork         = 0x00004000
	cloneParent        = 0x00008000
	cloneThread        = 0x00010000
	cloneSettls        = 0x00080000
	cloneParentSettid  = 0x00100000
	cloneChildCleartid = 0x00200000
	cloneChildSettid   = 0x01000000
)

// clone(flags, child_stack, parent_tid, tls, child_tid): hppa passes tls
// before child_tid (CLONE_BACKWARDS). Without CLONE_THREAD it starts a
// process (fork.go).
func sysClone(p *Process, t *thread, a sysArgs) sysResult {
	flags, stack, ptid, tls, ctid := a[0], a[1], a[2], a[3], a[4]
	if flags&cloneThread == 0 {
		return p.fork(t, cloneRequest{flags: flags, stack: stack, parentTID: ptid, tls: tls, childTID: ctid})
	}
	const need = cloneVM | cloneSighand | cloneThread
	if flags&need != need {
		return fail(EINVAL) // a thread shares its handlers, which needs shared memory
	}
	cpu := *t.cpu
	cpu.Instructions = 0
	child := p.k.addThread(p, &cpu)
	child.sig.mask = t.sig.mask
	child.comm, child.noNewPrivs = t.comm, t.noNewPrivs
	if stack != 0 {
		cpu.GR[30] = stack
	}
	if flags&cloneSettls != 0 {
		cpu.CR[controlRegThread] = tls
	}
	if flags&cloneParentSettid != 0 {
		if e := p.writeU32(ptid, child.tid); e != 0 {
			return fail(e)
		}
	}
	if flags&cloneChildSettid != 0 {
		if e := p.writeU32(ctid, child.tid); e != 0 {
			return fail(e)
		}
	}
	if flags&cloneChildCleartid != 0 {
		child.clearTID = ctid
	}
	p.returnFromSyscall(child, 0)
	return ok(child.tid)
}

// exit(code) ends the calling thread; the process ends with its last thread.
func sysExit(p *Process, t *thread, a sysArgs) sysResult {
	p.exitThread(t, int(a[0]&0xff))
	return done()
}

// exit_group(code) ends the process.
func sysExitGroup(p *Process, t *thread, a sysArgs) sysResult {
	p.end(ExitStatus{Code: int(a[0] & 0xff)})
	return done()
}

func (p *Process) exitThread(t *thread, code int) {
	if t.clearTID != 0 && p.writeU32(t.clearTID, 0) == 0 {
		p.futexWake(t.clearTID, 1, futexBitsetAny)
	}
	p.removeFutexWaiter(t)
	t.exited = true
	p.k.removeThread(t)
	if len(p.threads) == 0 {
		p.end(ExitStatus{Code: code})
	}
}

// set_tid_address(tidptr)
func sysSetTidAddress(p *Process, t *thread, a sysArgs) sysResult {
	t.clearTID = a[0]
	return ok(t.tid)
}

// set_robust_list is refused, as qemu-hppa refuses it; glibc copes.
func sysSetRobustList(p *Process, t *thread, a sysArgs) sysResult { return fail(ENOSYS) }

func sysGettid(p *Process, t *thread, _ sysArgs) sysResult { return ok(t.tid) }

// sched_yield gives up the rest of the quantum.
func sysSchedYield(p *Process, t *thread, _ sysArgs) sysResult {
	t.quantumLeft = 0
	return ok(0)
}

// sched_getaffinity(pid, len, mask): one CPU.
func sysSchedGetaffinity(p *Process, t *thread, a sysArgs) sysResult {
	const maskBytes = 4
	if a[1] < maskBytes {
		return fail(EINVAL)
	}
	return result(maskBytes, p.writeU32(a[2], 1))
}
