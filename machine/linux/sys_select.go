package linux

// pselect6 (select): fd_sets are arrays of 32-bit big-endian words, bit
// fd%32 of word fd/32. The work is poll's.

const maxSelectFDs = maxFDs

// pselect6(nfds, readfds, writefds, exceptfds, timeout, sigmask) with a
// 32-bit timespec; the signal mask argument is not applied.
func sysPselect6(p *Process, t *thread, a sysArgs) sysResult { return p.pselect(t, a, false) }

func sysPselect6Time64(p *Process, t *thread, a sysArgs) sysResult { return p.pselect(t, a, true) }

func (p *Process) pselect(t *thread, a sysArgs, time64 bool) sysResult {
	nfds := a[0]
	if nfds > maxSelectFDs {
		return fail(EINVAL)
	}
	words := int(nfds+31) / 32
	var sets [3][]uint32 // read, write, except
	for i, addr := range a[1:4] {
		if addr == 0 {
			continue
		}
		b, e := p.readUser(addr, 4*words)
		if e != 0 {
			return fail(e)
		}
		sets[i] = make([]uint32, words)
		for w := range sets[i] {
			sets[i][w] = getU32(b, 4*w)
		}
	}
	isSet := func(set []uint32, fd uint32) bool { return set != nil && set[fd/32]&(1<<(fd%32)) != 0 }
	var fds []waitFD
	for fd := uint32(0); fd < nfds; fd++ {
		var ev PollEvents
		for i, bit := range [3]PollEvents{PollIn, PollOut, PollPri} {
			if isSet(sets[i], fd) {
				ev |= bit
			}
		}
		if ev == 0 {
			continue
		}
		if _, e := p.files.get(int32(fd)); e != 0 {
			return fail(e)
		}
		fds = append(fds, waitFD{fd: int32(fd), events: ev})
	}

	timeout := int64(-1)
	if a[4] != 0 {
		ts, e := p.readTimespec(a[4], time64)
		if e != 0 {
			return fail(e)
		}
		if !ts.valid() {
			return fail(EINVAL)
		}
		timeout = ts.nanos()
	}

	var out [3][]uint32
	count := 0
	for i, ev := range p.pollReadiness(fds) {
		fd := uint32(fds[i].fd)
		for k, ready := range [3]bool{ev&(PollIn|PollHup|PollErr) != 0, ev&(PollOut|PollErr) != 0, ev&PollPri != 0} {
			if ready && isSet(sets[k], fd) {
				if out[k] == nil {
					out[k] = make([]uint32, words)
				}
				out[k][fd/32] |= 1 << (fd % 32)
				count++
			}
		}
	}
	if count == 0 && timeout != 0 {
		return p.waitReady(t, fds, timeout)
	}
	for i, addr := range a[1:4] {
		if addr == 0 {
			continue
		}
		b := make(be, 4*words)
		for w := range out[i] {
			b.u32(4*w, out[i][w])
		}
		if e := p.writeUser(addr, b); e != 0 {
			return fail(e)
		}
	}
	return ok(uint32(count))
}
