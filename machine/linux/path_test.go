package linux_test

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/machine/linux"
)

const (
	nrLink        = 9
	nrChdir       = 12
	nrChmod       = 15
	nrSymlink     = 83
	nrFchmod      = 94
	nrFchown      = 95
	nrGetcwd      = 110
	nrFchdir      = 133
	nrChown       = 180
	nrFchmodat    = 286
	nrFstatat64   = 280
	nrUtimensat   = 301
	nrUtimensat64 = 412
	atFDCWD       = 0xffffff9c
	stat64ModeAt  = 16
	stat64UIDAt   = 24
	stat64MtimeAt = 80
)

// TestPathCallsReachTheEnv: chdir and getcwd agree, and chmod, chown and
// utimensat change what stat reports, by path and by descriptor.
func TestPathCallsReachTheEnv(t *testing.T) {
	p, env := newKernel(t)
	env.Files["/srv/data/f"] = []byte("contents")
	buf := scratch(t, p)
	call := func(nr uint32, args ...uint32) uint32 { return first(linux.Syscall(p, mainTID, nr, args...)) }
	path := func(s string) uint32 { poke(t, p, buf, []byte(s+"\x00")); return buf }
	stat := func(name string) []byte {
		require.Equal(t, uint32(0), call(nrFstatat64, atFDCWD, path(name), buf+0x200, 0))
		return peek(t, p, buf+0x200, 104)
	}
	getcwd := func() string {
		n := call(nrGetcwd, buf+0x400, 256)
		require.Less(t, n, uint32(256), "getcwd failed: %d", int32(n))
		return string(peek(t, p, buf+0x400, int(n)-1))
	}

	require.Equal(t, uint32(0), call(nrChdir, path("/srv")))
	require.Equal(t, "/srv", getcwd())
	require.Equal(t, uint32(0), call(nrChmod, path("data/f"), 0o100600), "relative to the new directory")
	require.Equal(t, uint32(linux.S_IFREG|0o600), binary.BigEndian.Uint32(stat("/srv/data/f")[stat64ModeAt:]))
	require.Equal(t, neg(linux.ENOTDIR), call(nrChdir, path("data/f")))
	require.Equal(t, neg(linux.ENOENT), call(nrChdir, path("/nope")))

	fd := call(nrOpenat, atFDCWD, path("/srv/data"), linux.O_RDONLY|linux.O_DIRECTORY, 0)
	require.Equal(t, uint32(0), call(nrFchdir, fd))
	require.Equal(t, "/srv/data", getcwd())
	file := call(nrOpenat, atFDCWD, path("f"), linux.O_RDONLY, 0)
	require.Equal(t, uint32(0), call(nrFchmod, file, 0o640))
	require.Equal(t, uint32(0), call(nrFchown, file, 1234, ^uint32(0)))
	st := stat("f")
	require.Equal(t, uint32(linux.S_IFREG|0o640), binary.BigEndian.Uint32(st[stat64ModeAt:]))
	require.Equal(t, uint32(1234), binary.BigEndian.Uint32(st[stat64UIDAt:]))
	require.Equal(t, uint32(0), call(nrFchmodat, atFDCWD, path("/srv/data/f"), 0o444))
	require.Equal(t, uint32(0), call(nrChown, path("f"), ^uint32(0), 99))
	require.Equal(t, uint32(99), binary.BigEndian.Uint32(stat("f")[stat64UIDAt+4:]), "gid")

	times := buf + 0x300
	poke(t, p, times, []byte{0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 7})
	require.Equal(t, uint32(0), call(nrUtimensat, atFDCWD, path("f"), times, 0))
	require.Equal(t, []byte{0, 0, 0, 100, 0, 0, 0, 7}, stat("f")[stat64MtimeAt:stat64MtimeAt+8])
	poke(t, p, times, []byte{0, 0, 0, 0, 0, 0, 0, 200, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x3f, 0xff, 0xff, 0xfe})
	require.Equal(t, uint32(0), call(nrUtimensat64, file, 0, times, 0), "futimens, mtime omitted")
	require.Equal(t, []byte{0, 0, 0, 100, 0, 0, 0, 7}, stat("f")[stat64MtimeAt:stat64MtimeAt+8])

	require.Equal(t, neg(linux.EROFS), call(nrSymlink, path("f"), buf+2), "memenv's names are fixed")
	require.Equal(t, neg(linux.EROFS), call(nrLink, path("f"), buf+2))
}

// TestPathCallsCheckTheirArguments: the errors Linux answers before it
// touches a file, and the kernel's own descriptors.
func TestPathCallsCheckTheirArguments(t *testing.T) {
	p, env := newKernel(t)
	env.Files["/f"] = nil
	buf := scratch(t, p)
	call := func(nr uint32, args ...uint32) uint32 { return first(linux.Syscall(p, mainTID, nr, args...)) }
	poke(t, p, buf, []byte("/f\x00"))
	times := buf + 0x100
	poke(t, p, times, []byte{0, 0, 0, 1, 0x40, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}) // tv_nsec 1<<30: invalid
	require.Equal(t, neg(linux.EINVAL), call(nrUtimensat, atFDCWD, buf, times, 0))
	poke(t, p, times, []byte{0, 0, 0, 1, 0x3f, 0xff, 0xff, 0xfe, 0, 0, 0, 1, 0x3f, 0xff, 0xff, 0xfe})
	require.Equal(t, uint32(0), call(nrUtimensat, atFDCWD, buf+1, times, 0), "both omitted: the path is not looked at")
	require.Equal(t, neg(linux.EINVAL), call(nrUtimensat, atFDCWD, buf, 0, 0x8000))
	require.Equal(t, neg(linux.EFAULT), call(nrUtimensat, atFDCWD, 0, 0, 0))
	require.Equal(t, neg(linux.EBADF), call(nrUtimensat, 42, 0, 0, 0))
	require.Equal(t, neg(linux.ENOENT), call(nrChmod, buf+2, 0o600), "empty path")

	require.Equal(t, uint32(0), call(nrPipe2, buf+0x80, 0))
	pipe := word(t, p, buf+0x80)
	require.Equal(t, uint32(0), call(nrFchmod, pipe, 0o600), "a pipe keeps its mode")
	require.Equal(t, uint32(0), call(nrUtimensat, pipe, 0, 0, 0))
	require.Equal(t, neg(linux.ENOTDIR), call(nrFchdir, pipe))
	require.Equal(t, neg(linux.EBADF), call(nrFchdir, 42))
}
