package peripherals

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
)

// recordingLog stands in for the consensus log: it decodes what is
// proposed, keeps the inputs of every batch in order and the batches
// themselves, and commits each batch at once (telling commit). It loses the
// first `lose` batches that carry client bytes, refuses everything when
// failing, and holds every proposal while gate is set and open.
type recordingLog struct {
	mu      sync.Mutex
	got     []entry.Entry
	batches []entry.Inputs
	failing bool
	lose    int
	gate    chan struct{}
	atGate  int // proposals that reached the gate
	commit  func(entry.Entry)
	changed chan struct{}
}

func newRecordingLog() *recordingLog { return &recordingLog{changed: make(chan struct{}, 1024)} }

func (l *recordingLog) Propose(ctx context.Context, data []byte) error {
	e, err := entry.Decode(data)
	if err != nil {
		return err
	}
	batch, ok := e.(entry.Inputs)
	if !ok {
		return fmt.Errorf("the netport proposed a %s, not inputs", e.Kind())
	}
	l.mu.Lock()
	gate := l.gate
	if gate != nil {
		l.atGate++
	}
	l.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	l.mu.Lock()
	if l.failing {
		l.mu.Unlock()
		return consensus.ErrNoQuorum
	}
	l.got = append(l.got, batch.Entries...)
	l.batches = append(l.batches, batch)
	lost := false
	if l.lose > 0 && slices.ContainsFunc(batch.Entries, func(e entry.Entry) bool { return e.Kind() == entry.KindConnData }) {
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
	return startNetPortRetrying(t, log, 50*time.Millisecond)
}

// testLog is the log a test port proposes to: a recordingLog, or one
// that embeds it.
type testLog interface {
	Proposer
	recording() *recordingLog
}

func (l *recordingLog) recording() *recordingLog { return l }

// startNetPortRetrying starts a port that proposes uncommitted input
// again after retryAfter.
func startNetPortRetrying(t *testing.T, log testLog, retryAfter time.Duration) (*NetPort, string) {
	t.Helper()
	return startNetPortWith(t, log, NetPortConfig{RetryAfter: retryAfter, GiveUpAfter: 10 * retryAfter})
}

// startNetPortWith starts node 2's port on loopback with cfg's other
// settings, proposing to log, serving one free port.
func startNetPortWith(t *testing.T, log testLog, cfg NetPortConfig) (*NetPort, string) {
	t.Helper()
	cfg.Node, cfg.Host, cfg.Log = 2, "127.0.0.1", log
	n := NewNetPort(cfg)
	rec := log.recording()
	rec.mu.Lock()
	rec.commit = n.Committed
	rec.mu.Unlock()
	t.Cleanup(n.Stop)
	n.SetServing(true)
	require.NoError(t, n.Listen(freePort(t)))
	require.Len(t, n.Addrs(), 1)
	return n, n.Addrs()[0]
}

// A node that does not serve (declared down, or catching up) hangs up on
// a new client at once instead of proposing a connection the replicated
// machine would not serve soon, or ever.
func TestNetPortRefusesClientsWhileNotServing(t *testing.T) {
	log := newRecordingLog()
	n, addr := startNetPort(t, log)
	n.SetServing(false)
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = c.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "the client is hung up on")
	require.Zero(t, n.Conns())

	n.SetServing(true)
	served, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer served.Close()
	got := log.waitFor(t, func(es []entry.Entry) bool { return len(es) == 1 })
	require.Equal(t, entry.KindConnOpen, got[0].Kind(), "only the client accepted while serving reaches the log")
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

// A client the guest never accepted is hung up on when its refusal comes
// back from the replicated machine.
func TestNetPortPerformsRefusals(t *testing.T) {
	log := newRecordingLog()
	n, addr := startNetPort(t, log)
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	got := log.waitFor(t, func(es []entry.Entry) bool { return len(es) == 1 })
	n.Refuse(got[0].(entry.ConnOpen).Conn, "the guest's listen queue is full")
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = c.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF)
	require.Zero(t, n.Conns())
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

// Inputs that arrive while the log is busy with a batch go out together in
// the next one, whichever client sent them.
func TestNetPortBatchesInputsWhileTheLogIsBusy(t *testing.T) {
	log := newRecordingLog()
	log.gate = make(chan struct{})
	// No retry while the gate holds the first batch: it would queue the
	// held inputs again, and the count below would not be exact.
	n, addr := startNetPortRetrying(t, log, time.Hour)
	const clients = 8
	conns := make([]net.Conn, clients)
	for i := range clients {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		conns[i] = c
		if i == 0 {
			// The first connection's open is held at the gate...
			require.Eventually(t, func() bool {
				log.mu.Lock()
				defer log.mu.Unlock()
				return log.atGate == 1
			}, 10*time.Second, time.Millisecond)
		}
	}
	for i, c := range conns {
		_, err := fmt.Fprintf(c, "request %d", i)
		require.NoError(t, err)
	}
	// ...and everything else waits for the next batch.
	require.Eventually(t, func() bool { return n.unproposed() == 2*clients-1 }, 10*time.Second, time.Millisecond)
	close(log.gate)

	got := log.waitFor(t, func(es []entry.Entry) bool { return len(es) == 2*clients })
	log.mu.Lock()
	batches := len(log.batches)
	log.mu.Unlock()
	require.Equal(t, 2, batches, "one batch at the gate, one with everything that arrived meanwhile")
	streams := map[entry.ConnID]string{}
	for _, e := range got {
		if d, ok := e.(entry.ConnData); ok {
			streams[d.Conn] += string(d.Data)
		}
	}
	require.Len(t, streams, clients)
}

// unproposed counts the inputs waiting for a batch.
func (n *NetPort) unproposed() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := 0
	for _, cc := range n.queued {
		k += len(cc.unacked) - cc.proposed
	}
	return k
}

// freePort finds a loopback port nothing listens on right now.
func freePort(t *testing.T) uint16 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

// A guest port whose host port another program holds is served as soon as
// that program lets go of it; until then the port says why it is not.
func TestNetPortListensOnceThePortIsFree(t *testing.T) {
	log := newRecordingLog()
	n := NewNetPort(NetPortConfig{Node: 2, Host: "127.0.0.1", Log: log, ListenRetry: 20 * time.Millisecond})
	t.Cleanup(n.Stop)
	n.SetServing(true)
	squatter, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := uint16(squatter.Addr().(*net.TCPAddr).Port)
	require.Error(t, n.Listen(port), "the port is taken")
	require.Empty(t, n.Addrs())
	why := n.ListenErrors()
	require.Len(t, why, 1)
	require.Contains(t, why[0], fmt.Sprintf("serve guest port %d", port))
	require.Contains(t, why[0], "address already in use")
	require.NoError(t, squatter.Close())
	require.Eventually(t, func() bool { return len(n.Addrs()) == 1 }, 10*time.Second, 10*time.Millisecond)
	require.Empty(t, n.ListenErrors(), "served now")
	c, err := net.Dial("tcp", n.Addrs()[0])
	require.NoError(t, err)
	defer c.Close()
	log.waitFor(t, func(es []entry.Entry) bool { return len(es) == 1 && es[0].Kind() == entry.KindConnOpen })
}

// After a snapshot install the node hangs up on its clients, telling the
// guest: the replies written to them in the skipped history were never
// sent, and a client left connected would wait for them forever.
func TestNetPortHangsUpOnEveryClient(t *testing.T) {
	log := newRecordingLog()
	n, addr := startNetPort(t, log)
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("GET k\r\n"))
	require.NoError(t, err)
	log.waitFor(t, func(es []entry.Entry) bool { return len(es) >= 2 })

	require.Equal(t, 1, n.HangUpAll(), "the one client")
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = c.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "the client is hung up on")
	got := log.waitFor(t, func(es []entry.Entry) bool { return es[len(es)-1].Kind() == entry.KindConnClose })
	open := got[0].(entry.ConnOpen)
	require.Equal(t, entry.ConnClose{Conn: open.Conn}, got[len(got)-1], "and the guest is told")
}

// leaderLog is a recordingLog that says who leads, as a consensus.Log does.
type leaderLog struct {
	*recordingLog
	leader atomic.Uint64
	looks  atomic.Int64 // calls of Status
}

func (l *leaderLog) Status() consensus.Status {
	l.looks.Add(1)
	return consensus.Status{Leader: consensus.NodeID(l.leader.Load())}
}

// When another node starts to lead, a client's input that the old leader
// lost is proposed again at once, not RetryAfter later (here an hour).
func TestNetPortProposesAgainWhenTheLeaderChanges(t *testing.T) {
	log := &leaderLog{recordingLog: newRecordingLog()}
	log.leader.Store(1)
	_, addr := startNetPortRetrying(t, log, time.Hour)
	sendLost(t, log, addr)

	log.leader.Store(3)
	got := log.waitFor(t, func(es []entry.Entry) bool { return connDataIn(es) == 2 })
	require.Equal(t, 2, connDataIn(got), "proposed again once, under the new leader")
}

// connDataIn counts the client bytes among proposals.
func connDataIn(es []entry.Entry) int {
	return len(slices.DeleteFunc(slices.Clone(es), func(e entry.Entry) bool { return e.Kind() != entry.KindConnData }))
}

// sendLost has a client send bytes whose proposal the log loses, as a
// leader that is replaced does, and waits for that proposal.
func sendLost(t *testing.T, log *leaderLog, addr string) {
	t.Helper()
	log.mu.Lock()
	log.lose = 1
	log.mu.Unlock()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	_, err = c.Write([]byte("hello"))
	require.NoError(t, err)
	log.waitFor(t, func(es []entry.Entry) bool { return connDataIn(es) == 1 })
}

// The port looks at who leads only while a client's input waits to
// commit: a node whose guest nobody talks to does not wake every
// leaderWatch for nothing.
func TestNetPortWatchesTheLeaderOnlyWhileInputWaits(t *testing.T) {
	log := &leaderLog{recordingLog: newRecordingLog()}
	log.leader.Store(1)
	_, addr := startNetPortRetrying(t, log, time.Hour)
	idle := func(why string) {
		before := log.looks.Load()
		time.Sleep(10 * leaderWatch)
		require.LessOrEqual(t, log.looks.Load()-before, int64(1), why)
	}
	idle("no client: the leader is not watched")

	sendLost(t, log, addr) // it waits to commit
	watched := log.looks.Load()
	require.Eventually(t, func() bool { return log.looks.Load() >= watched+3 }, 10*time.Second, leaderWatch,
		"the leader is watched while the input waits")

	log.leader.Store(3)
	// Proposed again and committed; the watch's next look then finds
	// nothing waiting.
	log.waitFor(t, func(es []entry.Entry) bool { return connDataIn(es) == 2 })
	time.Sleep(2 * leaderWatch)
	idle("everything committed: the leader is no longer watched")
}
