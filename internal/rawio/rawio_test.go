//go:build linux

package rawio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// loopbackPair is a connected TCP pair on loopback, both ends wrapped.
func loopbackPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	s, ok := <-accepted
	require.True(t, ok, "accept")
	client, server = Wrap(c), Wrap(s)
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// What one end writes the other reads, in order, both ways, and more
// than a socket's buffers hold: a write the socket cannot take at once
// waits in the poller for the reader and then finishes.
func TestAWrappedConnectionCarriesEveryByteBothWays(t *testing.T) {
	client, server := loopbackPair(t)
	require.IsType(t, &conn{}, client, "a TCP connection is wrapped")
	want := bytes.Repeat([]byte("synod raw io "), 1<<20) // 13 MiB
	errs := make(chan error, 1)
	go func() {
		n, err := client.Write(want)
		if err == nil && n != len(want) {
			err = io.ErrShortWrite
		}
		errs <- err
	}()
	got := make([]byte, len(want))
	_, err := io.ReadFull(server, got)
	require.NoError(t, err)
	require.NoError(t, <-errs)
	require.True(t, bytes.Equal(want, got), "the bytes read are the bytes written")

	_, err = server.Write([]byte("reply"))
	require.NoError(t, err)
	reply := make([]byte, 5)
	_, err = io.ReadFull(client, reply)
	require.NoError(t, err)
	require.Equal(t, "reply", string(reply))
}

// The errors are those of the net package: end of file once the peer
// closes, a timeout at the read deadline, and a closed connection.
func TestAWrappedConnectionReportsTheNetPackagesErrors(t *testing.T) {
	client, server := loopbackPair(t)

	require.NoError(t, server.SetReadDeadline(time.Now().Add(20*time.Millisecond)))
	_, err := server.Read(make([]byte, 8))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "a timeout: %v", err)
	require.NoError(t, server.SetReadDeadline(time.Time{}))

	require.NoError(t, client.Close())
	_, err = server.Read(make([]byte, 8))
	require.ErrorIs(t, err, io.EOF)

	_, err = client.Write([]byte("after close"))
	require.ErrorIs(t, err, net.ErrClosed)
}

// A connection without a descriptor of its own is left as it is.
func TestAPipeIsNotWrapped(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	require.Equal(t, a, Wrap(a))
}
