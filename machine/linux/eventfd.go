package linux

// eventfd: a kernel counter that threads signal each other through.

const (
	efdSemaphore   = 1
	eventfdMax     = ^uint64(0) - 1
	eventfdValueSz = 8
)

func (f *openFile) eventfdReadiness() PollEvents {
	var ev PollEvents
	if f.counter > 0 {
		ev |= PollIn
	}
	if f.counter < eventfdMax {
		ev |= PollOut
	}
	return ev
}

// eventfd2(initval, flags)
func sysEventfd2(p *Process, t *thread, a sysArgs) sysResult {
	if a[1]&^(efdSemaphore|O_NONBLOCK|O_CLOEXEC) != 0 {
		return fail(EINVAL)
	}
	f := p.files.newFile(fileEventfd, 0, nil, O_RDWR|a[1]&O_NONBLOCK)
	f.counter, f.semaphore = uint64(a[0]), a[1]&efdSemaphore != 0
	fd, e := p.files.install(f, 0, a[1]&O_CLOEXEC != 0)
	return result(uint32(fd), e)
}

// eventfd(initval)
func sysEventfd(p *Process, t *thread, a sysArgs) sysResult {
	return sysEventfd2(p, t, sysArgs{a[0]})
}

// eventfdRead takes the counter (or one, as a semaphore); EAGAIN at zero.
func (f *openFile) eventfdRead(n int) ([]byte, Errno) {
	if n < eventfdValueSz {
		return nil, EINVAL
	}
	if f.counter == 0 {
		return nil, EAGAIN
	}
	v := f.counter
	if f.semaphore {
		v = 1
	}
	f.counter -= v
	b := make(be, eventfdValueSz)
	b.u64(0, v)
	return b, 0
}

// eventfdWrite adds to the counter; EAGAIN while it would overflow.
func (f *openFile) eventfdWrite(data []byte) (int, Errno) {
	if len(data) < eventfdValueSz {
		return 0, EINVAL
	}
	v := getU64(data, 0)
	if v == ^uint64(0) {
		return 0, EINVAL
	}
	if eventfdMax-f.counter < v {
		return 0, EAGAIN
	}
	f.counter += v
	return eventfdValueSz, 0
}
