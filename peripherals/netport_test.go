package peripherals

import (
	"bufio"
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
)

// recordingLog stands in for the consensus log: it decodes and keeps what
// is proposed and commits it at once (telling commit), loses the first
// `lose` proposals of client bytes, or refuses everything when failing.
type recordingLog struct {
	mu      sync.Mutex
	got     []entry.Entry
	failing bool
	lose    int
	commit  func(entry.Entry)
	changed chan struct{}
}

func newRecordingLog() *recordingLog { return &recordingLog{changed: make(chan struct{}, 1024)} }

func (l *recordingLog) Propose(_ context.Context, data []byte) error {
	e, err := entry.Decode(data)
	if err != nil {
		return err
	}
	l.mu.Lock()
	if l.failing {
		l.mu.Unlock()
		return consensus.ErrNoQuorum
	}
	l.got = append(l.got, e)
	lost := false
	if _, data := e.(entry.ConnData); data && l.lose > 0 {
		l.lose--
		lost = true
	}
	commit := l.commit
	l.mu.Unlock()
	if commit != nil && !lost {
		commit(e)
	}
	l.changed <- struct{}{}
	return nil
}

// waitFor returns the proposals once cond holds for them, failing the test
// after a generous bound.
func (l *recordingLog) waitFor(t *testing.T, cond func([]entry.Entry) bool) []entry.Entry {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		l.mu.Lock()
		got := append([]entry.Entry(nil), l.got...)
		l.mu.Unlock()
		if cond(got) {
			return got
		}
		select {
		case <-l.changed:
		case <-deadline:
			t.Fatalf("condition not met; proposals so far: %v", got)
		}
	}
}

func startNetPort(t *testing.T, log *recordingLog) (*NetPort, string) {
	t.Helper()
	n := NewNetPort(NetPortConfig{Node: 2, Host: "127.0.0.1", PortOffset: 0, Log: log,
		RetryAfter: 50 * time.Millisecond, GiveUpAfter: 500 * time.Millisecond})
	log.mu.Lock()
	log.commit = n.Committed
	log.mu.Unlock()
	t.Cleanup(n.Stop)
	require.NoError(t, n.Listen(freePort(t)))
	require.Len(t, n.Addrs(), 1)
	return n, n.Addrs()[0]
}

func TestNetPortProposesConnectionLifecycle(t *testing.T) {
	log := newRecordingLog()
	_, addr := startNetPort(t, log)

	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	_, err = c.Write([]byte("hello "))
	require.NoError(t, err)
	log.waitFor(t, func(es []entry.Entry) bool { return len(es) >= 2 })
	_, err = c.Write([]byte("world"))
	require.NoError(t, err)
	require.NoError(t, c.Close())

	got := log.waitFor(t, func(es []entry.Entry) bool {
		return len(es) > 0 && es[len(es)-1].Kind() == entry.KindConnClose
	})
	open, ok := got[0].(entry.ConnOpen)
	require.True(t, ok, "first proposal is the connection: %v", got[0])
	require.Equal(t, consensus.NodeID(2), open.Conn.Node)
	require.Equal(t, [4]byte{127, 0, 0, 1}, open.PeerIP)

	var stream []byte
	for _, e := range got[1 : len(got)-1] {
		d := e.(entry.ConnData)
		require.Equal(t, open.Conn, d.Conn)
		require.Equal(t, uint64(len(stream)), d.Offset, "offsets number every byte")
		stream = append(stream, d.Data...)
	}
	require.Equal(t, "hello world", string(stream))
	require.Equal(t, entry.ConnClose{Conn: open.Conn}, got[len(got)-1])
}

func TestNetPortPerformsSendAndClose(t *testing.T) {
	log := newRecordingLog()
	n, addr := startNetPort(t, log)
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	got := log.waitFor(t, func(es []entry.Entry) bool { return len(es) == 1 })
	id := got[0].(entry.ConnOpen).Conn

	n.Send(id, []byte("+PONG\r\n"))
	n.Send(entry.ConnID{Node: 3, Serial: id.Serial}, []byte("another node's output"))
	n.Close(id)
	all, err := io.ReadAll(bufio.NewReader(c))
	require.NoError(t, err)
	require.Equal(t, "+PONG\r\n", string(all), "output delivered, then the guest's close")
	require.Eventually(t, func() bool { return n.Conns() == 0 }, 10*time.Second, 10*time.Millisecond)
}

func TestNetPortHangsUpWhenNothingCanBeOrdered(t *testing.T) {
	log := newRecordingLog()
	log.failing = true
	_, addr := startNetPort(t, log)
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = c.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "after GiveUpAfter without a quorum the client is cut off")
}

// A proposal the log loses (as raft does when its leader changes) is
// proposed again until it commits; the client notices nothing.
func TestNetPortRetriesLostProposals(t *testing.T) {
	log := newRecordingLog()
	log.lose = 1
	_, addr := startNetPort(t, log)
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("SET k v"))
	require.NoError(t, err)
	got := log.waitFor(t, func(es []entry.Entry) bool {
		n := 0
		for _, e := range es {
			if _, ok := e.(entry.ConnData); ok {
				n++
			}
		}
		return n >= 2
	})
	var data []entry.ConnData
	for _, e := range got {
		if d, ok := e.(entry.ConnData); ok {
			data = append(data, d)
		}
	}
	require.Equal(t, data[0], data[1], "the same bytes at the same offset, proposed again")
}

// freePort finds a loopback port nothing listens on right now.
func freePort(t *testing.T) uint16 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}
