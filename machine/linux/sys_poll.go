package linux

// poll and ppoll: readiness of Env descriptors comes from one Env.Poll call,
// pipes answer for themselves. A call that finds nothing ready waits with
// all its descriptors; when it runs again it keeps its original deadline.

import "slices"

const (
	pollfdBytes = 8
	maxPollFDs  = maxFDs
)

// pollScratch is the working memory of poll and pollReadiness.
type pollScratch struct {
	requests []PollRequest
	ready    []PollEvents
	out      []PollEvents
	user     []byte   // poll: the guest's pollfd array
	fds      []waitFD // poll: the same, decoded
}

// pollReadiness returns revents for each pollfd (fd < 0 is skipped). The
// slice is the kernel's and valid until the next call.
func (p *Process) pollReadiness(fds []waitFD) []PollEvents {
	s := &p.k.polling
	requests := s.requests[:0]
	for _, f := range fds {
		if h, ok := p.files.envHandle(f.fd); ok {
			requests = append(requests, PollRequest{Handle: h, Events: f.events})
		}
	}
	s.requests = requests
	ready := growEvents(s.ready, len(requests))
	s.ready = ready
	if len(requests) > 0 {
		p.env.Poll(requests, ready)
	}
	out := growEvents(s.out, len(fds))
	s.out = out
	next := 0
	for i, f := range fds {
		if f.fd < 0 {
			continue
		}
		var ev PollEvents
		if _, ok := p.files.envHandle(f.fd); ok {
			ev = ready[next]
			next++
		} else {
			ev = p.files.internalReadiness(f.fd)
		}
		out[i] = ev & (f.events | PollErr | PollHup | PollNval)
	}
	return out
}

// growEvents returns s resized to n zeroed entries, reusing its array when
// it is large enough.
func growEvents(s []PollEvents, n int) []PollEvents {
	if cap(s) < n {
		return make([]PollEvents, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// poll waits for events on the pollfd array at addr. timeout < 0 waits
// forever; otherwise it is in nanoseconds.
func (p *Process) poll(t *thread, addr, nfds uint32, timeout int64) sysResult {
	if nfds > maxPollFDs {
		return fail(EINVAL)
	}
	s := &p.k.polling
	s.user = slices.Grow(s.user[:0], int(nfds)*pollfdBytes)[:int(nfds)*pollfdBytes]
	b := s.user
	if e := p.readUserInto(addr, b); e != 0 {
		return fail(e)
	}
	s.fds = slices.Grow(s.fds[:0], int(nfds))[:nfds]
	fds := s.fds
	for i := range fds {
		fds[i] = waitFD{fd: int32(getU32(b, i*pollfdBytes)), events: PollEvents(getU32(b, i*pollfdBytes+4) >> 16)}
	}
	revents := p.pollReadiness(fds)
	count := 0
	for i, ev := range revents {
		be(b).u16(i*pollfdBytes+6, uint16(ev))
		if ev != 0 {
			count++
		}
	}
	if e := p.writeUser(addr, b); e != 0 {
		return fail(e)
	}
	if count > 0 || timeout == 0 {
		return ok(uint32(count))
	}
	return p.waitReady(t, slices.Clone(fds), timeout)
}

// waitReady blocks a poll-like call that found nothing ready until one of
// fds is, or until its timeout (ns; negative: none) counted from the first
// attempt has passed, which answers 0. The wait keeps fds' array: callers
// hand over a slice they made for this call.
func (p *Process) waitReady(t *thread, fds []waitFD, timeout int64) sysResult {
	w := &waitState{kind: waitRetry}
	if prev := t.wait; prev != nil {
		w.deadline, w.hasDeadline = prev.deadline, prev.hasDeadline
		if w.hasDeadline && p.env.Clock(p.k.instructions).Monotonic >= w.deadline {
			return ok(0)
		}
	} else if timeout > 0 {
		w.deadline, w.hasDeadline = p.env.Clock(p.k.instructions).Monotonic+timeout, true
	}
	w.fds = slices.DeleteFunc(fds, func(f waitFD) bool { return f.fd < 0 })
	return p.block(t, w)
}

// poll(fds, nfds, timeout_ms)
func sysPoll(p *Process, t *thread, a sysArgs) sysResult {
	return p.poll(t, a[0], a[1], msTimeout(a[2]))
}

func (p *Process) ppoll(t *thread, a sysArgs, time64 bool) sysResult {
	timeout := int64(-1)
	if a[2] != 0 {
		ts, e := p.readTimespec(a[2], time64)
		if e != 0 {
			return fail(e)
		}
		if !ts.valid() {
			return fail(EINVAL)
		}
		timeout = ts.nanos()
	}
	return p.poll(t, a[0], a[1], timeout)
}

// ppoll(fds, nfds, timeout, sigmask, sigsetsize)
func sysPpoll(p *Process, t *thread, a sysArgs) sysResult { return p.ppoll(t, a, false) }

func sysPpoll64(p *Process, t *thread, a sysArgs) sysResult { return p.ppoll(t, a, true) }
