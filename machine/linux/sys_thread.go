package linux

// Threads: clone, exit, and the thread-id bookkeeping glibc's pthreads use.

const (
	cloneVM            = 0x00000100
	cloneSighand       = 0x00000800
	cloneThread        = 0x00010000
	cloneSettls        = 0x00080000
	cloneParentSettid  = 0x00100000
	cloneChildCleartid = 0x00200000
	cloneChildSettid   = 0x01000000
)

// clone(flags, child_stack, parent_tid, tls, child_tid): hppa passes tls
// before child_tid (CLONE_BACKWARDS).
func sysClone(p *Process, t *thread, a sysArgs) sysResult {
	flags, stack, ptid, tls, ctid := a[0], a[1], a[2], a[3], a[4]
	const need = cloneVM | cloneSighand | cloneThread
	if flags&need != need {
		if !p.warned[nrCloneProcess] {
			p.warned[nrCloneProcess] = true
			p.log.Warn("clone without CLONE_VM|CLONE_THREAD (fork) is not supported; returning ENOSYS", "flags", hex32(flags))
		}
		return fail(ENOSYS)
	}
	cpu := *t.cpu
	cpu.Instructions = 0
	child := p.addThread(&cpu)
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

// nrCloneProcess keys the one-time warning about fork-style clones.
const nrCloneProcess = 120

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
	for i, u := range p.threads {
		if u == t {
			p.threads = append(p.threads[:i], p.threads[i+1:]...)
			if i <= p.current {
				p.current--
			}
			break
		}
	}
	if len(p.threads) == 0 {
		p.end(ExitStatus{Code: code})
	}
}

// end ends the process with status, unless it has ended already. What the
// guest wrote into shared file mappings reaches the files first, as when
// Linux tears down the address space.
func (p *Process) end(status ExitStatus) {
	if p.exit != nil {
		return
	}
	p.writeBackAll()
	p.exit = &status
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
