package linux_test

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/machine"
	"github.com/synodvm/synod/machine/linux"
)

// installHandler registers a SA_SIGINFO handler for sig through a function
// descriptor (plabel) at desc: entry 0x10100, global pointer 0x12345.
func installHandler(t *testing.T, p *linux.Process, sig, desc uint32) {
	t.Helper()
	act := make([]byte, 16+8)
	binary.BigEndian.PutUint32(act[0:], desc|2) // a plabel
	binary.BigEndian.PutUint32(act[4:], 0x10)   // SA_SIGINFO
	binary.BigEndian.PutUint32(act[16:], 0x10100)
	binary.BigEndian.PutUint32(act[20:], 0x12345)
	poke(t, p, desc-16, act)
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrRtSigaction, sig, desc-16, 0, 8)))
}

// TestSignalFrameAsQemuLaysItOut checks the handler's entry registers and
// frame against what qemu-hppa 7.2 gives a SA_SIGINFO handler, then that
// rt_sigreturn restores the interrupted context.
func TestSignalFrameAsQemuLaysItOut(t *testing.T) {
	p, _ := newKernel(t)
	buf := scratch(t, p)
	const sigusr1 = 16
	installHandler(t, p, sigusr1, buf+0x20)
	c := linux.MainCPU(p)
	sp := c.GR[30]
	c.GR[7] = 0x77777777
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrTgkill, mainTID, mainTID, sigusr1)))
	before := *c
	linux.DeliverSignals(p, mainTID)

	frame := (sp + 63) &^ 63
	require.Equal(t, uint32(0x10100|3), c.IAOQFront, "the handler from the descriptor")
	require.Equal(t, uint32(0x12345), c.GR[19], "the descriptor's global pointer")
	require.Equal(t, uint32(sigusr1), c.GR[26])
	require.Equal(t, frame+8, c.GR[25], "siginfo")
	require.Equal(t, frame+136, c.GR[24], "ucontext")
	require.Equal(t, frame+640, c.GR[30])
	require.Equal(t, uint32(0xf9fff008|3), c.GR[2], "returns to the sigreturn trampoline")
	require.Equal(t, []uint32{0xfffffe20, 0x08000240, 0x34190000, 0x3414015a, 0xe4008200, 0x08000240},
		[]uint32{word(t, p, 0xf9fff000), word(t, p, 0xf9fff004), word(t, p, 0xf9fff008), word(t, p, 0xf9fff00c), word(t, p, 0xf9fff010), word(t, p, 0xf9fff014)},
		"the trampoline page libgcc's unwinder recognises")
	require.Equal(t, uint32(sigusr1), word(t, p, frame+8), "si_signo")
	require.Equal(t, uint32(0xfffffffa), word(t, p, frame+16), "si_code SI_TKILL")
	require.Equal(t, uint32(mainTID), word(t, p, frame+20), "si_pid")
	mc := frame + 136 + 24
	require.Equal(t, uint32(0x77777777), word(t, p, mc+4+7*4), "sc_gr[7]")
	require.Equal(t, uint32(linux.TestReturnAddress|3), word(t, p, mc+400), "sc_iaoq[0]: after the syscall")
	require.Equal(t, uint32(0), word(t, p, mc+4+28*4), "sc_gr[28]: the syscall's result")
	require.Equal(t, uint32(2), word(t, p, frame+136+12), "uc_stack.ss_flags = SS_DISABLE")

	// The handler runs with SIGUSR1 blocked; rt_sigreturn undoes everything.
	c.GR[7] = 0
	linux.Syscall(p, mainTID, nrRtSigreturn)
	require.Equal(t, before.GR, c.GR)
	require.Equal(t, before.IAOQFront, c.IAOQFront)
	require.Equal(t, before.IAOQBack, c.IAOQBack)
	require.Equal(t, sp, c.GR[30])
}

func TestBlockedSignalWaitsUntilUnblocked(t *testing.T) {
	p, _ := newKernel(t)
	buf := scratch(t, p)
	const sigusr2 = 17
	installHandler(t, p, sigusr2, buf+0x20)
	poke(t, p, buf+0x100, []byte{0, 1, 0, 0, 0, 0, 0, 0}) // bit 16 = signal 17
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrRtSigprocmask, 0, buf+0x100, 0, 8)))
	linux.Syscall(p, mainTID, nrTgkill, mainTID, mainTID, sigusr2)
	linux.DeliverSignals(p, mainTID)
	require.Equal(t, uint32(linux.TestReturnAddress|3), linux.MainCPU(p).IAOQFront, "still blocked")
	linux.Syscall(p, mainTID, nrRtSigprocmask, 1, buf+0x100, 0, 8)
	linux.DeliverSignals(p, mainTID)
	require.Equal(t, uint32(0x10100|3), linux.MainCPU(p).IAOQFront, "delivered once unblocked")
}

func TestDefaultActions(t *testing.T) {
	cases := []struct {
		sig  uint32
		want *linux.ExitStatus
	}{
		{11, &linux.ExitStatus{Signal: 11, Core: true}}, // SIGSEGV
		{6, &linux.ExitStatus{Signal: 6, Core: true}},   // SIGABRT
		{15, &linux.ExitStatus{Signal: 15}},             // SIGTERM
		{17, &linux.ExitStatus{Signal: 17}},             // SIGUSR2
		{18, nil},                                       // SIGCHLD is ignored
		{23, nil},                                       // SIGWINCH is ignored
	}
	for _, c := range cases {
		p, _ := newKernel(t)
		require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrTgkill, mainTID, mainTID, c.sig)))
		linux.DeliverSignals(p, mainTID)
		require.Equal(t, c.want, p.Exit(), "signal %d", c.sig)
	}
}

func TestKillInterruptsABlockedThread(t *testing.T) {
	p, _ := newKernel(t)
	buf := scratch(t, p)
	installHandler(t, p, 16, buf+0x20)
	poke(t, p, buf+0x100, []byte{0, 0, 0, 0})
	_, blocked := linux.Syscall(p, mainTID, nrFutex, buf+0x100, 0, 0)
	require.True(t, blocked)
	require.NoError(t, p.Kill(16))
	require.False(t, linux.Blocked(p, mainTID))
	require.Equal(t, neg(linux.EINTR), linux.MainCPU(p).GR[28])
	require.Error(t, p.Kill(65))
}

const (
	nrAlarm = 27
	nrPause = 29
)

func TestAlarmInterruptsPauseAndKillsByDefault(t *testing.T) {
	p, env := newKernel(t)
	buf := scratch(t, p)
	installHandler(t, p, linux.SIGALRM, buf+0x20)
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrAlarm, 2)))
	env.Elapse(500_000_000)
	require.Equal(t, uint32(2), first(linux.Syscall(p, mainTID, nrAlarm, 2)), "1.5 s left rounds up")
	_, blocked := linux.Syscall(p, mainTID, nrPause)
	require.True(t, blocked)
	env.Elapse(1_999_999_999)
	linux.Recheck(p)
	require.True(t, linux.Blocked(p, mainTID), "not yet")
	env.Elapse(1)
	linux.Recheck(p)
	require.False(t, linux.Blocked(p, mainTID))
	require.Equal(t, neg(linux.EINTR), linux.MainCPU(p).GR[28])
	linux.DeliverSignals(p, mainTID)
	require.Equal(t, uint32(0x10100|3), linux.MainCPU(p).IAOQFront, "the SIGALRM handler runs")

	q, qenv := newKernel(t)
	linux.Syscall(q, mainTID, nrAlarm, 1)
	qenv.Elapse(1_000_000_000)
	linux.Recheck(q)
	require.Equal(t, &linux.ExitStatus{Signal: linux.SIGALRM}, q.Exit(), "SIGALRM's default action")
}

const nrRtSigtimedwait = 177

func TestSigtimedwaitTakesABlockedSignal(t *testing.T) {
	p, env := newKernel(t)
	buf := scratch(t, p)
	set := buf + 0x100
	poke(t, p, set, []byte{0, 0, 0x80, 0, 0, 0, 0, 0}) // bit 15 = SIGUSR1
	linux.Syscall(p, mainTID, nrRtSigprocmask, 0, set, 0, 8)
	sender, _ := spawn(t, p, buf+0x400)

	_, blocked := linux.Syscall(p, mainTID, nrRtSigtimedwait, set, buf+0x200, 0, 8)
	require.True(t, blocked)
	require.Equal(t, uint32(0), first(linux.Syscall(p, sender, nrTgkill, mainTID, mainTID, linux.SIGUSR1)))
	require.False(t, linux.Blocked(p, mainTID))
	require.Equal(t, uint32(linux.SIGUSR1), linux.MainCPU(p).GR[28])
	require.Equal(t, uint32(linux.SIGUSR1), word(t, p, buf+0x200), "si_signo")
	linux.DeliverSignals(p, mainTID)
	require.Equal(t, uint32(linux.TestReturnAddress|3), linux.MainCPU(p).IAOQFront, "taken, not delivered")

	poke(t, p, buf+0x300, []byte{0, 0, 0, 0, 0, 0, 0x03, 0xe8}) // 1000 ns, 32-bit timespec
	_, blocked = linux.Syscall(p, mainTID, nrRtSigtimedwait, set, 0, buf+0x300, 8)
	require.True(t, blocked)
	env.Elapse(1000)
	linux.Recheck(p)
	require.Equal(t, neg(linux.EAGAIN), linux.MainCPU(p).GR[28], "timed out")
}

// TestTrapSignalCodes: what a SA_SIGINFO handler learns of each trap: the
// signal and si_code qemu-hppa reports.
func TestTrapSignalCodes(t *testing.T) {
	cases := []struct {
		name        string
		stop        machine.Stop
		signo, code uint32
	}{
		{"overflow trap", machine.Stop{Reason: machine.StopTrap, Overflow: true}, linux.SIGFPE, 2}, // FPE_INTOVF
		{"conditional trap", machine.Stop{Reason: machine.StopTrap}, linux.SIGFPE, 15},             // FPE_CONDTRAP
		{"floating-point exception", machine.Stop{Reason: machine.StopFPE}, linux.SIGFPE, 0},       // as qemu-hppa 7.2
		{"privileged instruction", machine.Stop{Reason: machine.StopPrivileged}, linux.SIGILL, 5},  // ILL_PRVOPC
		{"privileged register", machine.Stop{Reason: machine.StopPrivilegedRegister}, linux.SIGILL, 6},
		{"misaligned ldcw", machine.Stop{Reason: machine.StopUnaligned, Fault: &machine.Fault{Addr: 0x40002}}, linux.SIGBUS, 1},
		{"null function pointer", machine.Stop{Reason: machine.StopGateway, PC: 0}, linux.SIGSEGV, 1},
		{"gateway page off its entries", machine.Stop{Reason: machine.StopGateway, PC: 0x800}, linux.SIGILL, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, _ := newKernel(t)
			buf := scratch(t, p)
			installHandler(t, p, c.signo, buf+0x20)
			sp := linux.MainCPU(p).GR[30]
			if c.stop.Reason != machine.StopGateway {
				c.stop.PC = linux.TestReturnAddress
			}
			linux.HandleStop(p, mainTID, c.stop)
			linux.DeliverSignals(p, mainTID)
			require.Nil(t, p.Exit())
			frame := (sp + 63) &^ 63
			require.Equal(t, uint32(0x10100|3), linux.MainCPU(p).IAOQFront, "the handler runs")
			require.Equal(t, c.signo, word(t, p, frame+8), "si_signo")
			require.Equal(t, c.code, word(t, p, frame+16), "si_code")
		})
	}
}

// TestInterruptedSleepReportsTheTimeLeft: nanosleep and clock_nanosleep
// interrupted by a signal write the time left to rem (glibc's sleep
// returns it), except for an absolute sleep; a rem the kernel cannot
// write turns EINTR into EFAULT.
func TestInterruptedSleepReportsTheTimeLeft(t *testing.T) {
	const (
		nrNanosleep            = 162
		nrClockNanosleepTime64 = 407
		clockMonotonic         = 1
		timerAbstime           = 1
	)
	p, env := newKernel(t)
	buf := scratch(t, p)
	installHandler(t, p, linux.SIGUSR1, buf+0x20)
	req, rem := buf+0x100, buf+0x200
	interrupted := func(nr uint32, args ...uint32) uint32 {
		_, blocked := linux.Syscall(p, mainTID, nr, args...)
		require.True(t, blocked)
		env.Elapse(500_000_000)
		linux.Recheck(p)
		require.NoError(t, p.Kill(linux.SIGUSR1))
		r28 := linux.MainCPU(p).GR[28]
		linux.DeliverSignals(p, mainTID)
		linux.Syscall(p, mainTID, nrRtSigreturn) // the handler returns
		return r28
	}

	poke(t, p, req, []byte{0, 0, 0, 2, 0, 0, 0, 0}) // 2 s, 32-bit timespec
	require.Equal(t, neg(linux.EINTR), interrupted(nrNanosleep, req, rem))
	require.Equal(t, []byte{0, 0, 0, 1, 0x1d, 0xcd, 0x65, 0}, peek(t, p, rem, 8), "1.5 s left")

	poke(t, p, req, []byte{0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0}) // 3 s, 64-bit timespec
	require.Equal(t, neg(linux.EINTR), interrupted(nrClockNanosleepTime64, clockMonotonic, 0, req, rem))
	require.Equal(t, []byte{0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0x1d, 0xcd, 0x65, 0}, peek(t, p, rem, 16), "2.5 s left")

	poke(t, p, rem, make([]byte, 16))
	now := env.Clock(p.Instructions()).Monotonic + 5_000_000_000
	abs := make([]byte, 16)
	binary.BigEndian.PutUint64(abs, uint64(now/1_000_000_000))
	binary.BigEndian.PutUint32(abs[12:], uint32(now%1_000_000_000))
	poke(t, p, req, abs)
	require.Equal(t, neg(linux.EINTR), interrupted(nrClockNanosleepTime64, clockMonotonic, timerAbstime, req, rem))
	require.Equal(t, make([]byte, 16), peek(t, p, rem, 16), "an absolute sleep leaves rem alone")

	poke(t, p, req, []byte{0, 0, 0, 2, 0, 0, 0, 0})
	require.Equal(t, neg(linux.EFAULT), interrupted(nrNanosleep, req, 0x10))
}
