package linux_test

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/machine/linux"
)

const (
	nrStatfs    = 99
	nrFstatfs   = 100
	nrStatfs64  = 298
	nrFstatfs64 = 299
)

// TestStatfsDescribesTheFileSystem: the Env's file systems in both guest
// layouts, and the kernel's own for its pipes.
func TestStatfsDescribesTheFileSystem(t *testing.T) {
	p, env := newKernel(t)
	env.Files["/etc/motd"] = []byte("welcome")
	buf := scratch(t, p)
	poke(t, p, buf, []byte("/etc/motd\x00"))
	out := buf + 0x100

	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrStatfs64, buf, 88, out)))
	st := peek(t, p, out, 88)
	u32 := func(off int) uint32 { return binary.BigEndian.Uint32(st[off:]) }
	u64 := func(off int) uint64 { return binary.BigEndian.Uint64(st[off:]) }
	require.Equal(t, uint32(linux.TMPFS_MAGIC), u32(0), "f_type")
	require.Equal(t, uint32(4096), u32(4), "f_bsize")
	require.Equal(t, uint64(1<<18), u64(8), "f_blocks")
	require.Equal(t, uint64(1<<18-1), u64(16), "f_bfree: one block in use")
	require.Equal(t, uint64(1<<16-1), u64(40), "f_ffree")
	require.Equal(t, uint32(255), u32(56), "f_namelen")
	require.Equal(t, uint32(4096), u32(60), "f_frsize")
	require.Equal(t, uint32(linux.ST_VALID), u32(64), "f_flags")

	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrStatfs, buf, out)))
	st = peek(t, p, out, 64)
	require.Equal(t, []uint32{linux.TMPFS_MAGIC, 4096, 1 << 18, 1<<18 - 1}, []uint32{u32(0), u32(4), u32(8), u32(12)})
	require.Equal(t, []uint32{255, 4096, linux.ST_VALID}, []uint32{u32(36), u32(40), u32(44)}, "namelen, frsize, flags")

	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrPipe2, buf+0x80, 0)))
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrFstatfs64, word(t, p, buf+0x80), 88, out)))
	st = peek(t, p, out, 88)
	require.Equal(t, uint32(linux.PIPEFS_MAGIC), u32(0))
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrFstatfs, 1, out)), "the console")
	st = peek(t, p, out, 64)
	require.Equal(t, uint32(linux.PIPEFS_MAGIC), u32(0))

	require.Equal(t, neg(linux.EBADF), first(linux.Syscall(p, mainTID, nrFstatfs64, 99, 88, out)))
	poke(t, p, buf, []byte("/nope\x00"))
	require.Equal(t, neg(linux.ENOENT), first(linux.Syscall(p, mainTID, nrStatfs64, buf, 88, out)))
}
