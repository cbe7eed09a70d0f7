package raftnode

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/cluster"
	"github.com/synodvm/synod/consensus/logtest"
	"github.com/synodvm/synod/consensus/raftlog"
)

// historyNode is one in-process node applying its log to a History.
type historyNode struct {
	*Node
	mu      sync.Mutex
	hist    logtest.History
	drained chan struct{}
}

func startHistoryNode(t *testing.T, cfg *cluster.Config, id consensus.NodeID) *historyNode {
	t.Helper()
	h := &historyNode{drained: make(chan struct{})}
	node, err := Start(cfg, id, Options{
		Engine: raftlog.Config{
			TickInterval: 20 * time.Millisecond,
			SnapshotSource: func() (consensus.Snapshot, error) {
				h.mu.Lock()
				defer h.mu.Unlock()
				return h.hist.Snapshot()
			},
		},
		Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	h.Node = node
	go func() {
		defer close(h.drained)
		for a := range node.Applies() {
			h.mu.Lock()
			require.NoError(t, h.hist.Apply(a))
			h.mu.Unlock()
		}
	}()
	t.Cleanup(h.stop)
	return h
}

func (h *historyNode) stop() {
	_ = h.Stop()
	<-h.drained
}

func (h *historyNode) history() logtest.History {
	h.mu.Lock()
	defer h.mu.Unlock()
	return logtest.History{Index: h.hist.Index, Entries: slices.Clone(h.hist.Entries), Snapshots: h.hist.Snapshots}
}

// A node can replace its state with a snapshot fetched from another: it
// asks while running, installs once stopped, and restarts from it.
func TestFetchAndInstallSnapshot(t *testing.T) {
	cfg, err := CreateCluster(t.TempDir(), cluster.Spec{Nodes: 3})
	require.NoError(t, err)
	nodes := map[consensus.NodeID]*historyNode{}
	for _, n := range cfg.Nodes {
		nodes[n.ID] = startHistoryNode(t, cfg, n.ID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	// commitAll commits values in order through node 1 and waits until
	// every node has them. A proposal raft drops with a leader change is
	// proposed again.
	commitAll := func(values []string) {
		t.Helper()
		for _, v := range values {
			require.Eventually(t, func() bool {
				if nodes[1].Propose(ctx, []byte(v)) != nil {
					return false
				}
				deadline := time.Now().Add(2 * time.Second)
				for time.Now().Before(deadline) {
					if slices.Contains(nodes[1].history().Entries, v) {
						return true
					}
					time.Sleep(5 * time.Millisecond)
				}
				return false
			}, patience, 10*time.Millisecond, "%s never committed", v)
		}
		last := values[len(values)-1]
		require.Eventually(t, func() bool {
			for _, n := range nodes {
				if !slices.Contains(n.history().Entries, last) {
					return false
				}
			}
			return true
		}, patience, 10*time.Millisecond, "%s not on every node", last)
	}
	commitAll(logtest.Values("before", 5))

	_, err = nodes[3].FetchSnapshot(ctx, 1<<40)
	require.ErrorContains(t, err, "behind", "no node has a state that far ahead")
	snap, err := nodes[3].FetchSnapshot(ctx, nodes[3].Status().Snapshot)
	require.NoError(t, err)
	require.GreaterOrEqual(t, snap.GetMetadata().GetIndex(), nodes[1].history().Index-1)
	require.ElementsMatch(t, []uint64{1, 2, 3}, snap.GetMetadata().GetConfState().GetVoters())

	nodes[3].stop()
	require.NoError(t, InstallSnapshot(cfg, 3, snap))
	nodes[3] = startHistoryNode(t, cfg, 3)
	commitAll(logtest.Values("after", 5))
	require.Equal(t, 1, nodes[3].history().Snapshots, "the restarted node began from the fetched snapshot")
	require.Eventually(t, func() bool {
		return slices.Equal(nodes[1].history().Entries, nodes[3].history().Entries)
	}, patience, 10*time.Millisecond, "node 3 holds what node 1 holds")
}
