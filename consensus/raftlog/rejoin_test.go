package raftlog

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/logtest"
)

// loseStore replaces a crashed node's store with an empty one marked as
// rejoining, as synod node --rejoin does after its directory was lost.
func (c *simCluster) loseStore(id consensus.NodeID) {
	n := c.nodes[id]
	if c.inMemory {
		n.mem = NewRejoiningMemStore()
		return
	}
	require.NoError(c.t, os.RemoveAll(n.dir))
	require.NoError(c.t, CreateBoltStore(n.dir, Identity{ClusterID: testCluster, Node: id}, StoreLife{Incarnation: 2, Rejoining: true}))
}

// The scenario of a deleted data directory: node 2 misses writes that
// nodes 1 and 3 acknowledged; 1 and 3 crash and 3 loses its store. Node 2
// and the rejoining node 3 must not elect anyone (2 lacks the writes, and
// only 3's vote could make it leader); once node 1 is back, the writes are
// everywhere and node 3 votes again.
func TestRejoiningNodeNeverElectsALeaderLackingWrites(t *testing.T) {
	storeKinds(t, func(t *testing.T, inMemory bool) {
		c := newSimClusterOn(t, 3, inMemory, func(cfg *Config) {
			cfg.SnapshotEntries = 8
			cfg.CompactKeepEntries = 2
		})
		c.waitLeader()
		c.crash(2)
		acked := logtest.Values("acked", 20)
		c.proposeAll([]consensus.NodeID{1, 3}, acked)
		c.converged()
		c.crash(1)
		c.crash(3)
		c.loseStore(3)
		c.restart(2)
		c.restart(3)
		for range 300 { // many election timeouts
			c.tick()
			for _, id := range []consensus.NodeID{2, 3} {
				require.False(t, c.nodes[id].core.Status().IsLeader, "node %d leads without the acknowledged writes", id)
			}
		}
		rejoining, _ := c.nodes[3].store.Rejoin()
		assert.True(t, rejoining, "node 3 has not caught up with any leader")

		c.restart(1)
		c.waitLeader()
		c.proposeAll(c.ids, logtest.Values("after", 3))
		got := c.converged()
		for _, v := range acked {
			assert.Contains(t, got, v)
		}
		for _, id := range c.ids {
			assert.Equal(t, got, c.nodes[id].app.Entries, "node %d", id)
		}
		rejoining, floor := c.nodes[3].store.Rejoin()
		assert.False(t, rejoining, "node 3 caught up")
		assert.Equal(t, c.nodes[1].core.Status().Term, floor, "node 3 votes only in later terms")
	})
}

// A rejoined node that has caught up takes part in elections again: with
// its peers failing one at a time it can still help elect a leader.
func TestRejoinedNodeVotesAgainAfterCatchingUp(t *testing.T) {
	c := newSimClusterOn(t, 3, true, nil)
	c.waitLeader()
	c.proposeAll(c.ids, logtest.Values("a", 5))
	c.converged()
	c.crash(3)
	c.loseStore(3)
	c.restart(3)
	c.proposeAll(c.ids, logtest.Values("b", 5))
	c.converged()
	rejoining, _ := c.nodes[3].store.Rejoin()
	require.False(t, rejoining)

	lead := c.waitLeader()
	c.crash(lead)
	c.waitLeader() // needs node 3's vote: two of three are left
	c.proposeAll(c.liveIDs(), logtest.Values("c", 3))
	got := c.converged()
	assert.Contains(t, got, "a-4")
	assert.Contains(t, got, "c-2")
}

func (c *simCluster) liveIDs() []consensus.NodeID {
	var live []consensus.NodeID
	for _, id := range c.ids {
		if c.nodes[id].up() {
			live = append(live, id)
		}
	}
	return live
}
