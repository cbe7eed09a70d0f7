package linux_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/machine/linux"
	"github.com/synodvm/synod/machine/linux/memenv"
)

// glibc's pthread_create flags: CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|
// SETTLS|PARENT_SETTID|CHILD_CLEARTID.
const pthreadCloneFlags = 0x003d0f00

// spawn creates a thread the way pthread_create does and returns its tid
// and the address of its tid word (parent_tid = child_tid).
func spawn(t *testing.T, p *linux.Process, buf uint32) (uint32, uint32) {
	t.Helper()
	tidAddr := buf + 0x100
	tid, blocked := linux.Syscall(p, mainTID, nrClone, pthreadCloneFlags, buf+0x800, tidAddr, 0xabcd0000, tidAddr)
	require.False(t, blocked)
	require.Equal(t, tid, word(t, p, tidAddr), "CLONE_PARENT_SETTID")
	return tid, tidAddr
}

func TestCloneStartsAThreadLikeTheKernel(t *testing.T) {
	p, _ := newKernel(t)
	buf := scratch(t, p)
	tid, _ := spawn(t, p, buf)
	require.Equal(t, uint32(mainTID+1), tid)
	c := linux.CPUOf(p, tid)
	require.Equal(t, uint32(0), c.GR[28], "the child sees 0")
	require.Equal(t, buf+0x800, c.GR[30], "on its new stack")
	require.Equal(t, uint32(0xabcd0000), c.CR[27], "CLONE_SETTLS sets the thread pointer")
	require.Equal(t, uint32(linux.TestReturnAddress|3), c.IAOQFront, "returns where the parent does")
	require.Equal(t, tid, first(linux.Syscall(p, tid, nrGettid)))
	require.Equal(t, uint32(mainTID), first(linux.Syscall(p, tid, nrGetpid)))
}

func TestFutexWaitWakeIsFIFOAndJoinWorks(t *testing.T) {
	p, _ := newKernel(t)
	buf := scratch(t, p)
	a, aTID := spawn(t, p, buf)
	b, _ := spawn(t, p, buf+0x200)
	lock := buf + 0x40
	poke(t, p, lock, []byte{0, 0, 0, 2})
	const wait, wake, private = 0, 1, 0x80

	require.Equal(t, neg(linux.EAGAIN), first(linux.Syscall(p, a, nrFutex, lock, wait|private, 1)), "value differs")
	_, blocked := linux.Syscall(p, a, nrFutex, lock, wait|private, 2)
	require.True(t, blocked)
	_, blocked = linux.Syscall(p, b, nrFutex, lock, wait|private, 2)
	require.True(t, blocked)

	require.Equal(t, uint32(1), first(linux.Syscall(p, mainTID, nrFutex, lock, wake|private, 1)))
	require.False(t, linux.Blocked(p, a), "the first waiter wakes first")
	require.True(t, linux.Blocked(p, b))
	require.Equal(t, uint32(0), linux.CPUOf(p, a).GR[28])
	require.Equal(t, uint32(1), first(linux.Syscall(p, mainTID, nrFutex, lock, wake|private, 10)))
	require.False(t, linux.Blocked(p, b))

	// pthread_join: wait on the child's tid word; the child's exit clears
	// it and wakes the joiner.
	_, blocked = linux.Syscall(p, mainTID, nrFutex, aTID, wait, a)
	require.True(t, blocked)
	linux.Syscall(p, a, nrExit, 0)
	require.False(t, linux.Blocked(p, mainTID))
	require.Equal(t, uint32(0), word(t, p, aTID))
	require.Nil(t, linux.CPUOf(p, a), "the thread is gone")
	require.Nil(t, p.Exit(), "other threads remain")
}

func TestFutexTimeoutUsesTheEnvClock(t *testing.T) {
	p, env := newKernel(t)
	buf := scratch(t, p)
	poke(t, p, buf, []byte{0, 0, 0, 0})
	poke(t, p, buf+8, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x03, 0xe8}) // 1000 ns, 64-bit timespec
	_, blocked := linux.Syscall(p, mainTID, 422, buf, 0, 0, buf+8)                  // futex_time64
	require.True(t, blocked)
	env.Elapse(999)
	linux.Recheck(p)
	require.True(t, linux.Blocked(p, mainTID))
	env.Elapse(1)
	linux.Recheck(p)
	require.False(t, linux.Blocked(p, mainTID))
	require.Equal(t, neg(linux.ETIMEDOUT), linux.MainCPU(p).GR[28])
}

func TestPipeBetweenThreads(t *testing.T) {
	p, _ := newKernel(t)
	buf := scratch(t, p)
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrPipe2, buf, 0)))
	rfd, wfd := word(t, p, buf), word(t, p, buf+4)
	require.Equal(t, [2]uint32{3, 4}, [2]uint32{rfd, wfd})
	writer, _ := spawn(t, p, buf+0x400)

	_, blocked := linux.Syscall(p, mainTID, nrRead, rfd, buf+0x40, 16)
	require.True(t, blocked, "an empty pipe blocks its reader")
	poke(t, p, buf+0x80, []byte("ping"))
	require.Equal(t, uint32(4), first(linux.Syscall(p, writer, nrWrite, wfd, buf+0x80, 4)))
	linux.Recheck(p)
	require.False(t, linux.Blocked(p, mainTID))
	require.Equal(t, uint32(4), linux.MainCPU(p).GR[28])
	require.Equal(t, "ping", string(peek(t, p, buf+0x40, 4)))

	require.Equal(t, uint32(0), first(linux.Syscall(p, writer, nrClose, wfd)))
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrRead, rfd, buf+0x40, 16)), "EOF once the writer is gone")
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrPipe2, buf, 0x10000)))
	require.Equal(t, neg(linux.EAGAIN), first(linux.Syscall(p, mainTID, nrRead, word(t, p, buf), buf+0x40, 16)), "O_NONBLOCK")
}

type dryEnv struct{ linux.Env }

func (dryEnv) Random(int) []byte { return nil }

func TestGetrandomWaitsForTheEnv(t *testing.T) {
	bin := readTestdata(t, "startregs")
	p, err := linux.Load(bin, linux.Config{Argv: []string{"k"}}, dryEnv{newKernelEnv()})
	require.NoError(t, err)
	buf := scratch(t, p)
	_, blocked := linux.Syscall(p, mainTID, nrGetrandom, buf, 8, 0)
	require.True(t, blocked)
	require.Equal(t, neg(linux.EAGAIN), first(linux.Syscall(p, mainTID+0, nrGetrandom, buf, 8, 1)), "GRND_NONBLOCK")
}

// TestPrctlThreadNames: a thread starts with the program's base name,
// PR_SET_NAME keeps 15 bytes, a new thread inherits its creator's name,
// and a snapshot keeps every name.
func TestPrctlThreadNames(t *testing.T) {
	const (
		nrPrctl   = 172
		prSetName = 15
		prGetName = 16
	)
	p, _ := newKernel(t) // ExePath /guest/k, argv[0] "k"
	buf := scratch(t, p)
	name := func(p *linux.Process, tid uint32) string {
		require.Equal(t, uint32(0), first(linux.Syscall(p, tid, nrPrctl, prGetName, buf+0x200)))
		return string(bytes.TrimRight(peek(t, p, buf+0x200, 16), "\x00"))
	}
	require.Equal(t, "k", name(p, mainTID))
	poke(t, p, buf+0x300, []byte("a-name-longer-than-fifteen\x00"))
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrPrctl, prSetName, buf+0x300)))
	require.Equal(t, "a-name-longer-t", name(p, mainTID))
	child, _ := spawn(t, p, buf)
	require.Equal(t, "a-name-longer-t", name(p, child), "inherited")
	poke(t, p, buf+0x300, []byte("worker\x00"))
	linux.Syscall(p, child, nrPrctl, prSetName, buf+0x300)
	require.Equal(t, "worker", name(p, child))
	require.Equal(t, "a-name-longer-t", name(p, mainTID), "per thread")

	snap := p.Snapshot()
	q, err := linux.Restore(snap, memenv.New(1), nil)
	require.NoError(t, err)
	require.Equal(t, "worker", name(q, child))
	require.Equal(t, "a-name-longer-t", name(q, mainTID))
}

// TestPrctlFlags: dumpable, no_new_privs and the misaligned-access policy
// read back what was set; anything else is EINVAL.
func TestPrctlFlags(t *testing.T) {
	const (
		nrPrctl         = 172
		prGetDumpable   = 3
		prSetDumpable   = 4
		prGetUnalign    = 5
		prSetUnalign    = 6
		prSetNoNewPrivs = 38
		prGetNoNewPrivs = 39
	)
	p, _ := newKernel(t)
	buf := scratch(t, p)
	prctl := func(args ...uint32) uint32 { return first(linux.Syscall(p, mainTID, nrPrctl, args...)) }
	require.Equal(t, uint32(1), prctl(prGetDumpable))
	require.Equal(t, uint32(0), prctl(prSetDumpable, 0))
	require.Equal(t, uint32(0), prctl(prGetDumpable))
	require.Equal(t, neg(linux.EINVAL), prctl(prSetDumpable, 2))
	require.Equal(t, uint32(0), prctl(prGetNoNewPrivs))
	require.Equal(t, uint32(0), prctl(prSetNoNewPrivs, 1))
	require.Equal(t, uint32(1), prctl(prGetNoNewPrivs))
	require.Equal(t, uint32(0), prctl(prGetUnalign, buf))
	require.Equal(t, uint32(1), word(t, p, buf), "PR_UNALIGN_NOPRINT")
	require.Equal(t, neg(linux.EINVAL), prctl(prSetUnalign, 2), "no SIGBUS")
	require.Equal(t, neg(linux.EINVAL), prctl(12345))
}
