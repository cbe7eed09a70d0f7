package disk

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeServer accepts connections on a loopback port and hands each to
// handle.
func fakeServer(t *testing.T, handle func(conn net.Conn, r *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(patience))
				handle(conn, bufio.NewReader(conn))
			})
		}
	})
	return ln.Addr().String()
}

func TestClientUncertain(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handle  func(conn net.Conn, r *bufio.Reader)
		timeout time.Duration
		also    error
	}{
		{"the server hangs up before answering", func(conn net.Conn, r *bufio.Reader) {
			readFrame(r)
		}, patience, io.EOF},
		{"the server never answers", func(conn net.Conn, r *bufio.Reader) {
			readFrame(r)
			r.ReadByte()
		}, 200 * time.Millisecond, context.DeadlineExceeded},
		{"the server answers garbage", func(conn net.Conn, r *bufio.Reader) {
			readFrame(r)
			conn.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
			r.ReadByte()
		}, patience, nil},
		{"the server answers for another client", func(conn net.Conn, r *bufio.Reader) {
			f, _ := readFrame(r)
			conn.Write(appendFrame(nil, &frame{client: "someone else", seq: f.seq}))
			r.ReadByte()
		}, patience, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestClient(t, fakeServer(t, tc.handle), "c")
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			_, err := c.Write(ctx, 1, 0, []byte("x"))
			require.ErrorIs(t, err, ErrUncertain)
			if tc.also != nil {
				require.ErrorIs(t, err, tc.also)
			}
			var se *StatusError
			assert.False(t, errors.As(err, &se), "not a definite answer")
		})
	}
}

// A server that cannot be reached fails a call at once, and the next
// ones too until the backoff has passed; nothing is sent.
func TestClientNotSent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	c, err := NewClient(ClientConfig{Addr: addr, ID: "c", Logger: slog.New(slog.DiscardHandler),
		MinBackoff: time.Minute, MaxBackoff: time.Minute})
	require.NoError(t, err)
	defer c.Close()
	ctx := testContext(t)
	for range 3 {
		start := time.Now()
		_, err = c.Write(ctx, 1, 0, []byte("x"))
		require.ErrorIs(t, err, ErrNotSent)
		assert.ErrorContains(t, err, "connection refused", "says why")
		assert.Less(t, time.Since(start), time.Second, "at once")
	}
	c.mu.Lock()
	backoff := c.backoff
	c.mu.Unlock()
	assert.Equal(t, time.Minute, backoff, "one attempt was made; the others waited for the backoff")
}

func TestClientBackoffIsBounded(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	c, err := NewClient(ClientConfig{Addr: addr, ID: "c", Logger: slog.New(slog.DiscardHandler),
		MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond})
	require.NoError(t, err)
	defer c.Close()
	ctx := testContext(t)
	for range 50 {
		_, err = c.Write(ctx, 1, 0, []byte("x"))
		require.ErrorIs(t, err, ErrNotSent)
		time.Sleep(time.Millisecond)
	}
	c.mu.Lock()
	backoff := c.backoff
	c.mu.Unlock()
	assert.Equal(t, 4*time.Millisecond, backoff)
}

// The client reconnects on its own, and a request that was uncertain is
// applied once when sent again with its seq.
func TestClientReconnectsAndRetriesSafely(t *testing.T) {
	s := serveNew(t)
	// A proxy in front of the server that, on its first connection, lets
	// the request through and loses the answer.
	var mu sync.Mutex
	first := true
	proxy := fakeServer(t, func(conn net.Conn, r *bufio.Reader) {
		up, err := net.Dial("tcp", s.addr)
		if err != nil {
			return
		}
		defer up.Close()
		mu.Lock()
		lose := first
		first = false
		mu.Unlock()
		if lose {
			f, _ := readFrame(r)
			up.Write(appendFrame(nil, &f))
			readFrame(bufio.NewReader(up))
			return
		}
		go func() {
			io.Copy(up, r)
			up.Close()
		}()
		io.Copy(conn, up)
	})
	c := newTestClient(t, proxy, "c")
	ctx := testContext(t)
	_, err := c.Write(ctx, 1, 0, block(512, 'A'))
	require.ErrorIs(t, err, ErrUncertain)
	assert.Equal(t, block(512, 'A'), imageBytes(t, s.image, 0, 512), "it was applied")
	_, err = c.Write(ctx, 2, 0, block(512, 'B'))
	require.NoError(t, err, "the next call connects again")
	n, err := c.Write(ctx, 1, 0, block(512, 'A'))
	require.NoError(t, err, "the uncertain write sent again gets its answer")
	assert.Equal(t, 512, n)
	assert.Equal(t, block(512, 'B'), imageBytes(t, s.image, 0, 512), "and is not applied twice")
}

func TestClientReconnectsToARestartedServer(t *testing.T) {
	s := serveNew(t)
	addr := s.addr
	c := newTestClient(t, addr, "c")
	ctx := testContext(t)
	_, err := c.Write(ctx, 1, 0, []byte("before"))
	require.NoError(t, err)
	require.NoError(t, s.Close())

	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, err = c.Write(short, 2, 0, []byte("during"))
	cancel()
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrUncertain) || errors.Is(err, ErrNotSent), "%v", err)

	log := &logBuffer{}
	srv, err := Open(s.image, testSize, Options{Logger: log.logger()})
	require.NoError(t, err)
	listen(t, srv, s.image, log, addr)
	// The client connects again once its backoff has passed.
	for deadline := time.Now().Add(patience); ; time.Sleep(5 * time.Millisecond) {
		_, err = c.Write(ctx, 3, 0, []byte("after"))
		if err == nil {
			break
		}
		require.ErrorIs(t, err, ErrNotSent)
		require.True(t, time.Now().Before(deadline), "still not connected: %v", err)
	}
}

// Calls share one connection, and each gets the answer with its seq,
// whatever order the answers come in.
func TestClientMatchesAnswersBySeq(t *testing.T) {
	const calls = 3
	addr := fakeServer(t, func(conn net.Conn, r *bufio.Reader) {
		var got []frame
		for range calls {
			f, err := readFrame(r)
			if err != nil {
				return
			}
			got = append(got, f)
		}
		for i := len(got) - 1; i >= 0; i-- {
			conn.Write(appendFrame(nil, &frame{client: got[i].client, seq: got[i].seq, data: []byte{byte(got[i].seq)}}))
		}
	})
	c := newTestClient(t, addr, "c")
	ctx := testContext(t)
	var wg sync.WaitGroup
	for seq := range uint64(calls) {
		wg.Go(func() {
			b, err := c.Read(ctx, seq, 0, 1)
			assert.NoError(t, err)
			assert.Equal(t, []byte{byte(seq)}, b)
		})
	}
	wg.Wait()
}

func TestClientRefusesASeqInFlight(t *testing.T) {
	release := make(chan struct{})
	addr := fakeServer(t, func(conn net.Conn, r *bufio.Reader) {
		f, _ := readFrame(r)
		<-release
		conn.Write(appendFrame(nil, &frame{client: f.client, seq: f.seq}))
		r.ReadByte()
	})
	c := newTestClient(t, addr, "c")
	ctx := testContext(t)
	first := make(chan error, 1)
	go func() {
		_, err := c.Write(ctx, 9, 0, []byte("x"))
		first <- err
	}()
	require.Eventually(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.conn == nil {
			return false
		}
		c.conn.mu.Lock()
		defer c.conn.mu.Unlock()
		return len(c.conn.pending) == 1
	}, patience, time.Millisecond)
	_, err := c.Write(ctx, 9, 0, []byte("x"))
	require.ErrorIs(t, err, ErrUncertain)
	assert.ErrorContains(t, err, "in flight already")
	close(release)
	require.NoError(t, <-first)
}
