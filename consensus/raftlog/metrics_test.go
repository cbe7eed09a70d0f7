package raftlog

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/logtest"
)

// TestMetrics checks that what an operator watches moves with the cluster:
// indexes, leadership, durable-write latency and snapshots.
func TestMetrics(t *testing.T) {
	regs := map[consensus.NodeID]*prometheus.Registry{}
	c := newSimCluster(t, 3, nil)
	c.settle() // the bootstrap membership is on disk
	// Restart every node with a registry of its own (the first start had none).
	for _, id := range c.ids {
		c.crash(id)
		regs[id] = prometheus.NewRegistry()
		c.start(c.nodes[id], Config{Metrics: regs[id], SnapshotEntries: 10, CompactKeepEntries: 1})
	}
	lead := c.waitLeader()
	c.proposeAll(c.ids, logtest.Values("m", 25))
	c.converged()

	reg := regs[lead]
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	assert.Empty(t, problems)
	gauge := func(name string) float64 {
		mfs, err := reg.Gather()
		require.NoError(t, err)
		for _, mf := range mfs {
			if mf.GetName() == name {
				m := mf.GetMetric()[0]
				switch {
				case m.GetGauge() != nil:
					return m.GetGauge().GetValue()
				case m.GetCounter() != nil:
					return m.GetCounter().GetValue()
				case m.GetHistogram() != nil:
					return float64(m.GetHistogram().GetSampleCount())
				}
			}
		}
		t.Fatalf("metric %s not found", name)
		return 0
	}
	st := c.nodes[lead].core.Status()
	assert.Equal(t, float64(st.Commit), gauge("synod_raft_commit_index"))
	assert.Equal(t, float64(st.Applied), gauge("synod_raft_applied_index"))
	assert.Equal(t, float64(st.Term), gauge("synod_raft_term"))
	assert.Equal(t, 1.0, gauge("synod_raft_is_leader"))
	assert.Equal(t, 3.0, gauge("synod_raft_members"))
	assert.GreaterOrEqual(t, gauge("synod_raft_leader_changes_total"), 1.0)
	assert.Greater(t, gauge("synod_raft_fsync_seconds"), 0.0)
	assert.GreaterOrEqual(t, gauge("synod_raft_snapshots_created_total"), 2.0)
	assert.Greater(t, gauge("synod_raft_proposal_seconds"), 0.0, "the leader timed its own proposals")

	_, err = newMetrics(reg)
	assert.Error(t, err, "a registry holds one node's metrics")
}
