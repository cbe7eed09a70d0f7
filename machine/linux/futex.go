package linux

// Futexes: the kernel side of glibc's mutexes, condition variables and
// pthread_join. Waiters queue in the order they started waiting, so wakes
// are deterministic.

const (
	futexWait          = 0
	futexWake          = 1
	futexRequeue       = 3
	futexCmpRequeue    = 4
	futexWakeOp        = 5
	futexWaitBitset    = 9
	futexWakeBitset    = 10
	futexPrivateFlag   = 0x80
	futexClockRealtime = 0x100

	futexBitsetAny = 0xffffffff
)

type futexWaiter struct {
	addr   uint32
	tid    uint32
	bitset uint32
}

// futex(uaddr, op, val, timeout or val2, uaddr2, val3) with a 32-bit timespec.
func sysFutex(p *Process, t *thread, a sysArgs) sysResult { return p.futex(t, a, false) }

// futex_time64: the same with a 64-bit timespec.
func sysFutex64(p *Process, t *thread, a sysArgs) sysResult { return p.futex(t, a, true) }

func (p *Process) futex(t *thread, a sysArgs, time64 bool) sysResult {
	addr, op, val, timeout, addr2, val3 := a[0], a[1], a[2], a[3], a[4], a[5]
	realtime := op&futexClockRealtime != 0
	switch op &^ (futexPrivateFlag | futexClockRealtime) {
	case futexWait:
		return p.futexWaitOn(t, addr, val, futexBitsetAny, timeout, time64, false, false)
	case futexWaitBitset:
		if val3 == 0 {
			return fail(EINVAL)
		}
		return p.futexWaitOn(t, addr, val, val3, timeout, time64, true, realtime)
	case futexWake:
		return ok(uint32(p.futexWake(addr, int(val), futexBitsetAny)))
	case futexWakeBitset:
		if val3 == 0 {
			return fail(EINVAL)
		}
		return ok(uint32(p.futexWake(addr, int(val), val3)))
	case futexCmpRequeue:
		cur, e := p.readU32(addr)
		if e != 0 {
			return fail(e)
		}
		if cur != val3 {
			return fail(EAGAIN)
		}
		return ok(uint32(p.futexRequeue(addr, addr2, int(val), int(timeout))))
	case futexRequeue:
		return ok(uint32(p.futexRequeue(addr, addr2, int(val), int(timeout))))
	case futexWakeOp:
		return p.futexWakeOp(addr, addr2, int(val), int(timeout), val3)
	}
	return fail(ENOSYS)
}

// futexWaitOn blocks t on addr if it still holds val. A relative timeout
// counts on CLOCK_MONOTONIC; an absolute one (WAIT_BITSET) on the clock op
// names.
func (p *Process) futexWaitOn(t *thread, addr, val, bitset, timeout uint32, time64, absolute, realtime bool) sysResult {
	if addr&3 != 0 {
		return fail(EINVAL)
	}
	cur, e := p.readU32(addr)
	if e != 0 {
		return fail(e)
	}
	if cur != val {
		return fail(EAGAIN)
	}
	w := &waitState{kind: waitFutex, futexAddr: addr, futexBitset: bitset}
	if timeout != 0 {
		ts, e := p.readTimespec(timeout, time64)
		if e != 0 {
			return fail(e)
		}
		if !ts.valid() {
			return fail(EINVAL)
		}
		now := p.env.Clock(p.k.instructions)
		w.deadline, w.hasDeadline = deadlineOf(now, ts, absolute, realtime), true
	}
	p.futexes = append(p.futexes, futexWaiter{addr: addr, tid: t.tid, bitset: bitset})
	return p.block(t, w)
}

// futexWake wakes up to n waiters on addr whose bitset intersects bitset.
func (p *Process) futexWake(addr uint32, n int, bitset uint32) int {
	woken := 0
	kept := p.futexes[:0]
	for _, w := range p.futexes {
		if woken < n && w.addr == addr && w.bitset&bitset != 0 {
			woken++
			if t := p.threadByTID(w.tid); t != nil {
				p.finishWait(t, 0)
			}
			continue
		}
		kept = append(kept, w)
	}
	p.futexes = kept
	return woken
}

// futexRequeue wakes up to n waiters on addr and moves up to m more to addr2.
func (p *Process) futexRequeue(addr, addr2 uint32, n, m int) int {
	woken := p.futexWake(addr, n, futexBitsetAny)
	for i := range p.futexes {
		if m == 0 {
			break
		}
		if w := &p.futexes[i]; w.addr == addr {
			w.addr = addr2
			if t := p.threadByTID(w.tid); t != nil && t.wait != nil {
				t.wait.futexAddr = addr2
			}
			m--
		}
	}
	return woken
}

// futexWakeOp applies the operation encoded in val3 to *addr2, wakes n
// waiters on addr, and m on addr2 if the old value passes the comparison.
func (p *Process) futexWakeOp(addr, addr2 uint32, n, m int, val3 uint32) sysResult {
	op, cmp := val3>>28&7, val3>>24&15
	oparg, cmparg := signExtend12(val3>>12), signExtend12(val3)
	if val3>>31 != 0 {
		oparg = 1 << (uint32(oparg) & 31)
	}
	old, e := p.readU32(addr2)
	if e != 0 {
		return fail(e)
	}
	var v uint32
	switch op {
	case 0:
		v = uint32(oparg)
	case 1:
		v = old + uint32(oparg)
	case 2:
		v = old | uint32(oparg)
	case 3:
		v = old &^ uint32(oparg)
	case 4:
		v = old ^ uint32(oparg)
	default:
		return fail(ENOSYS)
	}
	if e := p.writeU32(addr2, v); e != 0 {
		return fail(e)
	}
	woken := p.futexWake(addr, n, futexBitsetAny)
	o := int32(old)
	var pass bool
	switch cmp {
	case 0:
		pass = o == cmparg
	case 1:
		pass = o != cmparg
	case 2:
		pass = o < cmparg
	case 3:
		pass = o <= cmparg
	case 4:
		pass = o > cmparg
	case 5:
		pass = o >= cmparg
	default:
		return fail(ENOSYS)
	}
	if pass {
		woken += p.futexWake(addr2, m, futexBitsetAny)
	}
	return ok(uint32(woken))
}

func signExtend12(v uint32) int32 { return int32(v<<20) >> 20 }

// removeFutexWaiter takes t off any futex queue (timeout, signal, exit).
func (p *Process) removeFutexWaiter(t *thread) {
	kept := p.futexes[:0]
	for _, w := range p.futexes {
		if w.tid != t.tid {
			kept = append(kept, w)
		}
	}
	p.futexes = kept
}
