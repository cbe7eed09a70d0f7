package linux_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/machine/linux"
	"github.com/synodvm/synod/machine/linux/memenv"
)

const (
	nrPwrite64  = 109
	nrMadvise   = 119
	nrMsync     = 144
	nrMremap    = 163
	nrExitGroup = 222

	protRW        = 3
	mapShared     = 0x01
	mapPrivate    = 0x02
	mapSharedAnon = 0x11
	msSync        = 1
	msAsync       = 2
	madvDontneed  = 4
)

// mappedFile gives the kernel's process a file of size bytes (a pattern)
// at /data, opened with flags, and returns the descriptor and a scratch
// page.
func mappedFile(t *testing.T, size int, flags uint32) (*linux.Process, *memenv.Env, uint32, uint32) {
	t.Helper()
	p, env := newKernel(t)
	env.Files["/data"] = bytes.Repeat([]byte("0123456789abcdef"), size/16)
	buf := scratch(t, p)
	poke(t, p, buf, []byte("/data\x00"))
	fd, _ := linux.Syscall(p, mainTID, nrOpenat, 0xffffff9c, buf, flags, 0)
	require.Equal(t, uint32(3), fd)
	return p, env, fd, buf
}

func mmap(t *testing.T, p *linux.Process, length, prot, flags, fd, pgoff uint32) uint32 {
	t.Helper()
	addr, _ := linux.Syscall(p, mainTID, nrMmap2, 0, length, prot, flags, fd, pgoff)
	require.Less(t, addr, uint32(0xfffff000), "mmap failed: %d", int32(addr))
	return addr
}

// TestSharedFileMappingReachesTheFile: what the guest writes through a
// MAP_SHARED mapping reaches the file on msync, on munmap and at exit, even
// after the descriptor is closed; a private mapping's writes never do.
func TestSharedFileMappingReachesTheFile(t *testing.T) {
	t.Run("msync", func(t *testing.T) {
		p, env, fd, _ := mappedFile(t, 6000, linux.O_RDWR)
		addr := mmap(t, p, 8192, protRW, mapShared, fd, 0)
		require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrClose, fd)))
		poke(t, p, addr+10, []byte("MAPPED"))
		poke(t, p, addr+4100, []byte("SECOND"))
		poke(t, p, addr+7000, []byte("past the end"))
		require.Equal(t, "abcdef", string(env.Files["/data"][10:16]), "not before msync")

		require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrMsync, addr, 8192, msSync)))
		data := env.Files["/data"]
		require.Equal(t, "MAPPED", string(data[10:16]))
		require.Equal(t, "SECOND", string(data[4100:4106]))
		require.Len(t, data, 6000, "a mapping never makes its file longer")

		poke(t, p, addr+20, []byte("ASYNC"))
		require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrMsync, addr, 1, msAsync)))
		require.Equal(t, "ASYNC", string(env.Files["/data"][20:25]))
	})
	t.Run("munmap", func(t *testing.T) {
		p, env, fd, _ := mappedFile(t, 8192, linux.O_RDWR)
		addr := mmap(t, p, 8192, protRW, mapShared, fd, 1) // the file's second page
		poke(t, p, addr, []byte("UNMAPPED"))
		poke(t, p, addr+4096, []byte("beyond"))
		require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrMunmap, addr, 8192)))
		require.Equal(t, "UNMAPPED", string(env.Files["/data"][4096:4104]))
		require.Len(t, env.Files["/data"], 8192)
	})
	t.Run("exit", func(t *testing.T) {
		p, env, fd, _ := mappedFile(t, 4096, linux.O_RDWR|linux.O_APPEND)
		addr := mmap(t, p, 4096, protRW, mapShared, fd, 0)
		poke(t, p, addr+100, []byte("AT EXIT"))
		linux.Syscall(p, mainTID, nrExitGroup, 0)
		require.NotNil(t, p.Exit())
		require.Equal(t, "AT EXIT", string(env.Files["/data"][100:107]), "written in place despite O_APPEND")
		require.Len(t, env.Files["/data"], 4096)
	})
	t.Run("private", func(t *testing.T) {
		p, env, fd, _ := mappedFile(t, 4096, linux.O_RDWR)
		addr := mmap(t, p, 4096, protRW, mapPrivate, fd, 0)
		poke(t, p, addr, []byte("PRIVATE"))
		require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrMsync, addr, 4096, msSync)))
		require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrMunmap, addr, 4096)))
		require.Equal(t, "0123456", string(env.Files["/data"][:7]))
	})
}

// TestSharedMappingWritesBackOnlyChangedPages: a page the guest did not
// write through the mapping is not written back, so it does not undo what
// pwrite put in the file meanwhile.
func TestSharedMappingWritesBackOnlyChangedPages(t *testing.T) {
	p, env, fd, buf := mappedFile(t, 8192, linux.O_RDWR)
	addr := mmap(t, p, 8192, protRW, mapShared, fd, 0)
	poke(t, p, buf+64, []byte("PWRITTEN"))
	require.Equal(t, uint32(8), first(linux.Syscall(p, mainTID, nrPwrite64, fd, buf+64, 8, 0, 4096)))
	poke(t, p, addr, []byte("MAPPED"))
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrMunmap, addr, 8192)))
	require.Equal(t, "MAPPED", string(env.Files["/data"][:6]))
	require.Equal(t, "PWRITTEN", string(env.Files["/data"][4096:4104]))
}

// TestSharedMappingPermissions: a shared mapping can be written only if
// its file is open for writing, now and after mprotect.
func TestSharedMappingPermissions(t *testing.T) {
	p, _, fd, _ := mappedFile(t, 4096, linux.O_RDONLY)
	r, _ := linux.Syscall(p, mainTID, nrMmap2, 0, 4096, protRW, mapShared, fd, 0)
	require.Equal(t, neg(linux.EACCES), r)
	addr := mmap(t, p, 4096, protRW, mapPrivate, fd, 0)
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrMunmap, addr, 4096)))
	addr = mmap(t, p, 4096, 1, mapShared, fd, 0)
	require.Equal(t, neg(linux.EACCES), first(linux.Syscall(p, mainTID, nrMprotect, addr, 4096, protRW)))
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrMprotect, addr, 4096, 0)))
}

func TestMsyncChecksItsArguments(t *testing.T) {
	p, _ := newKernel(t)
	addr := mmap(t, p, 8192, protRW, mapSharedAnon, ^uint32(0), 0)
	require.Equal(t, neg(linux.EINVAL), first(linux.Syscall(p, mainTID, nrMsync, addr+1, 4096, msSync)), "unaligned")
	require.Equal(t, neg(linux.EINVAL), first(linux.Syscall(p, mainTID, nrMsync, addr, 4096, msSync|msAsync)))
	require.Equal(t, neg(linux.EINVAL), first(linux.Syscall(p, mainTID, nrMsync, addr, 4096, 8)))
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrMsync, addr, 0, msSync)))
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrMunmap, addr+4096, 4096)))
	require.Equal(t, neg(linux.ENOMEM), first(linux.Syscall(p, mainTID, nrMsync, addr, 8192, msSync)), "a hole")
}

// TestSharedAnonymousMappingKeepsItsContents: MADV_DONTNEED zeroes private
// memory but not shared memory, whose contents live on in the shared
// object.
func TestSharedAnonymousMappingKeepsItsContents(t *testing.T) {
	p, _ := newKernel(t)
	shared := mmap(t, p, 4096, protRW, mapSharedAnon, ^uint32(0), 0)
	private := mmap(t, p, 4096, protRW, 0x12, ^uint32(0), 0)
	for _, addr := range []uint32{shared, private} {
		poke(t, p, addr, []byte("kept?"))
		require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrMadvise, addr, 4096, madvDontneed)))
	}
	require.Equal(t, "kept?", string(peek(t, p, shared, 5)))
	require.Equal(t, make([]byte, 5), peek(t, p, private, 5))
}

// TestRemappedSharedMappingStillReachesTheFile: mremap moves and grows a
// shared file mapping with its file, and shrinking it writes back what it
// drops.
func TestRemappedSharedMappingStillReachesTheFile(t *testing.T) {
	p, env, fd, _ := mappedFile(t, 3*4096, linux.O_RDWR)
	addr := mmap(t, p, 4096, protRW, mapShared, fd, 0)
	mmap(t, p, 4096, protRW, 0x12, ^uint32(0), 0) // blocks growth in place
	poke(t, p, addr, []byte("FIRST"))
	moved, _ := linux.Syscall(p, mainTID, nrMremap, addr, 4096, 3*4096, 1)
	require.Less(t, moved, uint32(0xfffff000), "mremap failed: %d", int32(moved))
	require.NotEqual(t, addr, moved)
	require.Equal(t, "FIRST", string(peek(t, p, moved, 5)))
	require.Equal(t, "0123", string(peek(t, p, moved+8192, 4)), "grown with the file's next page")
	poke(t, p, moved+8192, []byte("THIRD"))
	require.Equal(t, moved, first(linux.Syscall(p, mainTID, nrMremap, moved, 3*4096, 4096, 0)))
	require.Equal(t, "THIRD", string(env.Files["/data"][8192:8197]), "shrinking writes back the dropped pages")
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrMsync, moved, 4096, msSync)))
	require.Equal(t, "FIRST", string(env.Files["/data"][:5]))
}

// TestSnapshotKeepsSharedMappings: a restored process still writes its
// shared mapping back, through the file the mapping holds open.
func TestSnapshotKeepsSharedMappings(t *testing.T) {
	p, env, fd, _ := mappedFile(t, 4096, linux.O_RDWR)
	addr := mmap(t, p, 4096, protRW, mapShared, fd, 0)
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrClose, fd)))
	poke(t, p, addr, []byte("RESTORED"))
	q, _ := restored(t, p, env)
	require.Equal(t, uint32(0), first(linux.Syscall(q, mainTID, nrMunmap, addr, 4096)))
	require.Equal(t, "RESTORED", string(env.Files["/data"][:8]))
}
