package linux_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/machine/linux"
)

const (
	nrPoll     = 168
	nrPselect6 = 273
)

func TestPollAndSelectOnAPipe(t *testing.T) {
	p, env := newKernel(t)
	buf := scratch(t, p)
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrPipe2, buf, 0)))
	rfd, wfd := word(t, p, buf), word(t, p, buf+4)
	pollfd := buf + 0x40
	poke(t, p, pollfd, []byte{0, 0, 0, byte(rfd), 0, 1, 0xff, 0xff}) // POLLIN, stale revents

	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrPoll, pollfd, 1, 0)), "nothing to read")
	require.Equal(t, []byte{0, 0}, peek(t, p, pollfd+6, 2), "revents cleared")

	_, blocked := linux.Syscall(p, mainTID, nrPoll, pollfd, 1, 5) // 5 ms
	require.True(t, blocked)
	env.Elapse(5_000_000)
	linux.Recheck(p)
	require.False(t, linux.Blocked(p, mainTID))
	require.Equal(t, uint32(0), linux.MainCPU(p).GR[28], "timed out")

	poke(t, p, buf+0x80, []byte("x"))
	require.Equal(t, uint32(1), first(linux.Syscall(p, mainTID, nrWrite, wfd, buf+0x80, 1)))
	require.Equal(t, uint32(1), first(linux.Syscall(p, mainTID, nrPoll, pollfd, 1, 0xffffffff)))
	require.Equal(t, []byte{0, 1}, peek(t, p, pollfd+6, 2), "POLLIN")

	readfds := buf + 0x100
	poke(t, p, readfds, []byte{0, 0, 0, 1<<rfd | 1<<wfd})
	require.Equal(t, uint32(1), first(linux.Syscall(p, mainTID, nrPselect6, wfd+1, readfds, 0, 0, 0, 0)))
	require.Equal(t, []byte{0, 0, 0, 1 << rfd}, peek(t, p, readfds, 4), "only the read end is readable")
	poke(t, p, readfds, []byte{0, 0, 0, 1 << 7})
	require.Equal(t, neg(linux.EBADF), first(linux.Syscall(p, mainTID, nrPselect6, 8, readfds, 0, 0, 0, 0)))
}
