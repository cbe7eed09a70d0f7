package linux

// The path calls that move the working directory, add names or change
// metadata: chdir, link, symlink, chmod, chown and utimensat, with their
// descriptor and *at forms. The Env carries them out; the kernel reads the
// arguments, resolves descriptors and checks flags as Linux does.

const (
	atSymlinkFollow = 0x400
	// fixedMetadata is the partial note of the calls that take a
	// descriptor: the kernel's own keep their mode, owner and times.
	fixedMetadata = "the kernel's own descriptors (pipes, eventfds, epoll, /proc files) keep their fixed metadata; the call succeeds"
)

// fdRef names the file open as fd. internal is set for the kernel's own
// descriptors, which the Env does not know.
func (p *Process) fdRef(fd uint32) (ref FileRef, internal bool, e Errno) {
	f, e := p.files.get(int32(fd))
	switch {
	case e != 0:
		return FileRef{}, false, e
	case f.kind != fileEnv:
		return FileRef{}, true, 0
	}
	return FileRef{Handle: f.handle}, false, 0
}

// refAt names the file of an *at call: dirfd itself when the path is empty
// and flags has AT_EMPTY_PATH, else the path relative to dirfd.
func (p *Process) refAt(dirfd, pathAddr, flags uint32, follow bool) (ref FileRef, internal bool, e Errno) {
	path, e := p.readString(pathAddr, maxPath)
	switch {
	case e != 0:
		return FileRef{}, false, e
	case path == "" && flags&atEmptyPath != 0:
		return p.fdRef(dirfd)
	case path == "":
		return FileRef{}, false, ENOENT
	case path[0] != '/' && int32(dirfd) != atFDCWD:
		return FileRef{}, false, ENOTSUP // see pathAt
	}
	return FileRef{Path: path, Follow: follow}, false, 0
}

// change applies do to ref; for the kernel's own descriptors it succeeds
// and changes nothing.
func change(ref FileRef, internal bool, e Errno, do func(FileRef) Errno) sysResult {
	switch {
	case e != 0:
		return fail(e)
	case internal:
		return ok(0)
	}
	return result(0, do(ref))
}

// changePath applies do to the file at the path at addr.
func (p *Process) changePath(addr uint32, follow bool, do func(FileRef) Errno) sysResult {
	return p.withPath(addr, func(path string) sysResult { return result(0, do(FileRef{Path: path, Follow: follow})) })
}

// changeFD applies do to the file open as fd.
func (p *Process) changeFD(fd uint32, do func(FileRef) Errno) sysResult {
	ref, internal, e := p.fdRef(fd)
	return change(ref, internal, e, do)
}

// chdir(path)
func sysChdir(p *Process, t *thread, a sysArgs) sysResult {
	return p.changePath(a[0], true, p.chdir)
}

// fchdir(fd): a kernel descriptor is never a directory.
func sysFchdir(p *Process, t *thread, a sysArgs) sysResult {
	ref, internal, e := p.fdRef(a[0])
	if internal {
		e = ENOTDIR
	}
	return change(ref, false, e, p.chdir)
}

// link(oldpath, newpath): a final symlink is linked, not followed.
func sysLink(p *Process, t *thread, a sysArgs) sysResult {
	to, e := p.readPath(a[1])
	if e != 0 {
		return fail(e)
	}
	return p.changePath(a[0], false, func(from FileRef) Errno { return p.env.Link(from, to) })
}

// linkat(olddirfd, oldpath, newdirfd, newpath, flags): a kernel descriptor
// has no name to link (ENOENT, as for an unlinked file).
func sysLinkat(p *Process, t *thread, a sysArgs) sysResult {
	flags := a[4]
	if flags&^(atSymlinkFollow|atEmptyPath) != 0 {
		return fail(EINVAL)
	}
	to, e := p.pathAt(a[2], a[3])
	if e != 0 {
		return fail(e)
	}
	from, internal, e := p.refAt(a[0], a[1], flags, flags&atSymlinkFollow != 0)
	if internal {
		e = ENOENT
	}
	return change(from, false, e, func(from FileRef) Errno { return p.env.Link(from, to) })
}

func (p *Process) symlink(targetAddr, dirfd, pathAddr uint32) sysResult {
	target, e := p.readPath(targetAddr)
	if e != 0 {
		return fail(e)
	}
	return p.withPathAt(dirfd, pathAddr, errnoOnly(func(path string) Errno { return p.env.Symlink(target, path) }))
}

// symlink(target, linkpath)
func sysSymlink(p *Process, t *thread, a sysArgs) sysResult {
	return p.symlink(a[0], atFDCWDArg, a[1])
}

// symlinkat(target, newdirfd, linkpath)
func sysSymlinkat(p *Process, t *thread, a sysArgs) sysResult { return p.symlink(a[0], a[1], a[2]) }

func (p *Process) chmod(mode uint32) func(FileRef) Errno {
	return func(f FileRef) Errno { return p.env.Chmod(f, mode&0o7777) }
}

// chmod(path, mode)
func sysChmod(p *Process, t *thread, a sysArgs) sysResult {
	return p.changePath(a[0], true, p.chmod(a[1]))
}

// fchmod(fd, mode)
func sysFchmod(p *Process, t *thread, a sysArgs) sysResult { return p.changeFD(a[0], p.chmod(a[1])) }

// fchmodat(dirfd, path, mode): hppa's has no flags argument.
func sysFchmodat(p *Process, t *thread, a sysArgs) sysResult {
	ref, internal, e := p.refAt(a[0], a[1], 0, true)
	return change(ref, internal, e, p.chmod(a[2]))
}

func (p *Process) chown(uid, gid uint32) func(FileRef) Errno {
	return func(f FileRef) Errno { return p.env.Chown(f, uid, gid) }
}

// chown(path, uid, gid) follows a final symlink; lchown(path, uid, gid)
// changes the link itself.
func sysChown(p *Process, t *thread, a sysArgs) sysResult {
	return p.changePath(a[0], true, p.chown(a[1], a[2]))
}

func sysLchown(p *Process, t *thread, a sysArgs) sysResult {
	return p.changePath(a[0], false, p.chown(a[1], a[2]))
}

// fchown(fd, uid, gid)
func sysFchown(p *Process, t *thread, a sysArgs) sysResult {
	return p.changeFD(a[0], p.chown(a[1], a[2]))
}

// fchownat(dirfd, path, uid, gid, flags)
func sysFchownat(p *Process, t *thread, a sysArgs) sysResult {
	flags := a[4]
	if flags&^(atSymlinkNofollow|atEmptyPath) != 0 {
		return fail(EINVAL)
	}
	ref, internal, e := p.refAt(a[0], a[1], flags, flags&atSymlinkNofollow == 0)
	return change(ref, internal, e, p.chown(a[2], a[3]))
}

// utimensat(dirfd, path, times, flags), in Linux's order of checks. No
// times means now for both; a NULL path means dirfd itself (futimens).
func (p *Process) utimensat(a sysArgs, time64 bool) sysResult {
	dirfd, pathAddr, timesAddr, flags := a[0], a[1], a[2], a[3]
	times := [2]Timespec{{Nsec: UtimeNow}, {Nsec: UtimeNow}}
	if timesAddr != 0 {
		size := uint32(8)
		if time64 {
			size = 16
		}
		for i := range times {
			ts, e := p.readTimespec(timesAddr+uint32(i)*size, time64)
			if e != 0 {
				return fail(e)
			}
			times[i] = Timespec{Sec: ts.sec, Nsec: ts.nsec}
		}
		if times[0].Nsec == UtimeOmit && times[1].Nsec == UtimeOmit {
			return ok(0) // nothing to do: Linux does not even look at the path
		}
		for _, ts := range times {
			if ts.Nsec != UtimeNow && ts.Nsec != UtimeOmit && (ts.Nsec < 0 || ts.Nsec >= nanosPerSecond) {
				return fail(EINVAL)
			}
		}
	}
	if flags&^(atSymlinkNofollow|atEmptyPath) != 0 {
		return fail(EINVAL)
	}
	setTimes := func(f FileRef) Errno { return p.env.SetTimes(f, times[0], times[1]) }
	switch {
	case pathAddr == 0 && int32(dirfd) == atFDCWD:
		return fail(EFAULT)
	case pathAddr == 0 && flags != 0:
		return fail(EINVAL)
	case pathAddr == 0:
		return p.changeFD(dirfd, setTimes)
	}
	ref, internal, e := p.refAt(dirfd, pathAddr, flags, flags&atSymlinkNofollow == 0)
	return change(ref, internal, e, setTimes)
}

func sysUtimensat(p *Process, t *thread, a sysArgs) sysResult { return p.utimensat(a, false) }

func sysUtimensat64(p *Process, t *thread, a sysArgs) sysResult { return p.utimensat(a, true) }
