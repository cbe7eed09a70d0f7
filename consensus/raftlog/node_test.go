package raftlog

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/logtest"
	"github.com/synodvm/synod/consensus/memnet"
)

// patience bounds every wait on goroutine-driven nodes. It is generous:
// the machine is shared; waits end as soon as their condition holds.
const patience = 60 * time.Second

// liveNode is a Node plus a goroutine that records what it delivers.
type liveNode struct {
	*Node
	mu   sync.Mutex
	hist logtest.History
	done chan struct{}
}

func (n *liveNode) entries() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.hist.Entries)
}

func startLiveNode(t *testing.T, net *memnet.Network, dir string, cfg Config) *liveNode {
	t.Helper()
	store, err := openStore(dir, Identity{ClusterID: testCluster, Node: cfg.ID})
	require.NoError(t, err)
	ep, err := net.Join(cfg.ID)
	require.NoError(t, err)
	ln := &liveNode{done: make(chan struct{})}
	cfg.Logger = quietLogger()
	cfg.TickInterval = max(cfg.TickInterval, 10*time.Millisecond)
	cfg.SnapshotSource = func() (consensus.Snapshot, error) {
		ln.mu.Lock()
		defer ln.mu.Unlock()
		return ln.hist.Snapshot()
	}
	node, err := StartNode(cfg, &failingStore{Store: store}, ep)
	require.NoError(t, err)
	ln.Node = node
	go func() {
		defer close(ln.done)
		for a := range node.Applies() {
			ln.mu.Lock()
			err := ln.hist.Apply(a)
			ln.mu.Unlock()
			assert.NoError(t, err)
		}
	}()
	t.Cleanup(func() { _ = ln.Stop(); <-ln.done })
	return ln
}

func (n *liveNode) disk() *failingStore { return n.core.store.(*readAhead).Store.(*failingStore) }

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, patience, 5*time.Millisecond, what)
}

func startLiveCluster(t *testing.T, size int, tune func(*Config)) (*memnet.Network, []*liveNode) {
	net := memnet.New(1)
	var peers []consensus.NodeID
	for i := 1; i <= size; i++ {
		peers = append(peers, consensus.NodeID(i))
	}
	var nodes []*liveNode
	for _, id := range peers {
		cfg := Config{ID: id, Peers: peers}
		if tune != nil {
			tune(&cfg)
		}
		nodes = append(nodes, startLiveNode(t, net, t.TempDir(), cfg))
	}
	return net, nodes
}

func waitLiveLeader(t *testing.T, nodes []*liveNode) consensus.NodeID {
	t.Helper()
	var lead consensus.NodeID
	eventually(t, "a leader everyone knows", func() bool {
		lead = nodes[0].Status().Leader
		for _, n := range nodes {
			if st := n.Status(); st.Leader == 0 || st.Leader != lead {
				return false
			}
		}
		return true
	})
	return lead
}

func TestNodeConcurrentProposers(t *testing.T) {
	_, nodes := startLiveCluster(t, 3, nil)
	waitLiveLeader(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	var wg sync.WaitGroup
	var want []string
	for _, n := range nodes {
		for p := range 4 {
			vals := logtest.Values(fmt.Sprintf("n%d-p%d", n.core.cfg.ID, p), 25)
			want = append(want, vals...)
			wg.Go(func() {
				for _, v := range vals {
					assert.NoError(t, n.Propose(ctx, []byte(v)))
				}
			})
		}
	}
	wg.Wait()
	eventually(t, "all proposals delivered everywhere in the same order", func() bool {
		first := nodes[0].entries()
		for _, n := range nodes[1:] {
			if !slices.Equal(first, n.entries()) {
				return false
			}
		}
		return len(first) == len(want)
	})
	assert.ElementsMatch(t, want, nodes[0].entries())
	st := nodes[0].Status()
	assert.Equal(t, []consensus.NodeID{1, 2, 3}, st.Members)
	assert.GreaterOrEqual(t, st.Applied, uint64(len(want)))
}

// An offered proposal commits like a proposed one, from the leader and
// forwarded by a follower, with nobody waiting for it; a stopped node
// refuses it.
func TestNodeOfferCommits(t *testing.T) {
	_, nodes := startLiveCluster(t, 3, nil)
	waitLiveLeader(t, nodes)
	for _, n := range nodes {
		require.True(t, n.Offer([]byte(fmt.Sprintf("offered by %d", n.core.cfg.ID))))
	}
	eventually(t, "every offer delivered everywhere", func() bool {
		for _, n := range nodes {
			if len(n.entries()) != len(nodes) {
				return false
			}
		}
		return true
	})
	assert.ElementsMatch(t, []string{"offered by 1", "offered by 2", "offered by 3"}, nodes[0].entries())
	require.NoError(t, nodes[0].Stop())
	assert.False(t, nodes[0].Offer([]byte("too late")))
}

func TestNodeFailsFastWithoutQuorum(t *testing.T) {
	net := memnet.New(1)
	alone := startLiveNode(t, net, t.TempDir(), Config{ID: 1, Peers: []consensus.NodeID{1, 2, 3}})
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	err := alone.Propose(ctx, []byte("x"))
	assert.ErrorIs(t, err, consensus.ErrNoQuorum)
	assert.NoError(t, ctx.Err(), "it did not wait for the deadline")
}

// TestNodeBackPressure: with one proposal allowed in flight and the
// network frozen, a second Propose blocks until its context ends.
func TestNodeBackPressure(t *testing.T) {
	net, nodes := startLiveCluster(t, 3, func(cfg *Config) {
		cfg.MaxInflightProposals = 1
		cfg.ElectionTicks = 1000 // nobody notices the frozen network during the test
		cfg.ProposalTimeoutTicks = 100000
	})
	eventually(t, "the bootstrap membership is applied", func() bool { return len(nodes[2].Status().Members) == 3 })
	require.NoError(t, nodes[2].Campaign(context.Background()), "elect without waiting 1000 ticks")
	lead := waitLiveLeader(t, nodes)
	follower := nodes[0]
	if follower.core.cfg.ID == lead {
		follower = nodes[1]
	}
	require.NoError(t, net.SetFaults(memnet.Faults{MinDelay: time.Hour, MaxDelay: time.Hour}))
	ctx := context.Background()
	require.NoError(t, follower.Propose(ctx, []byte("forwarded, never answered")))
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, follower.Propose(short, []byte("blocked")), context.DeadlineExceeded)

	// Thawing the network lets the first commit, which frees the slot.
	require.NoError(t, net.SetFaults(memnet.Faults{}))
	net.Advance(2 * time.Hour)
	long, cancel2 := context.WithTimeout(ctx, patience)
	defer cancel2()
	require.NoError(t, follower.Propose(long, []byte("next")))
	eventually(t, "both proposals commit, the cancelled one does not", func() bool {
		e := follower.entries()
		return slices.Contains(e, "next") && slices.Contains(e, "forwarded, never answered")
	})
	assert.NotContains(t, follower.entries(), "blocked")
}

func TestNodeStopsOnDiskFailure(t *testing.T) {
	net := memnet.New(1)
	n := startLiveNode(t, net, t.TempDir(), Config{ID: 1, Peers: []consensus.NodeID{1}})
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	eventually(t, "the single node leads", func() bool { return n.Status().IsLeader })
	require.NoError(t, n.Propose(ctx, []byte("synced")))
	eventually(t, "delivered", func() bool { return slices.Contains(n.entries(), "synced") })

	n.disk().fail.Store(true)
	_ = n.Propose(ctx, []byte("unsynced")) // accepted or refused, it must never be delivered
	select {
	case <-n.Done():
	case <-ctx.Done():
		t.Fatal("the node did not stop after its disk failed")
	}
	<-n.done // Applies closed
	assert.ErrorIs(t, n.Err(), ErrFailed)
	assert.ErrorIs(t, n.Err(), errDiskFull)
	assert.ErrorIs(t, n.Propose(ctx, []byte("later")), consensus.ErrStopped)
	assert.ErrorIs(t, n.Stop(), errDiskFull, "Stop reports why the node stopped")
	assert.Equal(t, []string{"synced"}, n.entries())
}

func TestNodeStopIsClean(t *testing.T) {
	_, nodes := startLiveCluster(t, 3, nil)
	waitLiveLeader(t, nodes)
	for _, n := range nodes {
		require.NoError(t, n.Stop())
		require.NoError(t, n.Stop(), "Stop twice is fine")
		<-n.done
		assert.ErrorIs(t, n.Propose(context.Background(), []byte("x")), consensus.ErrStopped)
		assert.ErrorIs(t, n.AddNode(context.Background(), 9), consensus.ErrStopped)
	}
}

func TestNodeMembershipAndTransfer(t *testing.T) {
	net, nodes := startLiveCluster(t, 3, nil)
	lead := waitLiveLeader(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	leader := nodes[lead-1]
	require.NoError(t, leader.AddNode(ctx, 4))
	joined := startLiveNode(t, net, t.TempDir(), Config{ID: 4, Join: true})
	nodes = append(nodes, joined)
	eventually(t, "node 4 is a member on every node", func() bool {
		for _, n := range nodes {
			if !slices.Equal(n.Status().Members, []consensus.NodeID{1, 2, 3, 4}) {
				return false
			}
		}
		return true
	})
	require.NoError(t, leader.TransferLeadership(ctx, 4))
	eventually(t, "node 4 leads", func() bool { return joined.Status().IsLeader })
	require.NoError(t, joined.Propose(ctx, []byte("from the new leader")))
	eventually(t, "committed on the old leader", func() bool { return slices.Contains(leader.entries(), "from the new leader") })
}
