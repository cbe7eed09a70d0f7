package linux_test

import (
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/machine/linux"
	"github.com/synodvm/synod/machine/linux/hostenv"
)

const (
	nrSocket      = 17
	nrBind        = 22
	nrListen      = 32
	nrGetsockname = 44
	nrSetsockopt  = 181
	nrAccept4     = 320
)

// recheckUntil re-checks waiting threads until tid no longer waits.
func recheckUntil(t *testing.T, p *linux.Process, tid uint32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for linux.Blocked(p, tid) {
		require.True(t, time.Now().Before(deadline), "thread %d still waits", tid)
		time.Sleep(time.Millisecond)
		linux.Recheck(p)
	}
}

// TestTCPServerOnTheHost drives a guest-side TCP server through the kernel
// and the host Env while a host client talks to it over loopback.
func TestTCPServerOnTheHost(t *testing.T) {
	p, err := linux.Load(readTestdata(t, "startregs"), linux.Config{Argv: []string{"srv"}}, hostenv.New())
	require.NoError(t, err)
	buf := scratch(t, p)

	fd := first(linux.Syscall(p, mainTID, nrSocket, linux.AF_INET, linux.SOCK_STREAM, 0))
	require.Equal(t, uint32(3), fd)
	poke(t, p, buf, []byte{0, 0, 0, 1})
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrSetsockopt, fd, linux.SOL_SOCKET, linux.SO_REUSEADDR, buf, 4)))
	sa := make([]byte, 16)
	binary.BigEndian.PutUint16(sa, linux.AF_INET)
	copy(sa[4:], []byte{127, 0, 0, 1})
	poke(t, p, buf+0x10, sa)
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrBind, fd, buf+0x10, 16)))
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrListen, fd, 4)))
	poke(t, p, buf+0x30, []byte{0, 0, 0, 16})
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrGetsockname, fd, buf+0x20, buf+0x30)))
	port := binary.BigEndian.Uint16(peek(t, p, buf+0x22, 2))
	require.NotZero(t, port)

	_, blocked := linux.Syscall(p, mainTID, nrAccept4, fd, 0, 0, 0)
	require.True(t, blocked, "accept waits for a client")
	client, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
	require.NoError(t, err)
	defer client.Close()
	recheckUntil(t, p, mainTID)
	conn := linux.MainCPU(p).GR[28]
	require.Equal(t, uint32(4), conn)

	_, blocked = linux.Syscall(p, mainTID, nrRead, conn, buf+0x100, 64)
	require.True(t, blocked, "read waits for data")
	_, err = client.Write([]byte("hello"))
	require.NoError(t, err)
	recheckUntil(t, p, mainTID)
	require.Equal(t, uint32(5), linux.MainCPU(p).GR[28])
	require.Equal(t, "hello", string(peek(t, p, buf+0x100, 5)))

	require.Equal(t, uint32(5), first(linux.Syscall(p, mainTID, nrWrite, conn, buf+0x100, 5)))
	got := make([]byte, 5)
	require.NoError(t, client.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = io.ReadFull(client, got)
	require.NoError(t, err)
	require.Equal(t, "hello", string(got))
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrClose, conn)))
	require.Equal(t, uint32(0), first(linux.Syscall(p, mainTID, nrClose, fd)))
}
