package linux

// epoll: an interest list polled like poll(2). Edge-triggered interests
// are reported level-triggered, which a program written for EPOLLET (it
// drains each descriptor until EAGAIN) cannot tell apart.

const (
	epollCtlAdd = 1
	epollCtlDel = 2
	epollCtlMod = 3

	epollOneshot    = 0x40000000
	epollEventBytes = 16 // {u32 events; pad; u64 data}
	maxEpollEvents  = 1 << 16
)

// epollInterest is one registered descriptor. fileID pins the open file
// the registration was made for, so a reused descriptor number is not
// reported (Linux drops the interest when the file is closed).
type epollInterest struct {
	fd       int32
	fileID   uint32
	events   uint32
	data     uint64
	disabled bool // EPOLLONESHOT fired; EPOLL_CTL_MOD rearms
}

// epoll_create1(flags)
func sysEpollCreate1(p *Process, t *thread, a sysArgs) sysResult {
	if a[0]&^O_CLOEXEC != 0 {
		return fail(EINVAL)
	}
	fd, e := p.files.install(p.files.newFile(fileEpoll, 0, nil, O_RDWR), 0, a[0] != 0)
	return result(uint32(fd), e)
}

// epoll_create(size)
func sysEpollCreate(p *Process, t *thread, a sysArgs) sysResult {
	if int32(a[0]) <= 0 {
		return fail(EINVAL)
	}
	return sysEpollCreate1(p, t, sysArgs{})
}

func (p *Process) epollFile(fd uint32) (*openFile, Errno) {
	return p.fileWhere(fd, func(f *openFile) bool { return f.kind == fileEpoll }, EINVAL)
}

// epoll_ctl(epfd, op, fd, event)
func sysEpollCtl(p *Process, t *thread, a sysArgs) sysResult {
	ep, e := p.epollFile(a[0])
	if e != 0 {
		return fail(e)
	}
	fd := int32(a[2])
	target, e := p.files.get(fd)
	if e != 0 {
		return fail(e)
	}
	if target == ep {
		return fail(EINVAL)
	}
	var events uint32
	var data uint64
	if a[1] != epollCtlDel {
		b, e := p.readUser(a[3], epollEventBytes)
		if e != 0 {
			return fail(e)
		}
		events, data = getU32(b, 0), getU64(b, 8)
	}
	idx := -1
	for i, in := range ep.interests {
		if in.fd == fd && in.fileID == target.id {
			idx = i
		}
	}
	switch {
	case a[1] == epollCtlAdd && idx >= 0:
		return fail(EEXIST)
	case a[1] == epollCtlAdd:
		ep.interests = append(ep.interests, epollInterest{fd: fd, fileID: target.id, events: events, data: data})
	case a[1] != epollCtlDel && a[1] != epollCtlMod:
		return fail(EINVAL)
	case idx < 0:
		return fail(ENOENT)
	case a[1] == epollCtlDel:
		ep.interests = append(ep.interests[:idx], ep.interests[idx+1:]...)
	default:
		ep.interests[idx] = epollInterest{fd: fd, fileID: target.id, events: events, data: data}
	}
	return ok(0)
}

// liveInterests drops registrations whose file has been closed and returns
// the armed ones as poll requests.
func (p *Process) liveInterests(ep *openFile) ([]int, []waitFD) {
	kept := ep.interests[:0]
	var idx []int
	var fds []waitFD
	for _, in := range ep.interests {
		f, e := p.files.get(in.fd)
		if e != 0 || f.id != in.fileID {
			continue
		}
		kept = append(kept, in)
		if !in.disabled {
			idx = append(idx, len(kept)-1)
			fds = append(fds, waitFD{fd: in.fd, events: PollEvents(in.events)})
		}
	}
	ep.interests = kept
	return idx, fds
}

func (p *Process) epollWait(t *thread, epfd, events, maxEvents uint32, timeout int64) sysResult {
	if int32(maxEvents) <= 0 || maxEvents > maxEpollEvents {
		return fail(EINVAL)
	}
	ep, e := p.epollFile(epfd)
	if e != 0 {
		return fail(e)
	}
	idx, fds := p.liveInterests(ep)
	var out be
	for i, ev := range p.pollReadiness(fds) {
		if ev == 0 || uint32(len(out)/epollEventBytes) == maxEvents {
			continue
		}
		in := &ep.interests[idx[i]]
		rec := make(be, epollEventBytes)
		rec.u32(0, uint32(ev))
		rec.u64(8, in.data)
		out = append(out, rec...)
		if in.events&epollOneshot != 0 {
			in.disabled = true
		}
	}
	if len(out) == 0 && timeout != 0 {
		return p.waitReady(t, fds, timeout)
	}
	return result(uint32(len(out)/epollEventBytes), p.writeUser(events, out))
}

func msTimeout(ms uint32) int64 {
	if int32(ms) < 0 {
		return -1
	}
	return int64(ms) * 1_000_000
}

// epoll_wait(epfd, events, maxevents, timeout_ms)
func sysEpollWait(p *Process, t *thread, a sysArgs) sysResult {
	return p.epollWait(t, a[0], a[1], a[2], msTimeout(a[3]))
}

// epoll_pwait(epfd, events, maxevents, timeout_ms, sigmask, sigsetsize)
func sysEpollPwait(p *Process, t *thread, a sysArgs) sysResult {
	return p.epollWait(t, a[0], a[1], a[2], msTimeout(a[3]))
}

// epoll_pwait2(epfd, events, maxevents, timeout, sigmask, sigsetsize)
func sysEpollPwait2(p *Process, t *thread, a sysArgs) sysResult {
	timeout := int64(-1)
	if a[3] != 0 {
		ts, e := p.readTimespec(a[3], true)
		if e != 0 {
			return fail(e)
		}
		if !ts.valid() {
			return fail(EINVAL)
		}
		timeout = ts.nanos()
	}
	return p.epollWait(t, a[0], a[1], a[2], timeout)
}
