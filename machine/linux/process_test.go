package linux_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/machine/linux"
)

// System calls of processes (arch/parisc syscall.tbl).
const (
	nrWaitpid = 7
	nrKill    = 37
	nrSetpgid = 57
	nrGetppid = 64
	nrSetsid  = 66
	nrVfork   = 113
	nrWait4   = 114
	nrGetpgid = 132
	nrGetsid  = 147
	nrWaitid  = 235

	wNohang = 1
)

// handler is where catch installs the handlers.
const handler = 0x10100

// catch installs handler for sig in mainTID's process, through a
// sigaction built at buf.
func catch(t *testing.T, p *linux.Process, buf uint32, sig uint32) {
	t.Helper()
	poke(t, p, buf, []byte{0, handler >> 16, handler >> 8 & 0xff, 0})
	poke(t, p, buf+4, make([]byte, 12))
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrRtSigaction, sig, buf, 0, 8)))
}

// fork forks the process of thread from and returns the child's pid.
func fork(t *testing.T, p *linux.Process, from uint32) uint32 {
	t.Helper()
	pid, blocked := linux.Syscall(p, from, nrFork)
	require.False(t, blocked)
	require.Less(t, pid, uint32(0xfffff000), "fork failed: %d", int32(pid))
	return pid
}

// TestForkCopiesTheProcess: the child has its own pid and its parent's as
// parent, returns 0 from fork at the same place, and sees the parent's
// memory as it was at the fork: later writes on either side stay there.
func TestForkCopiesTheProcess(t *testing.T) {
	p, _ := newKernel(t)
	buf := scratch(t, p)
	poke(t, p, buf, []byte("before"))
	child := fork(t, p, mainTID)
	require.Equal(t, uint32(mainTID+1), child)
	c := linux.CPUOf(p, child)
	require.Equal(t, uint32(0), c.GR[28], "the child sees 0")
	require.Equal(t, uint32(linux.TestReturnAddress|3), c.IAOQFront, "returns where the parent does")
	require.Equal(t, child, first(linux.Syscall(p, child, nrGetpid)))
	require.Equal(t, uint32(mainTID), first(linux.Syscall(p, child, nrGetppid)))
	require.Equal(t, uint32(1), first(linux.Syscall(p, mainTID, nrGetppid)), "the first process's parent is outside")

	poke(t, p, buf, []byte("parent"))
	childMem := linux.MemoryOf(p, child)
	got := make([]byte, 6)
	require.NoError(t, childMem.ReadBytes(buf, got))
	require.Equal(t, "before", string(got))
	require.NoError(t, childMem.WriteBytes(buf, []byte("child!")))
	require.Equal(t, "parent", string(peek(t, p, buf, 6)))
}

// TestWaitReapsAnEndedChild: wait4 reports nothing with WNOHANG while the
// child runs, blocks without it, and wakes with the child's pid and exit
// status when it ends; the zombie is gone after, and another wait finds
// no child.
func TestWaitReapsAnEndedChild(t *testing.T) {
	p, _ := newKernel(t)
	buf := scratch(t, p)
	child := fork(t, p, mainTID)
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrWait4, ^uint32(0), buf, wNohang, 0)))
	_, blocked := linux.Syscall(p, mainTID, nrWait4, ^uint32(0), buf, 0, 0)
	require.True(t, blocked)

	linux.Syscall(p, child, nrExitGroup, 7)
	require.False(t, linux.Blocked(p, mainTID))
	require.Equal(t, child, linux.MainCPU(p).GR[28])
	require.Equal(t, uint32(7<<8), word(t, p, buf), "WEXITSTATUS 7")
	require.Equal(t, []uint32{mainTID}, linux.Processes(p), "reaped")
	require.Equal(t, neg(linux.ECHILD), first(linux.Syscall(p, mainTID, nrWait4, ^uint32(0), buf, 0, 0)))
}

// TestWaitSelectsChildren: waitpid waits for the pid it names, waitid
// reports a killed child through a siginfo, and a zombie stays until it
// is waited for.
func TestWaitSelectsChildren(t *testing.T) {
	p, _ := newKernel(t)
	buf := scratch(t, p)
	a := fork(t, p, mainTID)
	b := fork(t, p, mainTID)
	linux.Syscall(p, a, nrExitGroup, 1)
	require.Equal(t, []uint32{mainTID, a, b}, linux.Processes(p), "a is a zombie")
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrWaitpid, b, buf, wNohang)), "b runs")

	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrKill, b, linux.SIGTERM)))
	const pPID, wExited = 1, 4
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrWaitid, pPID, b, buf, wExited, 0)))
	info := peek(t, p, buf, 24)
	require.Equal(t, []byte{0, 0, 0, linux.SIGCHLD}, info[0:4], "si_signo")
	require.Equal(t, []byte{0, 0, 0, 2}, info[8:12], "CLD_KILLED")
	require.Equal(t, b, word(t, p, buf+12), "si_pid")
	require.Equal(t, uint32(linux.SIGTERM), word(t, p, buf+20), "si_status")

	require.Equal(t, a, first(linux.Syscall(p, mainTID, nrWaitpid, a, buf, 0)))
	require.Equal(t, uint32(1<<8), word(t, p, buf))
}

// TestChildEndSendsSIGCHLD: the parent's SIGCHLD handler runs for an
// ended child; a parent that ignores SIGCHLD has its children reaped at
// once, and wait then finds none.
func TestChildEndSendsSIGCHLD(t *testing.T) {
	p, _ := newKernel(t)
	buf := scratch(t, p)
	catch(t, p, buf, linux.SIGCHLD)
	child := fork(t, p, mainTID)
	linux.Syscall(p, child, nrExitGroup, 0)
	linux.DeliverSignals(p, mainTID)
	require.Equal(t, uint32(handler|3), linux.MainCPU(p).IAOQFront, "the SIGCHLD handler runs")

	poke(t, p, buf, []byte{0, 0, 0, 1}) // SIG_IGN
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrRtSigaction, linux.SIGCHLD, buf, 0, 8)))
	other := fork(t, p, mainTID)
	linux.Syscall(p, other, nrExitGroup, 0)
	require.NotContains(t, linux.Processes(p), other, "reaped at once")
}

// TestForkLimit: beyond Config.MaxProcesses, fork fails with EAGAIN
// until a child is reaped.
func TestForkLimit(t *testing.T) {
	p, _ := loadTestdata(t, "startregs", linux.Config{Argv: []string{"k"}, MaxProcesses: 3})
	a := fork(t, p, mainTID)
	fork(t, p, mainTID)
	require.Equal(t, neg(linux.EAGAIN), first(linux.Syscall(p, mainTID, nrFork)))
	linux.Syscall(p, a, nrExitGroup, 0)
	require.Equal(t, neg(linux.EAGAIN), first(linux.Syscall(p, mainTID, nrFork)), "a zombie still counts")
	require.Equal(t, a, first(linux.Syscall(p, mainTID, nrWait4, a, 0, 0, 0)))
	fork(t, p, mainTID)
}

// TestProcessGroups: children inherit the group and session; setpgid
// moves a child into a group of its own, and kill to the negative group
// id reaches the group only; setsid fails for a group leader.
func TestProcessGroups(t *testing.T) {
	p, _ := newKernel(t)
	a := fork(t, p, mainTID)
	b := fork(t, p, mainTID)
	require.Equal(t, uint32(mainTID), first(linux.Syscall(p, a, nrGetpgid, 0)))
	require.Equal(t, uint32(mainTID), first(linux.Syscall(p, a, nrGetsid, 0)))
	require.Equal(t, neg(linux.EPERM), first(linux.Syscall(p, mainTID, nrSetpgid, 0, 0)), "a session leader stays")
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrSetpgid, a, 0)))
	require.Equal(t, uint32(0), first(linux.Syscall(p, b, nrSetpgid, 0, a)), "b joins a's group")
	require.Equal(t, a, first(linux.Syscall(p, b, nrGetpgid, 0)))
	require.Equal(t, neg(linux.EPERM), first(linux.Syscall(p, a, nrSetsid)), "a leads a group")

	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrKill, -a, linux.SIGKILL)))
	require.Nil(t, p.Exit(), "the first process is in another group")
	require.Equal(t, a, first(linux.Syscall(p, mainTID, nrWait4, -a, 0, 0, 0)))
	require.Equal(t, b, first(linux.Syscall(p, mainTID, nrWait4, -a, 0, 0, 0)), "both were killed")
	require.Equal(t, neg(linux.ESRCH), first(linux.Syscall(p, mainTID, nrKill, -a, 0)), "the group is gone")
}

// TestVforkWaitsForTheChild: the parent of vfork is suspended, and the
// signals it catches wait, until the child ends; the child runs in the
// parent's memory meanwhile.
func TestVforkWaitsForTheChild(t *testing.T) {
	p, _ := newKernel(t)
	buf := scratch(t, p)
	catch(t, p, buf, linux.SIGUSR1)
	child, blocked := linux.Syscall(p, mainTID, nrVfork)
	require.True(t, blocked)
	child = mainTID + 1
	require.NoError(t, linux.MemoryOf(p, child).WriteBytes(buf, []byte("shared")))
	require.Equal(t, "shared", string(peek(t, p, buf, 6)), "one memory")
	require.Equal(t, uint32(0), first(linux.Syscall(p, child, nrKill, mainTID, linux.SIGUSR1)))
	require.True(t, linux.Blocked(p, mainTID), "the signal waits")
	linux.Syscall(p, child, nrExitGroup, 0)
	require.False(t, linux.Blocked(p, mainTID))
	require.Equal(t, child, linux.MainCPU(p).GR[28])
	linux.DeliverSignals(p, mainTID)
	require.Equal(t, uint32(handler|3), linux.MainCPU(p).IAOQFront, "then its handler runs")
}

// TestFirstProcessEndsTheGuest: when the first process ends, every other
// process ends with it.
func TestFirstProcessEndsTheGuest(t *testing.T) {
	p, _ := newKernel(t)
	child := fork(t, p, mainTID)
	linux.Syscall(p, mainTID, nrExitGroup, 3)
	require.Equal(t, &linux.ExitStatus{Code: 3}, p.Exit())
	require.Nil(t, linux.CPUOf(p, child), "the child's thread is gone")
}

// TestProcShowsEveryProcess: /proc/PID answers for every process of the
// guest, and not for pids the guest does not have.
func TestProcShowsEveryProcess(t *testing.T) {
	const nrReadlink, atFDCWD = 85, 0xffffff9c
	p, _ := newKernel(t)
	buf := scratch(t, p)
	child := fork(t, p, mainTID)
	cstring := func(s string) uint32 {
		poke(t, p, buf, append([]byte(s), 0))
		return buf
	}
	fd := first(linux.Syscall(p, mainTID, nrOpenat, atFDCWD, cstring(fmt.Sprintf("/proc/%d/cmdline", child)), 0))
	require.Less(t, fd, uint32(1024))
	n := first(linux.Syscall(p, mainTID, nrRead, fd, buf+0x100, 64))
	require.Equal(t, "k\x00", string(peek(t, p, buf+0x100, int(n))))
	n = first(linux.Syscall(p, mainTID, nrReadlink, cstring(fmt.Sprintf("/proc/%d/exe", child)), buf+0x100, 64))
	require.Equal(t, "/guest/k", string(peek(t, p, buf+0x100, int(n))))
	require.Equal(t, neg(linux.ENOENT), first(linux.Syscall(p, mainTID, nrOpenat, atFDCWD, cstring("/proc/99999/cmdline"), 0)))
}

// TestKillGroupReachesTheFirstProcessGroup: KillGroup, Ctrl-C from
// outside, reaches every process of the first process's group and no
// other.
func TestKillGroupReachesTheFirstProcessGroup(t *testing.T) {
	p, _ := newKernel(t)
	buf := scratch(t, p)
	inGroup := fork(t, p, mainTID)
	apart := fork(t, p, mainTID)
	catch(t, p, buf, linux.SIGINT) // after the forks: the children keep the default action
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrSetpgid, apart, 0)))
	require.NoError(t, p.KillGroup(linux.SIGINT))
	require.Equal(t, inGroup, first(linux.Syscall(p, mainTID, nrWait4, ^uint32(0), buf, wNohang, 0)))
	require.Equal(t, uint32(linux.SIGINT), word(t, p, buf), "killed by SIGINT")
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrWait4, apart, buf, wNohang, 0)), "the other group runs on")
	linux.DeliverSignals(p, mainTID)
	require.Equal(t, uint32(handler|3), linux.MainCPU(p).IAOQFront, "the first process's handler runs")
}

// TestStopAndContinue: a stop signal stops a child, which wait reports
// once with WUNTRACED; SIGCONT continues it, which wait reports once with
// WCONTINUED. SIGTSTP is discarded for a process of an orphaned group, and
// the first process, with no parent in the guest to continue it, ignores
// stop signals.
func TestStopAndContinue(t *testing.T) {
	const wUntraced, wContinued = 2, 8
	p, _ := newKernel(t)
	buf := scratch(t, p)
	child := fork(t, p, mainTID)
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrKill, child, linux.SIGSTOP)))
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrWait4, child, buf, wNohang, 0)), "not without WUNTRACED")
	require.Equal(t, child, first(linux.Syscall(p, mainTID, nrWait4, child, buf, wNohang|wUntraced, 0)))
	require.Equal(t, uint32(linux.SIGSTOP<<8|0x7f), word(t, p, buf), "WIFSTOPPED, WSTOPSIG")
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrWait4, child, buf, wNohang|wUntraced, 0)), "reported once")

	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrKill, child, linux.SIGCONT)))
	require.Equal(t, child, first(linux.Syscall(p, mainTID, nrWait4, child, buf, wNohang|wContinued, 0)))
	require.Equal(t, uint32(0xffff), word(t, p, buf), "WIFCONTINUED")

	require.False(t, linux.Stopped(p, child))
	require.Equal(t, uint32(0), first(linux.Syscall(p, child, nrKill, child, linux.SIGTSTP)))
	require.False(t, linux.Stopped(p, child), "SIGTSTP is discarded in an orphaned group: the first process's parent is outside")
	require.Equal(t, uint32(0), first(linux.Syscall(p, child, nrSetpgid, 0, 0)))
	require.Equal(t, uint32(0), first(linux.Syscall(p, child, nrKill, child, linux.SIGTSTP)))
	require.True(t, linux.Stopped(p, child), "in a group of its own, its parent in another of the session, it stops")
	require.Equal(t, uint32(0), first(linux.Syscall(p, child, nrKill, mainTID, linux.SIGSTOP)))
	linux.DeliverSignals(p, mainTID)
	require.False(t, linux.Stopped(p, mainTID), "the first process runs on")
}

// TestSharedPagesAreSnapshottedOnce: a child's pages still shared with its
// parent copy-on-write cost a reference each in the snapshot, not their
// contents, and a restored guest snapshots to the same bytes.
func TestSharedPagesAreSnapshottedOnce(t *testing.T) {
	const pages = 64
	p, _ := newKernel(t)
	addr := first(linux.Syscall(p, mainTID, nrMmap2, 0, pages*4096, 3, 0x12, ^uint32(0), 0))
	for i := range uint32(pages) {
		require.NoError(t, p.Memory().StoreWord(addr+i*4096, i+1))
	}
	alone := len(p.Snapshot())
	fork(t, p, mainTID)
	snap := p.Snapshot()
	require.Less(t, len(snap)-alone, pages*4096/4, "the child's copy costs references, not pages")
	q, err := linux.Restore(snap, guestEnv(1), nil)
	require.NoError(t, err)
	require.Equal(t, snap, q.Snapshot())
}

// TestExecFromAThread: execve from a thread other than the main one ends
// the others, the main thread among them, and the caller takes the pid as
// its id, running the new program.
func TestExecFromAThread(t *testing.T) {
	const nrExecve = 11
	p, env := newKernel(t)
	env.Files["/k2"] = readTestdata(t, "startregs")
	require.Zero(t, env.Chmod(linux.FileRef{Path: "/k2"}, 0o755))
	buf := scratch(t, p)
	thread, _ := spawn(t, p, buf)
	poke(t, p, buf+0x900, []byte("/k2\x00"))
	poke(t, p, buf+0x910, []byte{0, 0, 0, 0})
	before := linux.CPUOf(p, mainTID)
	_, blocked := linux.Syscall(p, thread, nrExecve, buf+0x900, buf+0x910, buf+0x910)
	require.False(t, blocked)
	require.Nil(t, linux.CPUOf(p, thread), "its old id is gone")
	after := linux.CPUOf(p, mainTID)
	require.NotNil(t, after)
	require.NotSame(t, before, after, "the main thread is the caller now, in the new program")
	require.Equal(t, uint32(mainTID), first(linux.Syscall(p, mainTID, nrGettid)))
}

// TestCloneParentMakesASibling: a child started with CLONE_PARENT is its
// starter's sibling: its parent is its starter's parent, which reaps it.
// The first process, whose parent is outside, cannot start one.
func TestCloneParentMakesASibling(t *testing.T) {
	const cloneParent = 0x8000
	p, _ := newKernel(t)
	require.Equal(t, neg(linux.EINVAL), first(linux.Syscall(p, mainTID, nrClone, cloneParent|linux.SIGCHLD)))
	child := fork(t, p, mainTID)
	sibling := first(linux.Syscall(p, child, nrClone, cloneParent|linux.SIGCHLD))
	require.Equal(t, uint32(mainTID), first(linux.Syscall(p, sibling, nrGetppid)))
	linux.Syscall(p, sibling, nrExitGroup, 4)
	require.Equal(t, sibling, first(linux.Syscall(p, mainTID, nrWait4, sibling, 0, wNohang, 0)))
}

// TestFailedForkStartsNothing: a clone that cannot write the child's id
// where it was asked to fails with EFAULT and leaves no child behind.
func TestFailedForkStartsNothing(t *testing.T) {
	const cloneParentSettid = 0x00100000
	p, _ := newKernel(t)
	require.Equal(t, neg(linux.EFAULT), first(linux.Syscall(p, mainTID, nrClone, cloneParentSettid|linux.SIGCHLD, 0, 0x10)))
	require.Equal(t, []uint32{mainTID}, linux.Processes(p))
	require.Equal(t, uint32(mainTID+1), fork(t, p, mainTID), "the id was not used either")
}
