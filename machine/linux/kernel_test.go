package linux_test

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/machine"
	"github.com/synodvm/synod/machine/linux"
	"github.com/synodvm/synod/machine/linux/hostenv"
	"github.com/synodvm/synod/machine/linux/memenv"
)

const mainTID = 1000 // Config.PID defaults to 1000

// System call numbers used below (arch/parisc syscall.tbl).
const (
	nrExit          = 1
	nrRead          = 3
	nrWrite         = 4
	nrClose         = 6
	nrGetpid        = 20
	nrBrk           = 45
	nrMmap2         = 89
	nrMunmap        = 91
	nrMprotect      = 125
	nrClone         = 120
	nrRtSigreturn   = 173
	nrRtSigaction   = 174
	nrRtSigprocmask = 175
	nrGettid        = 206
	nrFutex         = 210
	nrTgkill        = 259
	nrOpenat        = 275
	nrPipe2         = 313
	nrGetrandom     = 339
	nrStatx         = 349
	nrClockGettime  = 403
	nrFork          = 2
)

func neg(e linux.Errno) uint32 { return uint32(-int32(e)) }

// newKernel loads the startregs image: a process whose kernel the tests
// drive through system calls without running guest code.
func newKernel(t *testing.T) (*linux.Process, *memenv.Env) {
	t.Helper()
	return loadTestdata(t, "startregs", linux.Config{Argv: []string{"k"}, ExePath: "/guest/k"})
}

// scratch maps a page of guest memory for a test to use.
func scratch(t *testing.T, p *linux.Process) uint32 {
	t.Helper()
	addr, blocked := linux.Syscall(p, mainTID, nrMmap2, 0, 4096, 3, 0x12, ^uint32(0), 0)
	require.False(t, blocked)
	require.Less(t, addr, uint32(0xfffff000), "mmap failed: %d", int32(addr))
	return addr
}

func poke(t *testing.T, p *linux.Process, addr uint32, b []byte) {
	t.Helper()
	require.NoError(t, p.Memory().WriteBytes(addr, b))
}

func peek(t *testing.T, p *linux.Process, addr uint32, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	require.NoError(t, p.Memory().ReadBytes(addr, b))
	return b
}

func word(t *testing.T, p *linux.Process, addr uint32) uint32 {
	t.Helper()
	v, err := p.Memory().LoadWord(addr)
	require.NoError(t, err)
	return v
}

func TestWriteReachesTheConsoleThroughTheEnv(t *testing.T) {
	p, env := newKernel(t)
	buf := scratch(t, p)
	poke(t, p, buf, []byte("hello, world\n"))
	r, _ := linux.Syscall(p, mainTID, nrWrite, 1, buf, 13)
	require.Equal(t, uint32(13), r)
	r, _ = linux.Syscall(p, mainTID, nrWrite, 2, buf, 5)
	require.Equal(t, uint32(5), r)
	require.Equal(t, "hello, world\n", env.Stdout.String())
	require.Equal(t, "hello", env.Stderr.String())
	r, _ = linux.Syscall(p, mainTID, nrWrite, 9, buf, 5)
	require.Equal(t, neg(linux.EBADF), r)
	r, _ = linux.Syscall(p, mainTID, nrWrite, 1, 0x10, 5)
	require.Equal(t, neg(linux.EFAULT), r)
	require.Equal(t, uint32(linux.TestReturnAddress|3), linux.MainCPU(p).IAOQFront, "returns to r31")
}

func TestReadFileFromTheEnv(t *testing.T) {
	p, env := newKernel(t)
	env.Files["/etc/motd"] = []byte("welcome")
	buf := scratch(t, p)
	poke(t, p, buf, []byte("/etc/motd\x00"))
	fd, _ := linux.Syscall(p, mainTID, nrOpenat, 0xffffff9c, buf, 0, 0)
	require.Equal(t, uint32(3), fd)
	r, _ := linux.Syscall(p, mainTID, nrRead, fd, buf+64, 100)
	require.Equal(t, uint32(7), r)
	require.Equal(t, "welcome", string(peek(t, p, buf+64, 7)))
	r, _ = linux.Syscall(p, mainTID, nrRead, fd, buf+64, 100)
	require.Equal(t, uint32(0), r, "end of file")
	r, _ = linux.Syscall(p, mainTID, nrStatx, fd, buf+9, 0x1000, 0x7ff, buf+256)
	require.Equal(t, uint32(0), r)
	require.Equal(t, uint64(7), binary.BigEndian.Uint64(peek(t, p, buf+256+40, 8)), "stx_size")
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrClose, fd)))
	require.Equal(t, neg(linux.EBADF), first(linux.Syscall(p, mainTID, nrClose, fd)))
	poke(t, p, buf, []byte("/nope\x00"))
	require.Equal(t, neg(linux.ENOENT), first(linux.Syscall(p, mainTID, nrOpenat, 0xffffff9c, buf, 0, 0)))
}

func first(r uint32, _ bool) uint32 { return r }

// TestTruncateSetsTheLength: truncate and ftruncate, in their 32- and
// 64-bit forms, reach a host file.
func TestTruncateSetsTheLength(t *testing.T) {
	const (
		nrTruncate    = 92
		nrFtruncate   = 93
		nrTruncate64  = 199
		nrFtruncate64 = 200
		oRdwr         = 2
	)
	p, err := linux.Load(readTestdata(t, "startregs"), linux.Config{Argv: []string{"k"}}, hostenv.New())
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(path, []byte("0123456789"), 0o644))
	length := func() int64 {
		st, err := os.Stat(path)
		require.NoError(t, err)
		return st.Size()
	}
	buf := scratch(t, p)
	poke(t, p, buf, append([]byte(path), 0))
	fd := first(linux.Syscall(p, mainTID, nrOpenat, 0xffffff9c, buf, oRdwr, 0))
	require.Less(t, fd, uint32(100), "openat: %d", int32(fd))

	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrFtruncate, fd, 8)))
	require.EqualValues(t, 8, length())
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrFtruncate64, fd, 0, 6)))
	require.EqualValues(t, 6, length())
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrTruncate, buf, 4)))
	require.EqualValues(t, 4, length())
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrTruncate64, buf, 0, 2)))
	require.EqualValues(t, 2, length())

	require.Equal(t, neg(linux.EINVAL), first(linux.Syscall(p, mainTID, nrFtruncate, fd, 0xffffffff)), "negative")
	require.Equal(t, neg(linux.EINVAL), first(linux.Syscall(p, mainTID, nrTruncate, buf, 0xffffffff)), "negative")
	require.Equal(t, neg(linux.EBADF), first(linux.Syscall(p, mainTID, nrFtruncate, 99, 0)))
	poke(t, p, buf, append([]byte(path+".missing"), 0))
	require.Equal(t, neg(linux.ENOENT), first(linux.Syscall(p, mainTID, nrTruncate, buf, 0)))
}

func TestUnknownSyscallAnswersENOSYSAndLogsOnce(t *testing.T) {
	var log bytes.Buffer
	bin := readTestdata(t, "startregs")
	p, err := linux.Load(bin, linux.Config{Argv: []string{"k"}, Log: slog.New(slog.NewTextHandler(&log, nil))}, memenv.New(1))
	require.NoError(t, err)
	for range 3 {
		require.Equal(t, neg(linux.ENOSYS), first(linux.Syscall(p, mainTID, 9999)))
		require.Equal(t, neg(linux.ENOSYS), first(linux.Syscall(p, mainTID, 21))) // mount
	}
	require.Equal(t, 2, bytes.Count(log.Bytes(), []byte("\n")), log.String())
	require.Contains(t, log.String(), "name=mount")
	require.Contains(t, log.String(), "name=unknown")
}

// TestMemoryLayoutMatchesQemu: brk starts after the image and mappings go
// top-down from below the sigreturn page, at the addresses qemu-hppa gives
// (a static glibc program's first mmaps land at 0xf9efe000, 0xf9efc000).
func TestMemoryLayoutMatchesQemu(t *testing.T) {
	p, _ := newKernel(t)
	brk0 := first(linux.Syscall(p, mainTID, nrBrk, 0))
	require.Equal(t, uint32(0x12000), brk0)
	require.Equal(t, brk0+0x858, first(linux.Syscall(p, mainTID, nrBrk, brk0+0x858)))
	require.NoError(t, p.Memory().WriteBytes(brk0+0x800, []byte{1}), "break pages are mapped")
	const anon, rw = 0x12, 3 // MAP_PRIVATE|MAP_ANONYMOUS (0x10 on hppa)
	require.Equal(t, uint32(0xf9efe000), first(linux.Syscall(p, mainTID, nrMmap2, 0, 1052672, rw, anon, ^uint32(0), 0)))
	require.Equal(t, uint32(0xf9efc000), first(linux.Syscall(p, mainTID, nrMmap2, 0, 8192, rw, anon, ^uint32(0), 0)))
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrMunmap, 0xf9efc000, 8192)))
	require.Equal(t, uint32(0xf9efd000), first(linux.Syscall(p, mainTID, nrMmap2, 0, 4096, rw, anon, ^uint32(0), 0)), "the top of a hole is reused")
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrMprotect, 0xf9efd000, 4096, 1)))
	require.Error(t, p.Memory().WriteBytes(0xf9efd000, []byte{1}), "read-only after mprotect")
	require.Equal(t, neg(linux.ENOMEM), first(linux.Syscall(p, mainTID, nrMprotect, 0x80000000, 4096, 1)))
	require.Equal(t, neg(linux.EINVAL), first(linux.Syscall(p, mainTID, nrMmap2, 0, 0, rw, anon, ^uint32(0), 0)))
}

func TestLightweightCompareAndSwap(t *testing.T) {
	p, _ := newKernel(t)
	buf := scratch(t, p)
	poke(t, p, buf, []byte{0, 0, 0, 5})
	r28, r21 := linux.LightweightCAS(p, 0, buf, 5, 9)
	require.Equal(t, [2]uint32{5, 0}, [2]uint32{r28, r21}, "swapped; r28 holds the old value")
	require.Equal(t, uint32(9), word(t, p, buf))
	r28, r21 = linux.LightweightCAS(p, 0, buf, 5, 7)
	require.Equal(t, [2]uint32{9, 0}, [2]uint32{r28, r21}, "no swap; r28 shows why")
	require.Equal(t, uint32(9), word(t, p, buf))
	_, r21 = linux.LightweightCAS(p, 0, buf+2, 5, 7)
	require.Equal(t, neg(linux.EFAULT), r21, "misaligned")

	// Operation 2: sizes 1, 2, 4, 8 bytes through pointers to old and new.
	poke(t, p, buf+16, []byte{0, 0, 0, 0, 0, 0, 0, 9}) // old (8 bytes)
	poke(t, p, buf+24, []byte{1, 2, 3, 4, 5, 6, 7, 8}) // new
	poke(t, p, buf+32, []byte{0, 0, 0, 0, 0, 0, 0, 9}) // target
	r28, r21 = linux.LightweightCAS(p, 2, buf+32, buf+16, buf+24, 3)
	require.Equal(t, [2]uint32{0, 0}, [2]uint32{r28, r21})
	require.Equal(t, []byte{1, 2, 3, 4, 5, 6, 7, 8}, peek(t, p, buf+32, 8))
	r28, _ = linux.LightweightCAS(p, 2, buf+32, buf+16, buf+24, 0)
	require.Equal(t, uint32(1), r28, "byte compare fails: 0 != 1")
	_, r21 = linux.LightweightCAS(p, 2, buf+32, buf+16, buf+24, 4)
	require.Equal(t, neg(linux.ENOSYS), r21)
}

func newKernelEnv() *memenv.Env { return memenv.New(7) }

// TestProcSelfMapsDescribesTheGuest: /proc/self/maps is the kernel's own
// account of guest memory, never the host's file.
func TestProcSelfMapsDescribesTheGuest(t *testing.T) {
	p, _ := newKernel(t)
	buf := scratch(t, p)
	poke(t, p, buf, []byte("/proc/self/maps\x00"))
	fd := first(linux.Syscall(p, mainTID, nrOpenat, 0xffffff9c, buf, 0, 0))
	require.Equal(t, uint32(3), fd)
	n := first(linux.Syscall(p, mainTID, nrRead, fd, buf+0x100, 3000))
	require.Less(t, n, uint32(3000))
	maps := string(peek(t, p, buf+0x100, int(n)))
	require.Contains(t, maps, "0-1000 --xp 00000000 00:00 0\n", "the gateway page")
	require.Contains(t, maps, "10000-11000 r-xp 00000000 00:00 0")
	require.Contains(t, maps, "/guest/k\n")
	require.Contains(t, maps, "f9ffe000-f9fff000 rw-p 00000000 00:00 0\n", "the scratch mapping")
	require.Contains(t, maps, "fa000000-fa800000 rwxp 00000000 00:00 0                                  [stack]\n")
	require.Equal(t, neg(linux.EACCES), first(linux.Syscall(p, mainTID, nrOpenat, 0xffffff9c, buf, linux.O_RDWR, 0)))
}

// TestNiceMlockGetgroups: niceness reads back what was set (as 20 - nice,
// the kernel's encoding), locking checks the range is mapped, and there
// are no supplementary groups.
func TestNiceMlockGetgroups(t *testing.T) {
	const (
		nrGetgroups   = 80
		nrGetpriority = 96
		nrSetpriority = 97
		nrMlock       = 150
		nrMlockall    = 152
		prioProcess   = 0
	)
	p, _ := newKernel(t)
	buf := scratch(t, p)
	require.Equal(t, uint32(20), first(linux.Syscall(p, mainTID, nrGetpriority, prioProcess, 0)))
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrSetpriority, prioProcess, mainTID, 5)))
	require.Equal(t, uint32(15), first(linux.Syscall(p, mainTID, nrGetpriority, prioProcess, 0)))
	linux.Syscall(p, mainTID, nrSetpriority, prioProcess, 0, 99)
	require.Equal(t, uint32(1), first(linux.Syscall(p, mainTID, nrGetpriority, prioProcess, 0)), "clamped to 19")
	require.Equal(t, neg(linux.ESRCH), first(linux.Syscall(p, mainTID, nrGetpriority, prioProcess, 4242)))
	require.Equal(t, neg(linux.EINVAL), first(linux.Syscall(p, mainTID, nrGetpriority, 7, 0)))

	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrMlock, buf+5, 4000)))
	gone := scratch(t, p)
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrMunmap, gone, 4096)))
	require.Equal(t, neg(linux.ENOMEM), first(linux.Syscall(p, mainTID, nrMlock, gone, 100)), "unmapped")
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrMlockall, 1)))
	require.Equal(t, neg(linux.EINVAL), first(linux.Syscall(p, mainTID, nrMlockall, 0)))
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrGetgroups, 4, buf)))
}

// TestMainStackGrowsToItsReserve: the main stack is mapped 8 MiB deep and
// grows, up to 80 MiB as under qemu-hppa, when the guest or a system call
// reaches above it; past the reserve is a fault.
func TestMainStackGrowsToItsReserve(t *testing.T) {
	const (
		stackBase = 0xfa000000
		mib       = 1 << 20
	)
	p, env := newKernel(t)
	mapped := func(addr uint32) bool {
		_, ok := p.Memory().Mapped(addr)
		return ok
	}
	require.True(t, mapped(stackBase+8*mib-1))
	require.False(t, mapped(stackBase+8*mib))

	linux.HandleStop(p, mainTID, machine.Stop{Reason: machine.StopFault, Fault: &machine.Fault{Addr: stackBase + 9*mib, Write: true, Unmapped: true}})
	require.Nil(t, p.Exit(), "no signal")
	require.True(t, mapped(stackBase+8*mib), "mapped from the old end")
	require.True(t, mapped(stackBase+9*mib))
	require.False(t, mapped(stackBase+9*mib+4096))

	require.Equal(t, uint32(4), first(linux.Syscall(p, mainTID, nrWrite, 1, stackBase+20*mib, 4)), "a system call reads above the stack")
	require.Equal(t, "\x00\x00\x00\x00", env.Stdout.String())
	require.Equal(t, neg(linux.EFAULT), first(linux.Syscall(p, mainTID, nrWrite, 1, stackBase+80*mib, 4)), "past the reserve")

	linux.HandleStop(p, mainTID, machine.Stop{Reason: machine.StopFault, Fault: &machine.Fault{Addr: stackBase + 80*mib, Unmapped: true}})
	linux.DeliverSignals(p, mainTID)
	require.Equal(t, &linux.ExitStatus{Signal: linux.SIGSEGV, Core: true}, p.Exit())
}

// TestLocksAndAllocation: record locks and flock succeed once their
// arguments check out (the guest is the only process) and F_GETLK finds
// the range free; fallocate grows a file; fadvise is accepted.
func TestLocksAndAllocation(t *testing.T) {
	const (
		nrFcntl64      = 202
		nrFlock        = 143
		nrFadvise64    = 236
		nrFallocate    = 305
		fGetlk64       = 8
		fSetlk64       = 9
		fOfdSetlk      = 37
		oRdonly, oRdwr = 0, 2
	)
	p, err := linux.Load(readTestdata(t, "startregs"), linux.Config{Argv: []string{"k"}}, hostenv.New())
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(path, []byte("0123456789"), 0o644))
	buf := scratch(t, p)
	poke(t, p, buf, append([]byte(path), 0))
	rw := first(linux.Syscall(p, mainTID, nrOpenat, 0xffffff9c, buf, oRdwr, 0))
	ro := first(linux.Syscall(p, mainTID, nrOpenat, 0xffffff9c, buf, oRdonly, 0))
	lock := buf + 0x200
	flock64 := func(kind uint16, pid uint32) {
		b := make([]byte, 32)
		binary.BigEndian.PutUint16(b, kind)
		binary.BigEndian.PutUint64(b[16:], 10) // l_len
		binary.BigEndian.PutUint32(b[24:], pid)
		poke(t, p, lock, b)
	}
	fcntl := func(fd, cmd uint32) uint32 { return first(linux.Syscall(p, mainTID, nrFcntl64, fd, cmd, lock)) }

	flock64(2, 0) // F_WRLCK
	require.Equal(t, uint32(0), fcntl(rw, fSetlk64))
	require.Equal(t, uint32(0), fcntl(rw, fGetlk64))
	require.Equal(t, []byte{0, 3}, peek(t, p, lock, 2), "F_UNLCK: nobody else holds it")
	flock64(2, 0)
	require.Equal(t, neg(linux.EBADF), fcntl(ro, fSetlk64), "a write lock on a read-only descriptor")
	flock64(7, 0)
	require.Equal(t, neg(linux.EINVAL), fcntl(rw, fSetlk64))
	flock64(1, 1234)
	require.Equal(t, neg(linux.EINVAL), fcntl(rw, fOfdSetlk), "an OFD lock with a pid")
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrFlock, rw, 2|4))) // LOCK_EX|LOCK_NB
	require.Equal(t, neg(linux.EINVAL), first(linux.Syscall(p, mainTID, nrFlock, rw, 99)))

	size := func() int64 {
		st, err := os.Stat(path)
		require.NoError(t, err)
		return st.Size()
	}
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrFallocate, rw, 0, 0, 8, 0, 100)))
	require.EqualValues(t, 108, size())
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrFallocate, rw, 1, 0, 0, 0, 500)), "FALLOC_FL_KEEP_SIZE")
	require.EqualValues(t, 108, size())
	require.Equal(t, neg(linux.EOPNOTSUPP), first(linux.Syscall(p, mainTID, nrFallocate, rw, 3, 0, 0, 0, 5)), "punching a hole")
	require.Equal(t, neg(linux.EBADF), first(linux.Syscall(p, mainTID, nrFallocate, ro, 0, 0, 0, 0, 5)))
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrFadvise64, ro, 0, 0, 0, 0, 2)))
	require.Equal(t, neg(linux.EINVAL), first(linux.Syscall(p, mainTID, nrFadvise64, ro, 0, 0, 0, 0, 9)))
}

// TestProcFilesDescribeTheGuest: the command line, the main thread's name
// and the processor come from the guest, as qemu-hppa makes them, never
// from the host's files.
func TestProcFilesDescribeTheGuest(t *testing.T) {
	const (
		nrPrctl   = 172
		prSetName = 15
	)
	p, err := linux.Load(readTestdata(t, "startregs"), linux.Config{Argv: []string{"./k", "one", ""}, ExePath: "/guest/k"}, memenv.New(1))
	require.NoError(t, err)
	buf := scratch(t, p)
	read := func(path string) string {
		poke(t, p, buf, append([]byte(path), 0))
		fd := first(linux.Syscall(p, mainTID, nrOpenat, 0xffffff9c, buf, 0, 0))
		require.Less(t, fd, uint32(100), "open %s: %d", path, int32(fd))
		n := first(linux.Syscall(p, mainTID, nrRead, fd, buf+0x100, 3000))
		require.Less(t, n, uint32(3000))
		linux.Syscall(p, mainTID, nrClose, fd)
		return string(peek(t, p, buf+0x100, int(n)))
	}
	require.Equal(t, "./k\x00one\x00\x00", read("/proc/self/cmdline"))
	require.Equal(t, "k\n", read("/proc/self/comm"))
	poke(t, p, buf+0x80, []byte("renamed\x00"))
	linux.Syscall(p, mainTID, nrPrctl, prSetName, buf+0x80)
	require.Equal(t, "renamed\n", read("/proc/1000/comm"))
	require.Contains(t, read("/proc/cpuinfo"), "cpu\t\t: PA7300LC (PCX-L2)\n")
}
