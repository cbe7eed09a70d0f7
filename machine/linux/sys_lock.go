package linux

// File locks, space allocation and advice. The guest is the only process
// of its machine, and a process's own POSIX record locks never conflict
// with one another, so locking always succeeds once its arguments check
// out and F_GETLK always finds the range free. Locks are not tracked: a
// flock or OFD lock that would conflict with one the process holds
// through another open file description (Linux refuses it; so does
// qemu-hppa, through the host) succeeds too.

const (
	fGetlk       = 5
	fSetlk       = 6
	fSetlkw      = 7
	fGetlk64     = 8
	fSetlk64     = 9
	fSetlkw64    = 10
	fOfdGetlk    = 36
	fOfdSetlk    = 37
	fOfdSetlkw   = 38
	lockRead     = 1  // F_RDLCK
	lockWrite    = 2  // F_WRLCK
	lockUnlock   = 3  // F_UNLCK (parisc's own value)
	flockBytes   = 16 // struct flock: type, whence, 32-bit start and len, pid
	flock64Bytes = 32 // struct flock64: the 64-bit start and len 8-aligned
	flockPid64   = 24 // offset of l_pid in struct flock64

	lockSh = 1 // flock operations
	lockEx = 2
	lockNb = 4
	lockUn = 8
)

// recordLock is fcntl's F_GETLK, F_SETLK and F_SETLKW and their 64-bit
// and open-file-description forms, on file f.
func (p *Process) recordLock(f *openFile, cmd, addr uint32) sysResult {
	size := uint32(flock64Bytes)
	if cmd == fGetlk || cmd == fSetlk || cmd == fSetlkw {
		size = flockBytes
	}
	b, e := p.readUser(addr, int(size))
	if e != 0 {
		return fail(e)
	}
	kind, whence := getU16(b, 0), getU16(b, 2)
	ofd := cmd == fOfdGetlk || cmd == fOfdSetlk || cmd == fOfdSetlkw
	switch {
	case kind < lockRead || kind > lockUnlock || whence > 2:
		return fail(EINVAL)
	case ofd && getU32(b, flockPid64) != 0: // an OFD lock has no owning pid
		return fail(EINVAL)
	}
	switch cmd {
	case fGetlk, fGetlk64, fOfdGetlk:
		be(b).u16(0, lockUnlock)
		return result(0, p.writeUser(addr, b))
	}
	if kind == lockRead && !f.readable() || kind == lockWrite && !f.writable() {
		return fail(EBADF)
	}
	return ok(0)
}

// flock(fd, operation)
func sysFlock(p *Process, t *thread, a sysArgs) sysResult {
	if _, e := p.files.get(int32(a[0])); e != 0 {
		return fail(e)
	}
	switch a[1] &^ lockNb {
	case lockSh, lockEx, lockUn:
		return ok(0)
	}
	return fail(EINVAL)
}

const fallocKeepSize = 1 // FALLOC_FL_KEEP_SIZE

// fallocate(fd, mode, offset_high, offset_low, len_high, len_low): the Env
// cannot reserve space, so allocating grows the file as a truncate does
// (it reads as zeros either way) and, with FALLOC_FL_KEEP_SIZE, leaves it
// alone. Punching holes and the other modes are refused, as by
// filesystems without them.
func sysFallocate(p *Process, t *thread, a sysArgs) sysResult {
	mode := a[1]
	offset, length := int64(a[2])<<32|int64(a[3]), int64(a[4])<<32|int64(a[5])
	if offset < 0 || length <= 0 {
		return fail(EINVAL)
	}
	f, e := p.envFile(a[0])
	switch {
	case e != 0:
		return fail(e)
	case !f.writable():
		return fail(EBADF)
	case mode&^fallocKeepSize != 0:
		return fail(EOPNOTSUPP)
	case mode == fallocKeepSize:
		return ok(0)
	}
	st, e := p.env.Stat(f.handle)
	if e != 0 {
		return fail(e)
	}
	if end := offset + length; end > st.Size {
		return result(0, p.env.Truncate(f.handle, end))
	}
	return ok(0)
}

const fadvNoreuse = 5 // the largest POSIX_FADV_* value

// fadvise64_64(fd, offset_high, offset_low, len_high, len_low, advice):
// a hint, accepted and ignored.
func sysFadvise64(p *Process, t *thread, a sysArgs) sysResult {
	f, e := p.files.get(int32(a[0]))
	switch {
	case e != 0:
		return fail(e)
	case f.kind == filePipeRead || f.kind == filePipeWrite:
		return fail(ESPIPE)
	case a[5] > fadvNoreuse:
		return fail(EINVAL)
	}
	return ok(0)
}
