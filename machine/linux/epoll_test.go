package linux_test

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/machine/linux"
)

const (
	nrEpollCtl     = 225
	nrEpollWait    = 226
	nrEventfd2     = 310
	nrEpollCreate1 = 311
)

func TestEpollOnAnEventfd(t *testing.T) {
	p, _ := newKernel(t)
	buf := scratch(t, p)
	efd := first(linux.Syscall(p, mainTID, nrEventfd2, 0, 0))
	epfd := first(linux.Syscall(p, mainTID, nrEpollCreate1, 0))
	require.Equal(t, [2]uint32{3, 4}, [2]uint32{efd, epfd})

	event := buf + 0x20
	ev := make([]byte, 16)
	binary.BigEndian.PutUint32(ev, 0x40000001) // EPOLLIN|EPOLLONESHOT
	binary.BigEndian.PutUint64(ev[8:], 0x1122334455667788)
	poke(t, p, event, ev)
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrEpollCtl, epfd, 1, efd, event)))
	require.Equal(t, neg(linux.EEXIST), first(linux.Syscall(p, mainTID, nrEpollCtl, epfd, 1, efd, event)))
	require.Equal(t, neg(linux.EINVAL), first(linux.Syscall(p, mainTID, nrEpollCtl, epfd, 1, epfd, event)))

	out := buf + 0x100
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrEpollWait, epfd, out, 8, 0)), "nothing yet")

	waiter, _ := spawn(t, p, buf+0x400)
	_, blocked := linux.Syscall(p, waiter, nrEpollWait, epfd, out, 8, 0xffffffff)
	require.True(t, blocked)
	poke(t, p, buf+0x40, []byte{0, 0, 0, 0, 0, 0, 0, 3})
	require.Equal(t, uint32(8), first(linux.Syscall(p, mainTID, nrWrite, efd, buf+0x40, 8)))
	linux.Recheck(p)
	require.False(t, linux.Blocked(p, waiter))
	require.Equal(t, uint32(1), linux.CPUOf(p, waiter).GR[28])
	require.Equal(t, []byte{0, 0, 0, 1, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}, peek(t, p, out, 16))

	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrEpollWait, epfd, out, 8, 0)), "EPOLLONESHOT disarmed it")
	require.Equal(t, uint32(8), first(linux.Syscall(p, mainTID, nrRead, efd, buf+0x48, 8)))
	require.Equal(t, uint64(3), binary.BigEndian.Uint64(peek(t, p, buf+0x48, 8)))
	_, blocked = linux.Syscall(p, mainTID, nrRead, efd, buf+0x48, 8)
	require.True(t, blocked, "reading an empty counter waits")
}
