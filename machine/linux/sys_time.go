package linux

// Clocks, sleeping and random bytes: every answer comes from the Env.

const (
	clockRealtime        = 0
	clockMonotonic       = 1
	clockProcessCPUTime  = 2
	clockThreadCPUTime   = 3
	clockMonotonicRaw    = 4
	clockRealtimeCoarse  = 5
	clockMonotonicCoarse = 6
	clockBoottime        = 7
	timerAbstime         = 1
	grndNonblock         = 1
	grndFlags            = 0x7 // GRND_NONBLOCK, GRND_RANDOM, GRND_INSECURE
	nanosPerSecond       = 1_000_000_000
	nanosPerMicrosecond  = 1_000
	maxGetrandomBytes    = 1 << 25
)

// timespec is a time or duration in seconds and nanoseconds.
type timespec struct{ sec, nsec int64 }

func (ts timespec) valid() bool  { return ts.sec >= 0 && ts.nsec >= 0 && ts.nsec < nanosPerSecond }
func (ts timespec) nanos() int64 { return ts.sec*nanosPerSecond + ts.nsec }

func timespecOf(ns int64) timespec { return timespec{ns / nanosPerSecond, ns % nanosPerSecond} }

// readTimespec reads a struct timespec: two 32-bit fields, or with time64
// the 16-byte __kernel_timespec (only the low half of tv_nsec counts).
func (p *Process) readTimespec(addr uint32, time64 bool) (timespec, Errno) {
	if time64 {
		b, e := p.readUser(addr, 16)
		if e != 0 {
			return timespec{}, e
		}
		return timespec{int64(getU64(b, 0)), int64(int32(getU32(b, 12)))}, 0
	}
	b, e := p.readUser(addr, 8)
	if e != 0 {
		return timespec{}, e
	}
	return timespec{int64(int32(getU32(b, 0))), int64(int32(getU32(b, 4)))}, 0
}

func (p *Process) writeTimespec(addr uint32, ts timespec, time64 bool) Errno {
	if time64 {
		b := make(be, 16)
		b.u64(0, uint64(ts.sec))
		b.u64(8, uint64(ts.nsec))
		return p.writeUser(addr, b)
	}
	b := make(be, 8)
	b.u32(0, uint32(ts.sec))
	b.u32(4, uint32(ts.nsec))
	return p.writeUser(addr, b)
}

// deadlineOf converts a timeout to a CLOCK_MONOTONIC deadline.
func deadlineOf(now Clock, ts timespec, absolute, realtime bool) int64 {
	switch {
	case !absolute:
		return now.Monotonic + ts.nanos()
	case realtime:
		return now.Monotonic + ts.nanos() - now.Realtime
	}
	return ts.nanos()
}

// clockRead reads one of the guest clocks in ns. CPU-time clocks count one
// nanosecond per instruction, which keeps them deterministic.
func (p *Process) clockRead(t *thread, clk uint32) (int64, Errno) {
	switch clk {
	case clockRealtime, clockRealtimeCoarse:
		return p.env.Clock(p.k.instructions).Realtime, 0
	case clockMonotonic, clockMonotonicRaw, clockMonotonicCoarse, clockBoottime:
		return p.env.Clock(p.k.instructions).Monotonic, 0
	case clockProcessCPUTime:
		return int64(p.cpuTime), 0
	case clockThreadCPUTime:
		return int64(t.cpu.Instructions), 0
	}
	return 0, EINVAL
}

func (p *Process) clockGettime(t *thread, a sysArgs, time64 bool) sysResult {
	ns, e := p.clockRead(t, a[0])
	if e != 0 {
		return fail(e)
	}
	return result(0, p.writeTimespec(a[1], timespecOf(ns), time64))
}

// clock_gettime(clk, tp) with a 32-bit timespec.
func sysClockGettime(p *Process, t *thread, a sysArgs) sysResult { return p.clockGettime(t, a, false) }

// clock_gettime64(clk, tp)
func sysClockGettime64(p *Process, t *thread, a sysArgs) sysResult { return p.clockGettime(t, a, true) }

func (p *Process) clockGetres(t *thread, a sysArgs, time64 bool) sysResult {
	if _, e := p.clockRead(t, a[0]); e != 0 {
		return fail(e)
	}
	if a[1] == 0 {
		return ok(0)
	}
	return result(0, p.writeTimespec(a[1], timespec{0, 1}, time64))
}

// clock_getres(clk, res): every clock has nanosecond resolution.
func sysClockGetres(p *Process, t *thread, a sysArgs) sysResult { return p.clockGetres(t, a, false) }

func sysClockGetres64(p *Process, t *thread, a sysArgs) sysResult { return p.clockGetres(t, a, true) }

// gettimeofday(tv, tz): tz, if asked for, is UTC.
func sysGettimeofday(p *Process, t *thread, a sysArgs) sysResult {
	if a[0] != 0 {
		ns := p.env.Clock(p.k.instructions).Realtime
		b := make(be, 8)
		b.u32(0, uint32(ns/nanosPerSecond))
		b.u32(4, uint32(ns%nanosPerSecond/nanosPerMicrosecond))
		if e := p.writeUser(a[0], b); e != 0 {
			return fail(e)
		}
	}
	if a[1] != 0 {
		return result(0, p.writeUser(a[1], make([]byte, 8)))
	}
	return ok(0)
}

// time(tloc)
func sysTime(p *Process, t *thread, a sysArgs) sysResult {
	sec := uint32(p.env.Clock(p.k.instructions).Realtime / nanosPerSecond)
	if a[0] != 0 {
		if e := p.writeU32(a[0], sec); e != 0 {
			return fail(e)
		}
	}
	return ok(sec)
}

// sleep blocks t until the timeout passes; the scheduler ends the wait at
// the deadline. A relative sleep interrupted by a signal writes the time
// left to rem (see interrupt).
func (p *Process) sleep(t *thread, clk, flags, req, rem uint32, time64 bool) sysResult {
	ts, e := p.readTimespec(req, time64)
	if e != 0 {
		return fail(e)
	}
	if !ts.valid() {
		return fail(EINVAL)
	}
	switch clk {
	case clockRealtime, clockMonotonic, clockBoottime:
	default:
		return fail(EINVAL)
	}
	now := p.env.Clock(p.k.instructions)
	deadline := deadlineOf(now, ts, flags&timerAbstime != 0, clk == clockRealtime)
	if deadline <= now.Monotonic {
		return ok(0)
	}
	w := &waitState{kind: waitSleep, deadline: deadline, hasDeadline: true, remaining64: time64}
	if flags&timerAbstime == 0 {
		w.remaining = rem
	}
	return p.block(t, w)
}

// nanosleep(req, rem)
func sysNanosleep(p *Process, t *thread, a sysArgs) sysResult {
	return p.sleep(t, clockMonotonic, 0, a[0], a[1], false)
}

// clock_nanosleep(clk, flags, req, rem)
func sysClockNanosleep(p *Process, t *thread, a sysArgs) sysResult {
	return p.sleep(t, a[0], a[1], a[2], a[3], false)
}

func sysClockNanosleep64(p *Process, t *thread, a sysArgs) sysResult {
	return p.sleep(t, a[0], a[1], a[2], a[3], true)
}

// getrandom(buf, len, flags): waits while the Env has no random bytes.
func sysGetrandom(p *Process, t *thread, a sysArgs) sysResult {
	if a[2]&^grndFlags != 0 {
		return fail(EINVAL)
	}
	n := min(int(a[1]), maxGetrandomBytes)
	if n == 0 {
		return ok(0)
	}
	b := p.env.Random(n)
	if len(b) == 0 {
		if a[2]&grndNonblock != 0 {
			return fail(EAGAIN)
		}
		return p.block(t, &waitState{kind: waitRetry, random: true})
	}
	b = b[:min(len(b), n)]
	return result(uint32(len(b)), p.writeUser(a[0], b))
}

// rusageBytes is sizeof(struct rusage) for 32-bit hppa: two timevals and
// fourteen longs.
const rusageBytes = 72

// getrusage(who, usage): user time is the instruction count at one
// nanosecond per instruction, like the CPU-time clocks; the rest is zero.
func sysGetrusage(p *Process, t *thread, a sysArgs) sysResult {
	var ns uint64
	switch int32(a[0]) {
	case 0: // RUSAGE_SELF
		ns = p.cpuTime
	case 1: // RUSAGE_THREAD
		ns = t.cpu.Instructions
	case -1: // RUSAGE_CHILDREN
		ns = p.childCPUTime
	default:
		return fail(EINVAL)
	}
	return result(0, p.writeUser(a[1], rusage(ns)))
}

// rusage is a struct rusage with user time ns and the rest zero.
func rusage(ns uint64) []byte {
	b := make(be, rusageBytes)
	putTimeval(b, int64(ns))
	return b
}

// times(buf): the process's and its reaped children's user times in clock
// ticks, from the same instruction counts; the result is the monotonic
// clock in ticks.
func sysTimes(p *Process, t *thread, a sysArgs) sysResult {
	const nsPerTick = nanosPerSecond / clockTicks
	if a[0] != 0 {
		b := make(be, 16)
		b.u32(0, uint32(p.cpuTime/nsPerTick))
		b.u32(8, uint32(p.childCPUTime/nsPerTick))
		if e := p.writeUser(a[0], b); e != 0 {
			return fail(e)
		}
	}
	return ok(uint32(p.env.Clock(p.k.instructions).Monotonic / nsPerTick))
}
