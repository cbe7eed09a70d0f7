package p2p

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/cluster"
)

// TestMain fails the package if any test leaves a goroutine behind: Close
// must stop everything the transport started.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// patience bounds every wait on the network. It is generous because the
// test machine is shared and slow; waits end as soon as their condition
// holds.
const patience = 30 * time.Second

// logSink collects one transport's log lines for assertions.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// lineWith reports whether one log line contains every part.
func (s *logSink) lineWith(parts ...string) bool {
	for line := range strings.Lines(s.String()) {
		if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(line, p) }) {
			return true
		}
	}
	return false
}

func (s *logSink) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(s, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newTestCluster(t testing.TB, nodes int) *cluster.Config {
	t.Helper()
	c, err := cluster.Create(t.TempDir(), cluster.Spec{Nodes: nodes})
	require.NoError(t, err)
	return c
}

// withoutNode writes a copy of c that lacks node id, next to c (so its
// relative paths still resolve), and loads it.
func withoutNode(t testing.TB, c *cluster.Config, id consensus.NodeID) *cluster.Config {
	t.Helper()
	cp := *c
	cp.Nodes = slices.DeleteFunc(slices.Clone(c.Nodes), func(n cluster.Node) bool { return n.ID == id })
	path := filepath.Join(c.Dir(), "without-"+nodeLabel(id)+".toml")
	require.NoError(t, cluster.Write(path, &cp))
	loaded, err := cluster.Load(path)
	require.NoError(t, err)
	return loaded
}

// withOtherPSK writes a copy of c with a fresh pre-shared key and loads it.
func withOtherPSK(t testing.TB, c *cluster.Config) *cluster.Config {
	t.Helper()
	psk, err := cluster.NewPSK()
	require.NoError(t, err)
	require.NoError(t, cluster.WritePSKFile(filepath.Join(c.Dir(), "other.psk"), psk))
	cp := *c
	cp.PSKFile = "other.psk"
	path := filepath.Join(c.Dir(), "other-psk.toml")
	require.NoError(t, cluster.Write(path, &cp))
	loaded, err := cluster.Load(path)
	require.NoError(t, err)
	return loaded
}

// start runs node id's transport with fast redials until the test ends.
func start(t testing.TB, c *cluster.Config, id consensus.NodeID, logs *logSink, tweak ...func(*Options)) *Transport {
	t.Helper()
	if logs == nil {
		logs = &logSink{}
	}
	opts := Options{
		Cluster:    c,
		Self:       id,
		Logger:     logs.logger(),
		MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 200 * time.Millisecond,
	}
	for _, f := range tweak {
		f(&opts)
	}
	tr, err := New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { tr.Close() })
	return tr
}

// waitConnected waits until tr has an outbound stream to every peer given.
func waitConnected(t testing.TB, tr *Transport, peers ...consensus.NodeID) {
	t.Helper()
	require.Eventually(t, func() bool {
		up := tr.Connected()
		return !slices.ContainsFunc(peers, func(p consensus.NodeID) bool { return !slices.Contains(up, p) })
	}, patience, 5*time.Millisecond, "node %d never connected to %v (connected: %v)", tr.opts.Self, peers, tr.Connected())
}

// receive takes n messages from tr, failing the test if they do not come.
func receive(t testing.TB, tr *Transport, n int) []consensus.Inbound {
	t.Helper()
	got := make([]consensus.Inbound, 0, n)
	timeout := time.After(patience)
	for len(got) < n {
		select {
		case in, ok := <-tr.Inbound():
			require.True(t, ok, "inbound closed")
			got = append(got, in)
		case <-timeout:
			t.Fatalf("node %d received %d of %d messages", tr.opts.Self, len(got), n)
		}
	}
	return got
}

// quiet asserts that tr receives nothing for a short while.
func quiet(t testing.TB, tr *Transport) {
	t.Helper()
	select {
	case in := <-tr.Inbound():
		t.Fatalf("node %d received an unexpected message from %d", tr.opts.Self, in.From)
	case <-time.After(200 * time.Millisecond):
	}
}
