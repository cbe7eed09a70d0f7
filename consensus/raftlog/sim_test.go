package raftlog

import (
	"errors"
	"fmt"
	pb "go.etcd.io/raft/v3/raftpb"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/logtest"
	"github.com/synodvm/synod/consensus/memnet"
)

// This file drives whole clusters of Cores from the test goroutine, the way
// the deterministic simulator will: a memnet network on virtual time,
// bbolt stores in temporary directories, and a tiny replicated
// application (a list of strings) on every node.

const testCluster = "0123456789abcdef0123456789abcdef"

// testTick is the virtual duration of one tick.
const testTick = 10 * time.Millisecond

type simNode struct {
	id    consensus.NodeID
	dir   string
	core  *Core
	store Store
	disk  *failingStore // the store as the Core sees it
	// mem survives crashes when the cluster runs on memory stores.
	mem *MemStore
	ep  *memnet.Endpoint
	app *logtest.History
	// firstApply is the first Apply the node delivered since it started.
	firstApply *consensus.Apply
}

func (n *simNode) up() bool { return n.core != nil }

type simCluster struct {
	t     testing.TB
	net   *memnet.Network
	nodes map[consensus.NodeID]*simNode
	ids   []consensus.NodeID // in order
	// tune adjusts every node's config.
	tune func(*Config)
	// now is the virtual wall clock given to the Cores' metrics.
	now time.Time
	// inMemory puts every node on a MemStore instead of bbolt.
	inMemory bool
}

func quietLogger() *slog.Logger {
	if os.Getenv("RAFTLOG_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newSimCluster(t testing.TB, n int, tune func(*Config)) *simCluster {
	return newSimClusterOn(t, n, false, tune)
}

func newSimClusterOn(t testing.TB, n int, inMemory bool, tune func(*Config)) *simCluster {
	c := &simCluster{t: t, net: memnet.New(1), nodes: map[consensus.NodeID]*simNode{}, tune: tune, now: time.Unix(0, 0), inMemory: inMemory}
	var peers []consensus.NodeID
	for i := 1; i <= n; i++ {
		peers = append(peers, consensus.NodeID(i))
	}
	for _, id := range peers {
		c.add(id, Config{Peers: peers})
	}
	t.Cleanup(func() {
		for _, id := range c.ids {
			if c.nodes[id].up() {
				c.crash(id)
			}
		}
	})
	return c
}

// add creates node id with an empty data directory and starts it.
func (c *simCluster) add(id consensus.NodeID, cfg Config) *simNode {
	n := &simNode{id: id, dir: c.t.TempDir()}
	c.nodes[id] = n
	c.ids = append(c.ids, id)
	c.start(n, cfg)
	return n
}

func (c *simCluster) start(n *simNode, cfg Config) {
	t := c.t
	var store Store = n.mem
	if !c.inMemory {
		var err error
		store, err = openStore(n.dir, Identity{ClusterID: testCluster, Node: n.id})
		require.NoError(t, err)
	} else if n.mem == nil {
		n.mem = NewMemStore()
		store = n.mem
	}
	ep, err := c.net.Join(n.id)
	require.NoError(t, err)
	app := &logtest.History{}
	cfg.ID = n.id
	cfg.Logger = quietLogger()
	cfg.SnapshotSource = app.Snapshot
	cfg.Clock = func() time.Time { return c.now }
	if c.tune != nil {
		c.tune(&cfg)
	}
	disk := &failingStore{Store: store}
	core, err := NewCore(cfg, disk, ep)
	require.NoError(t, err)
	n.core, n.store, n.disk, n.ep, n.app, n.firstApply = core, store, disk, ep, app, nil
}

// crash stops node id abruptly: its memory is gone, its store keeps what
// it synced (every Save is synced before it returns).
func (c *simCluster) crash(id consensus.NodeID) {
	n := c.nodes[id]
	require.NoError(c.t, n.ep.Close())
	require.NoError(c.t, n.store.Close())
	n.core, n.store, n.disk, n.ep = nil, nil, nil, nil
}

// restart starts a crashed node again from its data directory.
func (c *simCluster) restart(id consensus.NodeID) {
	c.start(c.nodes[id], Config{})
}

// settle lets every live node process its messages and Readies until
// nothing moves (bounded).
func (c *simCluster) settle() {
	for range 1000 {
		busy := false
		for _, id := range c.ids {
			n := c.nodes[id]
			if !n.up() {
				continue
			}
		drain:
			for {
				select {
				case in, ok := <-n.ep.Inbound():
					if !ok {
						break drain
					}
					_ = n.core.Step(in) // refusals are counted in metrics
					busy = true
				case r := <-n.ep.SnapshotsSent():
					require.NoError(c.t, n.core.SnapshotSent(r))
					busy = true
				default:
					break drain
				}
			}
			if n.core.HasReady() {
				applies, err := n.core.HandleReady()
				require.NoError(c.t, err)
				require.NoError(c.t, n.app.Apply(applies...))
				if n.firstApply == nil && len(applies) > 0 {
					n.firstApply = &applies[0]
				}
				busy = true
			}
		}
		if !busy {
			return
		}
	}
	c.t.Fatal("cluster did not settle")
}

// tick advances virtual time by one tick on the network and every node.
func (c *simCluster) tick() {
	c.now = c.now.Add(testTick)
	c.net.Advance(testTick)
	for _, id := range c.ids {
		if n := c.nodes[id]; n.up() {
			require.NoError(c.t, n.core.Tick())
		}
	}
	c.settle()
}

// waitFor ticks until cond holds, failing after maxTicks.
func (c *simCluster) waitFor(what string, maxTicks int, cond func() bool) {
	c.t.Helper()
	for range maxTicks {
		c.settle()
		if cond() {
			return
		}
		c.tick()
	}
	c.t.Fatalf("after %d ticks: %s", maxTicks, what)
}

// leader is the node every live member agrees leads, or 0.
func (c *simCluster) leader() consensus.NodeID {
	var lead consensus.NodeID
	for _, id := range c.ids {
		n := c.nodes[id]
		if !n.up() || !slices.Contains(n.core.Status().Members, id) {
			continue
		}
		st := n.core.Status()
		if st.Leader == 0 || (lead != 0 && st.Leader != lead) {
			return 0
		}
		lead = st.Leader
	}
	if lead == 0 || !c.nodes[lead].up() || !c.nodes[lead].core.Status().IsLeader {
		return 0
	}
	return lead
}

// snapshotEvery20 makes a cluster snapshot every 20 entries and keep 2
// before each snapshot, so that a follower soon needs a snapshot.
func snapshotEvery20(cfg *Config) {
	cfg.SnapshotEntries = 20
	cfg.CompactKeepEntries = 2
}

// crashedFollower starts a 3-node cluster that snapshots every 20
// entries, waits for a leader and crashes a follower; it returns the
// cluster, its leader, the crashed follower and the nodes still up.
func crashedFollower(t *testing.T, inMemory bool) (c *simCluster, lead, follower consensus.NodeID, up []consensus.NodeID) {
	t.Helper()
	c = newSimClusterOn(t, 3, inMemory, snapshotEvery20)
	lead = c.waitLeader()
	follower, up = c.followerAndOthers(lead)
	c.crash(follower)
	return c, lead, follower, up
}

// followerAndOthers picks a follower of lead, and lists the other nodes.
func (c *simCluster) followerAndOthers(lead consensus.NodeID) (follower consensus.NodeID, others []consensus.NodeID) {
	follower = c.ids[0]
	if follower == lead {
		follower = c.ids[1]
	}
	for _, id := range c.ids {
		if id != follower {
			others = append(others, id)
		}
	}
	return follower, others
}

func (c *simCluster) waitLeader() consensus.NodeID {
	c.t.Helper()
	c.waitFor("a leader everyone agrees on", 500, func() bool { return c.leader() != 0 })
	return c.leader()
}

// proposeAll proposes values from the given nodes in turn, ticking when
// back-pressure or an election gets in the way, and waits until every
// value is delivered on all of those nodes. A proposal lost in the network
// (raft does not retransmit them) is proposed again once its slot
// expires, as a real client would retry.
func (c *simCluster) proposeAll(from []consensus.NodeID, values []string) {
	c.t.Helper()
	proposer := func(i int) *simNode { return c.nodes[from[i%len(from)]] }
	for i, v := range values {
		n := proposer(i)
		c.waitFor("proposal "+v+" accepted", 500, func() bool { return n.core.Propose([]byte(v)) == nil })
	}
	for i, v := range values {
		n := proposer(i)
		c.waitFor("value "+v+" delivered", 1000, func() bool {
			if n.core.InflightProposals() == 0 && !slices.Contains(n.app.Entries, v) {
				_ = n.core.Propose([]byte(v))
			}
			return c.deliveredOn(from, v)
		})
	}
}

func (c *simCluster) deliveredOn(ids []consensus.NodeID, v string) bool {
	for _, id := range ids {
		if !slices.Contains(c.nodes[id].app.Entries, v) {
			return false
		}
	}
	return true
}

// converged waits until every live member has delivered the same logtest.History.
func (c *simCluster) converged() []string {
	c.t.Helper()
	var want []string
	c.waitFor("every node delivers the same logtest.History", 1000, func() bool {
		first := true
		for _, id := range c.ids {
			n := c.nodes[id]
			if !n.up() || !slices.Contains(n.core.Status().Members, id) {
				continue
			}
			if first {
				want, first = n.app.Entries, false
			} else if !slices.Equal(want, n.app.Entries) {
				return false
			}
		}
		return true
	})
	return want
}

// failingStore is a Store whose writes fail once fail is set, like a disk
// that filled up.
type failingStore struct {
	Store
	fail atomic.Bool
	// damaged makes reads of entries fail as a bad checksum does.
	damaged atomic.Bool
	// saved, when set, is told of the entries of every Save before it
	// writes them.
	saved func(entries []*pb.Entry)
}

func (s *failingStore) Entries(lo, hi, maxSize uint64) ([]*pb.Entry, error) {
	if s.damaged.Load() {
		return nil, fmt.Errorf("%w: log entry %d fails its checksum (simulated)", ErrCorruptStore, lo)
	}
	return s.Store.Entries(lo, hi, maxSize)
}

var errDiskFull = errors.New("write: no space left on device (simulated)")

func (s *failingStore) Save(hs *pb.HardState, entries []*pb.Entry, snap *pb.Snapshot) error {
	if s.fail.Load() {
		return errDiskFull
	}
	if s.saved != nil {
		s.saved(entries)
	}
	return s.Store.Save(hs, entries, snap)
}

func (s *failingStore) SaveSnapshot(snap *pb.Snapshot, compactTo uint64) error {
	if s.fail.Load() {
		return errDiskFull
	}
	return s.Store.SaveSnapshot(snap, compactTo)
}
