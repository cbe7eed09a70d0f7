package linux

// File system calls: descriptors, reading and writing, metadata. Data and
// metadata come from the Env; descriptors and pipes are the kernel's own.

const (
	atFDCWD           = -100
	atFDCWDArg        = 0xffffff9c // AT_FDCWD as the register holds it
	atSymlinkNofollow = 0x100
	atRemovedir       = 0x200
	atEmptyPath       = 0x1000

	seekSet = 0
	seekCur = 1
	seekEnd = 2

	// maxIO bounds one read or write; a shorter transfer is always legal.
	maxIO = 1 << 20
	// maxIovecs is IOV_MAX.
	maxIovecs = 1024

	fdCloexec = 1
)

// statusFlags are the O_* bits F_GETFL reports and an open file keeps.
const statusFlags = O_ACCMODE | O_APPEND | O_NONBLOCK | O_LARGEFILE

func (f *openFile) nonblocking() bool { return f.flags&O_NONBLOCK != 0 }
func (f *openFile) readable() bool    { return f.flags&O_ACCMODE != O_WRONLY }
func (f *openFile) writable() bool    { return f.flags&O_ACCMODE != O_RDONLY }

// pathAt resolves a path relative to dirfd. Only AT_FDCWD and absolute
// paths are supported: descriptors do not remember their paths.
func (p *Process) pathAt(dirfd, addr uint32) (string, Errno) {
	path, e := p.readPath(addr)
	if e != 0 {
		return "", e
	}
	if path[0] != '/' && int32(dirfd) != atFDCWD {
		return "", ENOTSUP
	}
	return path, 0
}

// readFile reads up to n bytes from fd. It returns EAGAIN when nothing is
// ready; the caller blocks or fails depending on the descriptor.
func (p *Process) readFile(f *openFile, n int) ([]byte, Errno) {
	if !f.readable() {
		return nil, EBADF
	}
	n = min(n, maxIO)
	switch f.kind {
	case fileEnv:
		return p.env.Read(f.handle, n)
	case filePipeRead:
		pp := f.pipe
		if len(pp.buf) == 0 {
			if pp.writers == 0 {
				return nil, 0
			}
			return nil, EAGAIN
		}
		n = min(n, len(pp.buf))
		out := append([]byte(nil), pp.buf[:n]...)
		pp.buf = append(pp.buf[:0], pp.buf[n:]...)
		return out, 0
	case fileEventfd:
		return f.eventfdRead(n)
	case fileBuffer:
		return f.bufferRead(n), 0
	}
	return nil, EBADF
}

// writeFile writes data to fd, returning how much it took or EAGAIN.
func (p *Process) writeFile(t *thread, f *openFile, data []byte, noSigpipe bool) (int, Errno) {
	if !f.writable() {
		return 0, EBADF
	}
	var n int
	var e Errno
	switch f.kind {
	case fileEnv:
		n, e = p.env.Write(f.handle, data)
	case filePipeWrite:
		pp := f.pipe
		switch {
		case pp.readers == 0:
			e = EPIPE
		case len(pp.buf) >= pipeCapacity:
			e = EAGAIN
		default:
			n = min(len(data), pipeCapacity-len(pp.buf))
			pp.buf = append(pp.buf, data[:n]...)
		}
	case fileEventfd:
		n, e = f.eventfdWrite(data)
	default:
		e = EBADF
	}
	if e == EPIPE && !noSigpipe {
		p.sendToThread(t, sigInfo{signo: SIGPIPE, code: siUser, pid: p.cfg.PID, uid: p.cfg.UID})
	}
	return n, e
}

// wouldBlock turns EAGAIN into a wait for events on fd, unless the
// descriptor (or the call) is non-blocking.
func (p *Process) wouldBlock(t *thread, fd int32, f *openFile, events PollEvents, nonblock bool) sysResult {
	if nonblock || f.nonblocking() {
		return fail(EAGAIN)
	}
	return p.block(t, &waitState{kind: waitRetry, fds: []waitFD{{fd: fd, events: events}}})
}

func (p *Process) read(t *thread, fd int32, buf uint32, count int, nonblock bool) sysResult {
	f, e := p.files.get(fd)
	if e != 0 {
		return fail(e)
	}
	data, e := p.readFile(f, count)
	if e == EAGAIN {
		return p.wouldBlock(t, fd, f, PollIn, nonblock)
	}
	if e != 0 {
		return fail(e)
	}
	return result(uint32(len(data)), p.writeUser(buf, data))
}

func (p *Process) write(t *thread, fd int32, data []byte, nonblock, noSigpipe bool) sysResult {
	f, e := p.files.get(fd)
	if e != 0 {
		return fail(e)
	}
	n, e := p.writeFile(t, f, data, noSigpipe)
	if e == EAGAIN {
		return p.wouldBlock(t, fd, f, PollOut, nonblock)
	}
	return result(uint32(n), e)
}

// read(fd, buf, count)
func sysRead(p *Process, t *thread, a sysArgs) sysResult {
	return p.read(t, int32(a[0]), a[1], int(a[2]), false)
}

// write(fd, buf, count)
func sysWrite(p *Process, t *thread, a sysArgs) sysResult {
	data, e := p.readUser(a[1], min(int(a[2]), maxIO))
	if e != 0 {
		return fail(e)
	}
	return p.write(t, int32(a[0]), data, false, false)
}

type iovec struct{ base, len uint32 }

func (p *Process) readIovecs(addr, count uint32) ([]iovec, int, Errno) {
	if count > maxIovecs {
		return nil, 0, EINVAL
	}
	b, e := p.readUser(addr, int(count)*8)
	if e != 0 {
		return nil, 0, e
	}
	iov := make([]iovec, count)
	total := 0
	for i := range iov {
		iov[i] = iovec{getU32(b, 8*i), getU32(b, 8*i+4)}
		total += int(iov[i].len)
	}
	return iov, min(total, maxIO), 0
}

// readv(fd, iov, iovcnt): one read, scattered.
func sysReadv(p *Process, t *thread, a sysArgs) sysResult {
	iov, total, e := p.readIovecs(a[1], a[2])
	if e != 0 {
		return fail(e)
	}
	f, e := p.files.get(int32(a[0]))
	if e != 0 {
		return fail(e)
	}
	data, e := p.readFile(f, total)
	if e == EAGAIN {
		return p.wouldBlock(t, int32(a[0]), f, PollIn, false)
	}
	if e != 0 {
		return fail(e)
	}
	n := len(data)
	for _, v := range iov {
		if len(data) == 0 {
			break
		}
		k := min(int(v.len), len(data))
		if e := p.writeUser(v.base, data[:k]); e != 0 {
			return fail(e)
		}
		data = data[k:]
	}
	return ok(uint32(n))
}

// writev(fd, iov, iovcnt): gathered, one write.
func sysWritev(p *Process, t *thread, a sysArgs) sysResult {
	iov, total, e := p.readIovecs(a[1], a[2])
	if e != 0 {
		return fail(e)
	}
	data := make([]byte, 0, total)
	for _, v := range iov {
		k := min(int(v.len), total-len(data))
		b, e := p.readUser(v.base, k)
		if e != 0 {
			return fail(e)
		}
		data = append(data, b...)
	}
	return p.write(t, int32(a[0]), data, false, false)
}

// fileWhere returns fd's description if it is what is asks for, else the
// errno wrong.
func (p *Process) fileWhere(fd uint32, is func(*openFile) bool, wrong Errno) (*openFile, Errno) {
	f, e := p.files.get(int32(fd))
	if e != 0 {
		return nil, e
	}
	if !is(f) {
		return nil, wrong
	}
	return f, 0
}

// envFile returns a descriptor backed by the Env (seekable, statable).
func (p *Process) envFile(fd uint32) (*openFile, Errno) {
	return p.fileWhere(fd, func(f *openFile) bool { return f.kind == fileEnv }, ESPIPE)
}

// pread64(fd, buf, count, offset_high, offset_low)
func sysPread64(p *Process, t *thread, a sysArgs) sysResult {
	f, e := p.envFile(a[0])
	if e != 0 {
		return fail(e)
	}
	if !f.readable() {
		return fail(EBADF)
	}
	data, e := p.env.Pread(f.handle, min(int(a[2]), maxIO), int64(a[3])<<32|int64(a[4]))
	if e == EAGAIN {
		return p.wouldBlock(t, int32(a[0]), f, PollIn, false)
	}
	if e != 0 {
		return fail(e)
	}
	return result(uint32(len(data)), p.writeUser(a[1], data))
}

// pwrite64(fd, buf, count, offset_high, offset_low)
func sysPwrite64(p *Process, t *thread, a sysArgs) sysResult {
	f, e := p.envFile(a[0])
	if e != 0 {
		return fail(e)
	}
	if !f.writable() {
		return fail(EBADF)
	}
	data, e := p.readUser(a[1], min(int(a[2]), maxIO))
	if e != 0 {
		return fail(e)
	}
	n, e := p.env.Pwrite(f.handle, data, int64(a[3])<<32|int64(a[4]))
	if e == EAGAIN {
		return p.wouldBlock(t, int32(a[0]), f, PollOut, false)
	}
	return result(uint32(n), e)
}

// lseek(fd, offset, whence)
func sysLseek(p *Process, t *thread, a sysArgs) sysResult {
	f, e := p.envFile(a[0])
	if e != 0 {
		return fail(e)
	}
	off, e := p.env.Seek(f.handle, int64(int32(a[1])), int(a[2]))
	if e != 0 {
		return fail(e)
	}
	if off > 0x7fffffff {
		return fail(EOVERFLOW)
	}
	return ok(uint32(off))
}

// _llseek(fd, offset_high, offset_low, result, whence)
func sysLlseek(p *Process, t *thread, a sysArgs) sysResult {
	f, e := p.envFile(a[0])
	if e != 0 {
		return fail(e)
	}
	off, e := p.env.Seek(f.handle, int64(a[1])<<32|int64(a[2]), int(a[4]))
	if e != 0 {
		return fail(e)
	}
	b := make(be, 8)
	b.u64(0, uint64(off))
	return result(0, p.writeUser(a[3], b))
}

func (p *Process) open(path string, flags, mode uint32) sysResult {
	if contents, found, e := p.procFile(path); found {
		if e != 0 {
			return fail(e)
		}
		if flags&O_ACCMODE != O_RDONLY {
			return fail(EACCES)
		}
		f := p.files.newFile(fileBuffer, 0, nil, O_RDONLY)
		f.contents = contents
		fd, e := p.files.install(f, 0, flags&O_CLOEXEC != 0)
		return result(uint32(fd), e)
	}
	h, e := p.env.Open(path, flags&^(O_NONBLOCK|O_CLOEXEC), mode&^p.umask)
	if e != 0 {
		return fail(e)
	}
	f := p.files.newFile(fileEnv, h, nil, flags&statusFlags)
	fd, e := p.files.install(f, 0, flags&O_CLOEXEC != 0)
	if e != 0 {
		p.env.Close(h)
		return fail(e)
	}
	return ok(uint32(fd))
}

// open(path, flags, mode)
func sysOpen(p *Process, t *thread, a sysArgs) sysResult {
	return p.withPath(a[0], func(path string) sysResult { return p.open(path, a[1], a[2]) })
}

// openat(dirfd, path, flags, mode)
func sysOpenat(p *Process, t *thread, a sysArgs) sysResult {
	return p.withPathAt(a[0], a[1], func(path string) sysResult { return p.open(path, a[2], a[3]) })
}

// close(fd)
func sysClose(p *Process, t *thread, a sysArgs) sysResult {
	last, e := p.files.remove(int32(a[0]))
	if e != 0 {
		return fail(e)
	}
	if last != nil {
		return result(0, p.releaseFile(last))
	}
	return ok(0)
}

// dupTo makes fd2 refer to fd's description, closing what fd2 had.
func (p *Process) dupTo(fd, fd2 int32, cloexec bool) sysResult {
	f, e := p.files.get(fd)
	if e != 0 {
		return fail(e)
	}
	if fd2 < 0 || fd2 >= maxFDs {
		return fail(EBADF)
	}
	if last, e := p.files.remove(fd2); e == 0 && last != nil {
		p.releaseFile(last)
	}
	got, e := p.files.install(f, int(fd2), cloexec)
	return result(uint32(got), e)
}

// dup(fd)
func sysDup(p *Process, t *thread, a sysArgs) sysResult {
	f, e := p.files.get(int32(a[0]))
	if e != 0 {
		return fail(e)
	}
	fd, e := p.files.install(f, 0, false)
	return result(uint32(fd), e)
}

// dup2(fd, fd2)
func sysDup2(p *Process, t *thread, a sysArgs) sysResult {
	if a[0] == a[1] {
		if _, e := p.files.get(int32(a[0])); e != 0 {
			return fail(e)
		}
		return ok(a[1])
	}
	return p.dupTo(int32(a[0]), int32(a[1]), false)
}

// dup3(fd, fd2, flags)
func sysDup3(p *Process, t *thread, a sysArgs) sysResult {
	if a[0] == a[1] || a[2]&^O_CLOEXEC != 0 {
		return fail(EINVAL)
	}
	return p.dupTo(int32(a[0]), int32(a[1]), a[2]&O_CLOEXEC != 0)
}

func (p *Process) pipe(fds, flags uint32) sysResult {
	if flags&^(O_NONBLOCK|O_CLOEXEC) != 0 {
		return fail(EINVAL)
	}
	pp := &pipe{readers: 1, writers: 1}
	r := p.files.newFile(filePipeRead, 0, pp, O_RDONLY|flags&O_NONBLOCK)
	w := p.files.newFile(filePipeWrite, 0, pp, O_WRONLY|flags&O_NONBLOCK)
	pp.id = r.id
	cloexec := flags&O_CLOEXEC != 0
	rfd, e := p.files.install(r, 0, cloexec)
	if e != 0 {
		return fail(e)
	}
	wfd, e := p.files.install(w, 0, cloexec)
	if e != 0 {
		p.files.remove(rfd)
		return fail(e)
	}
	b := make(be, 8)
	b.u32(0, uint32(rfd))
	b.u32(4, uint32(wfd))
	if e := p.writeUser(fds, b); e != 0 {
		p.files.remove(rfd)
		p.files.remove(wfd)
		return fail(e)
	}
	return ok(0)
}

// pipe(fds)
func sysPipe(p *Process, t *thread, a sysArgs) sysResult { return p.pipe(a[0], 0) }

// pipe2(fds, flags)
func sysPipe2(p *Process, t *thread, a sysArgs) sysResult { return p.pipe(a[0], a[1]) }

const (
	fDupfd        = 0
	fGetfd        = 1
	fSetfd        = 2
	fGetfl        = 3
	fSetfl        = 4
	fDupfdCloexec = 1030
)

// fcntl(fd, cmd, arg)
func sysFcntl(p *Process, t *thread, a sysArgs) sysResult {
	fd := int32(a[0])
	f, e := p.files.get(fd)
	if e != 0 {
		return fail(e)
	}
	switch a[1] {
	case fDupfd, fDupfdCloexec:
		if a[2] >= maxFDs {
			return fail(EINVAL)
		}
		got, e := p.files.install(f, int(a[2]), a[1] == fDupfdCloexec)
		return result(uint32(got), e)
	case fGetfd:
		if p.files.fds[fd].cloexec {
			return ok(fdCloexec)
		}
		return ok(0)
	case fSetfd:
		p.files.fds[fd].cloexec = a[2]&fdCloexec != 0
		return ok(0)
	case fGetfl:
		return ok(f.flags)
	case fSetfl:
		const changeable = O_APPEND | O_NONBLOCK
		f.flags = f.flags&^changeable | a[2]&changeable
		return ok(0)
	case fGetlk, fSetlk, fSetlkw, fGetlk64, fSetlk64, fSetlkw64, fOfdGetlk, fOfdSetlk, fOfdSetlkw:
		return p.recordLock(f, a[1], a[2])
	}
	return fail(EINVAL)
}

const (
	tcgets     = 0x40245410
	tiocgwinsz = 0x5413
	fionbio    = 0x5421
	fionread   = 0x541b
	termiosLen = 60
)

// ioctl(fd, request, arg)
func sysIoctl(p *Process, t *thread, a sysArgs) sysResult {
	f, e := p.files.get(int32(a[0]))
	if e != 0 {
		return fail(e)
	}
	switch a[1] {
	case tcgets, tiocgwinsz:
		if f.kind != fileEnv || !p.env.IsTerminal(f.handle) {
			return fail(ENOTTY)
		}
		if a[1] == tiocgwinsz {
			b := make(be, 8)
			b.u16(0, 24) // rows
			b.u16(2, 80) // columns
			return result(0, p.writeUser(a[2], b))
		}
		return result(0, p.writeUser(a[2], defaultTermios()))
	case fionbio:
		v, e := p.readU32(a[2])
		if e != 0 {
			return fail(e)
		}
		if v != 0 {
			f.flags |= O_NONBLOCK
		} else {
			f.flags &^= O_NONBLOCK
		}
		return ok(0)
	case fionread:
		if f.kind != filePipeRead {
			return fail(ENOTTY)
		}
		return result(0, p.writeU32(a[2], uint32(len(f.pipe.buf))))
	}
	return fail(ENOTTY)
}

// defaultTermios is a cooked-mode terminal: ICRNL|IXON, OPOST|ONLCR,
// B38400|CS8|CREAD, ISIG|ICANON|ECHO|ECHOE|ECHOK|IEXTEN, and the usual
// control characters.
func defaultTermios() []byte {
	b := make(be, termiosLen)
	b.u32(0, 0x0500)
	b.u32(4, 0x0005)
	b.u32(8, 0x00bf)
	b.u32(12, 0x8a3b)
	copy(b[17:], []byte{3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22})
	return b
}

// umask(mask)
func sysUmask(p *Process, t *thread, a sysArgs) sysResult {
	old := p.umask
	p.umask = a[0] & 0o777
	return ok(old)
}

// fsync(fd), fdatasync(fd)
func sysFsync(p *Process, t *thread, a sysArgs) sysResult {
	_, e := p.files.get(int32(a[0]))
	return result(0, e)
}

func (p *Process) ftruncate(fd uint32, length int64) sysResult {
	if length < 0 {
		return fail(EINVAL)
	}
	f, e := p.envFile(fd)
	if e != 0 {
		return fail(e)
	}
	return result(0, p.env.Truncate(f.handle, length))
}

// truncate sets the length of the file at path through a handle of its
// own, since the Env truncates open files only.
func (p *Process) truncate(path string, length int64) sysResult {
	if length < 0 {
		return fail(EINVAL)
	}
	h, e := p.env.Open(path, O_WRONLY, 0)
	if e != 0 {
		return fail(e)
	}
	defer p.env.Close(h)
	return result(0, p.env.Truncate(h, length))
}

// ftruncate(fd, length): the length is a signed 32-bit value.
func sysFtruncate(p *Process, t *thread, a sysArgs) sysResult {
	return p.ftruncate(a[0], int64(int32(a[1])))
}

// ftruncate64(fd, length_high, length_low)
func sysFtruncate64(p *Process, t *thread, a sysArgs) sysResult {
	return p.ftruncate(a[0], int64(a[1])<<32|int64(a[2]))
}

// truncate(path, length)
func sysTruncate(p *Process, t *thread, a sysArgs) sysResult {
	return p.withPath(a[0], func(path string) sysResult { return p.truncate(path, int64(int32(a[1]))) })
}

// truncate64(path, length_high, length_low)
func sysTruncate64(p *Process, t *thread, a sysArgs) sysResult {
	return p.withPath(a[0], func(path string) sysResult { return p.truncate(path, int64(a[1])<<32|int64(a[2])) })
}

// getcwd(buf, size): returns the length including the NUL.
func sysGetcwd(p *Process, t *thread, a sysArgs) sysResult {
	cwd, e := p.env.Getcwd()
	if e != 0 {
		return fail(e)
	}
	b := append([]byte(cwd), 0)
	if uint32(len(b)) > a[1] {
		return fail(ERANGE)
	}
	return result(uint32(len(b)), p.writeUser(a[0], b))
}

// readlink answers the exe links of the guest's processes itself
// (/proc/self/exe, /proc/PID/exe); other links come from the Env.
func (p *Process) readlink(path string, buf, size uint32) sysResult {
	if int32(size) <= 0 {
		return fail(EINVAL)
	}
	var target string
	switch q, name, found, e := p.procProcess(path); {
	case found && e != 0:
		return fail(e)
	case found && name == "exe":
		target = q.cfg.ExePath
	default:
		if target, e = p.env.Readlink(path); e != 0 {
			return fail(e)
		}
	}
	b := []byte(target)[:min(len(target), int(size))]
	return result(uint32(len(b)), p.writeUser(buf, b))
}

// readlink(path, buf, size)
func sysReadlink(p *Process, t *thread, a sysArgs) sysResult {
	return p.withPath(a[0], func(path string) sysResult { return p.readlink(path, a[1], a[2]) })
}

// readlinkat(dirfd, path, buf, size)
func sysReadlinkat(p *Process, t *thread, a sysArgs) sysResult {
	return p.withPathAt(a[0], a[1], func(path string) sysResult { return p.readlink(path, a[2], a[3]) })
}

// getdents64(fd, dirp, count): linux_dirent64 records from the listing the
// Env gave when the directory was first read.
func sysGetdents64(p *Process, t *thread, a sysArgs) sysResult {
	f, e := p.envFile(a[0])
	if e != 0 {
		return fail(e)
	}
	if !f.dirRead {
		entries, e := p.env.ReadDir(f.handle)
		if e != 0 {
			return fail(e)
		}
		f.dir, f.dirRead = entries, true
	}
	var out be
	for f.dirPos < len(f.dir) {
		d := f.dir[f.dirPos]
		reclen := (19 + len(d.Name) + 1 + 7) &^ 7
		if len(out)+reclen > int(a[2]) {
			if len(out) == 0 {
				return fail(EINVAL)
			}
			break
		}
		rec := make(be, reclen)
		rec.u64(0, d.Ino)
		rec.u64(8, uint64(f.dirPos+1))
		rec.u16(16, uint16(reclen))
		rec[18] = d.Type
		copy(rec[19:], d.Name)
		out = append(out, rec...)
		f.dirPos++
	}
	return result(uint32(len(out)), p.writeUser(a[1], out))
}

func (p *Process) access(path string) sysResult {
	_, e := p.env.StatPath(path, true)
	return result(0, e)
}

// access(path, mode)
func sysAccess(p *Process, t *thread, a sysArgs) sysResult { return p.withPath(a[0], p.access) }

// faccessat(dirfd, path, mode[, flags])
func sysFaccessat(p *Process, t *thread, a sysArgs) sysResult {
	return p.withPathAt(a[0], a[1], p.access)
}

// withPath reads the path at addr and hands it to do.
func (p *Process) withPath(addr uint32, do func(string) sysResult) sysResult {
	path, e := p.readPath(addr)
	if e != 0 {
		return fail(e)
	}
	return do(path)
}

// withPathAt reads the path at addr, relative to dirfd, and hands it to do.
func (p *Process) withPathAt(dirfd, addr uint32, do func(string) sysResult) sysResult {
	path, e := p.pathAt(dirfd, addr)
	if e != 0 {
		return fail(e)
	}
	return do(path)
}

// errnoOnly adapts an Env call that returns only an errno.
func errnoOnly(do func(string) Errno) func(string) sysResult {
	return func(path string) sysResult { return result(0, do(path)) }
}

// unlink(path)
func sysUnlink(p *Process, t *thread, a sysArgs) sysResult {
	return p.withPath(a[0], errnoOnly(func(path string) Errno { return p.env.Unlink(path, false) }))
}

// rmdir(path)
func sysRmdir(p *Process, t *thread, a sysArgs) sysResult {
	return p.withPath(a[0], errnoOnly(func(path string) Errno { return p.env.Unlink(path, true) }))
}

// unlinkat(dirfd, path, flags)
func sysUnlinkat(p *Process, t *thread, a sysArgs) sysResult {
	return p.withPathAt(a[0], a[1], errnoOnly(func(path string) Errno { return p.env.Unlink(path, a[2]&atRemovedir != 0) }))
}

// mkdir(path, mode)
func sysMkdir(p *Process, t *thread, a sysArgs) sysResult {
	return p.withPath(a[0], errnoOnly(func(path string) Errno { return p.env.Mkdir(path, a[1]&^p.umask) }))
}

// mkdirat(dirfd, path, mode)
func sysMkdirat(p *Process, t *thread, a sysArgs) sysResult {
	return p.withPathAt(a[0], a[1], errnoOnly(func(path string) Errno { return p.env.Mkdir(path, a[2]&^p.umask) }))
}

// rename(from, to)
func sysRename(p *Process, t *thread, a sysArgs) sysResult {
	to, e := p.readPath(a[1])
	if e != 0 {
		return fail(e)
	}
	return p.withPath(a[0], errnoOnly(func(from string) Errno { return p.env.Rename(from, to) }))
}

// renameat(fromdirfd, from, todirfd, to)
func sysRenameat(p *Process, t *thread, a sysArgs) sysResult {
	to, e := p.pathAt(a[2], a[3])
	if e != 0 {
		return fail(e)
	}
	return p.withPathAt(a[0], a[1], errnoOnly(func(from string) Errno { return p.env.Rename(from, to) }))
}
