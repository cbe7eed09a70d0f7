package linux

// statfs, fstatfs and their 64-bit forms: the Env describes the file
// systems it holds; the kernel's own descriptors (pipes, eventfds, epoll,
// /proc files) sit on file systems of the kernel's.

const (
	statfsBytes   = 64
	statfs64Bytes = 88

	anonInodeFSMagic = 0x09041934
	procSuperMagic   = 0x9fa0
)

// kernelFS describes one of the kernel's own file systems.
func kernelFS(magic uint32) Statfs {
	st := PipeFS
	st.Type = magic
	return st
}

// statfsOf describes the file system of an open description.
func (p *Process) statfsOf(f *openFile) (Statfs, Errno) {
	switch f.kind {
	case fileEnv:
		return p.env.Statfs(FileRef{Handle: f.handle})
	case filePipeRead, filePipeWrite:
		return PipeFS, 0
	case fileBuffer:
		return kernelFS(procSuperMagic), 0
	}
	return kernelFS(anonInodeFSMagic), 0
}

// encodeStatfs lays st out as hppa's struct statfs: every count in 32
// bits, cut to them as qemu-hppa cuts them (Linux would answer EOVERFLOW).
func encodeStatfs(st Statfs) []byte {
	b := make(be, statfsBytes)
	for i, v := range []uint64{uint64(st.Type), uint64(st.Bsize), st.Blocks, st.Bfree, st.Bavail, st.Files, st.Ffree} {
		b.u32(4*i, uint32(v))
	}
	putStatfsTail(b, 28, st)
	return b
}

// putStatfsTail lays out the fields both layouts end with, from off.
func putStatfsTail(b be, off int, st Statfs) {
	for i, v := range []uint32{st.Fsid[0], st.Fsid[1], st.Namelen, st.Frsize, st.Flags} {
		b.u32(off+4*i, v)
	}
}

// encodeStatfs64 lays st out as hppa's struct statfs64.
func encodeStatfs64(st Statfs) []byte {
	b := make(be, statfs64Bytes)
	b.u32(0, st.Type)
	b.u32(4, st.Bsize)
	for i, v := range []uint64{st.Blocks, st.Bfree, st.Bavail, st.Files, st.Ffree} {
		b.u64(8+8*i, v)
	}
	putStatfsTail(b, 48, st)
	return b
}

func (p *Process) putStatfs(st Statfs, e Errno, buf uint32, encode func(Statfs) []byte) sysResult {
	if e != 0 {
		return fail(e)
	}
	return result(0, p.writeUser(buf, encode(st)))
}

func (p *Process) statfsPath(pathAddr, buf uint32, encode func(Statfs) []byte) sysResult {
	return p.withPath(pathAddr, func(path string) sysResult {
		st, e := p.env.Statfs(FileRef{Path: path, Follow: true})
		return p.putStatfs(st, e, buf, encode)
	})
}

func (p *Process) statfsFD(fd, buf uint32, encode func(Statfs) []byte) sysResult {
	f, e := p.files.get(int32(fd))
	if e != 0 {
		return fail(e)
	}
	st, e := p.statfsOf(f)
	return p.putStatfs(st, e, buf, encode)
}

// statfs(path, buf)
func sysStatfs(p *Process, t *thread, a sysArgs) sysResult {
	return p.statfsPath(a[0], a[1], encodeStatfs)
}

// fstatfs(fd, buf)
func sysFstatfs(p *Process, t *thread, a sysArgs) sysResult {
	return p.statfsFD(a[0], a[1], encodeStatfs)
}

// statfs64(path, size, buf) and fstatfs64(fd, size, buf): the size is not
// checked, as qemu-hppa does not check it (Linux wants 88).
func sysStatfs64(p *Process, t *thread, a sysArgs) sysResult {
	return p.statfsPath(a[0], a[2], encodeStatfs64)
}

func sysFstatfs64(p *Process, t *thread, a sysArgs) sysResult {
	return p.statfsFD(a[0], a[2], encodeStatfs64)
}
