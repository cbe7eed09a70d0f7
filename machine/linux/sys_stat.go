package linux

// stat64, fstatat64 and statx: one Stat from the Env, two guest layouts.

const (
	stat64Bytes     = 104
	statxBytes      = 256
	statxBasicStats = 0x7ff
)

// statOf stats an open description; pipes are the kernel's own.
func (p *Process) statOf(f *openFile) (Stat, Errno) {
	st := Stat{Nlink: 1, UID: p.cfg.UID, GID: p.cfg.GID, Blksize: 4096, Ino: uint64(f.id)}
	switch f.kind {
	case fileEnv:
		return p.env.Stat(f.handle)
	case fileBuffer:
		st.Mode = S_IFREG | 0o444 // size 0, as /proc files report
	default:
		st.Mode = S_IFIFO | 0o600
	}
	return st, 0
}

// encodeStat64 lays st out as hppa's struct stat64.
func encodeStat64(st Stat) []byte {
	b := make(be, stat64Bytes)
	b.u64(0, st.Dev)
	b.u32(12, uint32(st.Ino))
	b.u32(16, st.Mode)
	b.u32(20, st.Nlink)
	b.u32(24, st.UID)
	b.u32(28, st.GID)
	b.u64(32, st.Rdev)
	b.u64(48, uint64(st.Size))
	b.u32(56, uint32(st.Blksize))
	b.u64(64, uint64(st.Blocks))
	for i, ns := range []int64{st.Atime, st.Mtime, st.Ctime} {
		b.u32(72+8*i, uint32(ns/nanosPerSecond))
		b.u32(76+8*i, uint32(ns%nanosPerSecond))
	}
	b.u64(96, st.Ino)
	return b
}

func devMajor(dev uint64) uint32 { return uint32(dev>>8&0xfff | dev>>32&^0xfff) }
func devMinor(dev uint64) uint32 { return uint32(dev&0xff | dev>>12&^0xff) }

// encodeStatx lays st out as struct statx with every basic field valid.
func encodeStatx(st Stat) []byte {
	b := make(be, statxBytes)
	b.u32(0, statxBasicStats)
	b.u32(4, uint32(st.Blksize))
	b.u32(16, st.Nlink)
	b.u32(20, st.UID)
	b.u32(24, st.GID)
	b.u16(28, uint16(st.Mode))
	b.u64(32, st.Ino)
	b.u64(40, uint64(st.Size))
	b.u64(48, uint64(st.Blocks))
	for _, ts := range []struct {
		off int
		ns  int64
	}{{64, st.Atime}, {96, st.Ctime}, {112, st.Mtime}} {
		b.u64(ts.off, uint64(ts.ns/nanosPerSecond))
		b.u32(ts.off+8, uint32(ts.ns%nanosPerSecond))
	}
	b.u32(128, devMajor(st.Rdev))
	b.u32(132, devMinor(st.Rdev))
	b.u32(136, devMajor(st.Dev))
	b.u32(140, devMinor(st.Dev))
	return b
}

// statAt stats path relative to dirfd, or dirfd itself with AT_EMPTY_PATH.
func (p *Process) statAt(dirfd, pathAddr, flags uint32) (Stat, Errno) {
	path, e := p.readString(pathAddr, maxPath)
	if e != 0 {
		return Stat{}, e
	}
	if path == "" {
		if flags&atEmptyPath == 0 {
			return Stat{}, ENOENT
		}
		f, e := p.files.get(int32(dirfd))
		if e != 0 {
			return Stat{}, e
		}
		return p.statOf(f)
	}
	if path[0] != '/' && int32(dirfd) != atFDCWD {
		return Stat{}, ENOTSUP
	}
	return p.env.StatPath(path, flags&atSymlinkNofollow == 0)
}

func (p *Process) putStat(st Stat, e Errno, buf uint32, encode func(Stat) []byte) sysResult {
	if e != 0 {
		return fail(e)
	}
	return result(0, p.writeUser(buf, encode(st)))
}

// statx(dirfd, path, flags, mask, buf)
func sysStatx(p *Process, t *thread, a sysArgs) sysResult {
	st, e := p.statAt(a[0], a[1], a[2])
	return p.putStat(st, e, a[4], encodeStatx)
}

// fstatat64(dirfd, path, buf, flags)
func sysFstatat64(p *Process, t *thread, a sysArgs) sysResult {
	st, e := p.statAt(a[0], a[1], a[3])
	return p.putStat(st, e, a[2], encodeStat64)
}

// stat64(path, buf)
func sysStat64(p *Process, t *thread, a sysArgs) sysResult {
	st, e := p.statAt(atFDCWDArg, a[0], 0)
	return p.putStat(st, e, a[1], encodeStat64)
}

// lstat64(path, buf)
func sysLstat64(p *Process, t *thread, a sysArgs) sysResult {
	st, e := p.statAt(atFDCWDArg, a[0], atSymlinkNofollow)
	return p.putStat(st, e, a[1], encodeStat64)
}

// fstat64(fd, buf)
func sysFstat64(p *Process, t *thread, a sysArgs) sysResult {
	f, e := p.files.get(int32(a[0]))
	if e != 0 {
		return fail(e)
	}
	st, e := p.statOf(f)
	return p.putStat(st, e, a[1], encodeStat64)
}
