package linux

// The real-time interval timer (alarm, setitimer ITIMER_REAL): it sends
// SIGALRM to the process when CLOCK_MONOTONIC reaches its deadline. The
// scheduler checks it whenever it re-checks waiting threads, so it fires
// within a quantum of its deadline, at the same instruction on every run
// with the same Env answers.

const itimerReal = 0

type realTimer struct {
	armed    bool
	deadline int64 // CLOCK_MONOTONIC ns
	interval int64 // ns; zero for a one-shot timer
}

// fireTimer sends SIGALRM if the timer's deadline has passed at now.
func (p *Process) fireTimer(now int64) {
	tm := &p.timer
	if !tm.armed || now < tm.deadline {
		return
	}
	if tm.interval > 0 {
		for tm.deadline <= now {
			tm.deadline += tm.interval
		}
	} else {
		tm.armed = false
	}
	p.sendToProcess(sigInfo{signo: SIGALRM, code: siKernel})
}

// remaining is the time left on the timer at now, in ns.
func (p *Process) remaining(now int64) int64 {
	if !p.timer.armed {
		return 0
	}
	return max(p.timer.deadline-now, 1)
}

// setTimer arms (value > 0) or disarms the timer and returns the time that
// was left on it.
func (p *Process) setTimer(value, interval int64) (left, oldInterval int64) {
	now := p.env.Clock(p.k.instructions).Monotonic
	left, oldInterval = p.remaining(now), p.timer.interval
	p.timer = realTimer{}
	if value > 0 {
		p.timer = realTimer{armed: true, deadline: now + value, interval: interval}
	}
	return left, oldInterval
}

// alarm(seconds)
func sysAlarm(p *Process, t *thread, a sysArgs) sysResult {
	left, _ := p.setTimer(int64(a[0])*nanosPerSecond, 0)
	return ok(uint32((left + nanosPerSecond - 1) / nanosPerSecond))
}

// readTimeval reads a 32-bit struct timeval as ns.
func readTimeval(b []byte) (int64, bool) {
	sec, usec := int64(int32(getU32(b, 0))), int64(int32(getU32(b, 4)))
	return sec*nanosPerSecond + usec*nanosPerMicrosecond, sec >= 0 && usec >= 0 && usec < 1_000_000
}

func putTimeval(b be, ns int64) {
	b.u32(0, uint32(ns/nanosPerSecond))
	b.u32(4, uint32(ns%nanosPerSecond/nanosPerMicrosecond))
}

// itimerval encodes {it_interval, it_value}.
func itimerval(interval, value int64) []byte {
	b := make(be, 16)
	putTimeval(b, interval)
	putTimeval(b[8:], value)
	return b
}

// setitimer(which, new, old): ITIMER_REAL only.
func sysSetitimer(p *Process, t *thread, a sysArgs) sysResult {
	if a[0] != itimerReal {
		return fail(EINVAL)
	}
	b, e := p.readUser(a[1], 16)
	if e != 0 {
		return fail(e)
	}
	interval, ok1 := readTimeval(b)
	value, ok2 := readTimeval(b[8:])
	if !ok1 || !ok2 {
		return fail(EINVAL)
	}
	left, oldInterval := p.setTimer(value, interval)
	if a[2] != 0 {
		return result(0, p.writeUser(a[2], itimerval(oldInterval, left)))
	}
	return ok(0)
}

// getitimer(which, cur): ITIMER_REAL only.
func sysGetitimer(p *Process, t *thread, a sysArgs) sysResult {
	if a[0] != itimerReal {
		return fail(EINVAL)
	}
	left := p.remaining(p.env.Clock(p.k.instructions).Monotonic)
	return result(0, p.writeUser(a[1], itimerval(p.timer.interval, left)))
}
