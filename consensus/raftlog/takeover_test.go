package raftlog

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
)

// survivors are the live nodes other than lead, in id order.
func (c *simCluster) survivors(lead consensus.NodeID) []consensus.NodeID {
	var ids []consensus.NodeID
	for _, id := range c.ids {
		if id != lead && c.nodes[id].up() {
			ids = append(ids, id)
		}
	}
	return ids
}

// When the transport reports that the leader's process ended, the first
// survivor by id wins an election at once, without a single tick: no
// election timeout, and the other survivor grants its vote although it
// heard from the old leader a moment ago. The second survivor, whose turn
// had not come, does not campaign and split the vote.
func TestLeaderWhoseProcessEndedIsReplacedWithoutTimeout(t *testing.T) {
	c := newSimCluster(t, 3, nil)
	lead := c.waitLeader()
	c.proposeAll(c.ids, []string{"before"})
	term := c.nodes[lead].core.Status().Term
	c.crash(lead)

	survivors := c.survivors(lead)
	for _, id := range survivors {
		require.NoError(t, c.nodes[id].core.PeerGone(lead))
	}
	c.settle()
	first := c.nodes[survivors[0]].core.Status()
	require.True(t, first.IsLeader, "node %d leads at once", survivors[0])
	require.Equal(t, term+1, first.Term, "one election, no split vote")
	require.Equal(t, survivors[0], c.nodes[survivors[1]].core.Status().Leader)

	// The stagger passes; the second survivor owes nothing any more.
	for range 2 * c.nodes[survivors[1]].core.cfg.TakeoverStaggerTicks {
		c.tick()
	}
	require.Equal(t, term+1, c.nodes[survivors[1]].core.Status().Term)
	c.proposeAll(survivors, []string{"after"})
}

// A report about a node that does not lead, or about a leader that has
// been replaced meanwhile, starts no election.
func TestPeerGoneOfAFollowerChangesNothing(t *testing.T) {
	c := newSimCluster(t, 3, nil)
	lead := c.waitLeader()
	term := c.nodes[lead].core.Status().Term
	survivors := c.survivors(lead)
	require.NoError(t, c.nodes[survivors[1]].core.PeerGone(survivors[0]))
	for range 10 {
		c.tick()
	}
	require.Equal(t, lead, c.leader())
	require.Equal(t, term, c.nodes[lead].core.Status().Term)
}

// When the first survivor in turn cannot take over (in a five-node
// cluster, it died with the leader, unreported), the next one does once
// the stagger has passed, still well before an election timeout.
func TestNextSurvivorTakesOverAfterTheStagger(t *testing.T) {
	c := newSimCluster(t, 5, nil)
	lead := c.waitLeader()
	term := c.nodes[lead].core.Status().Term
	c.crash(lead)
	survivors := c.survivors(lead)
	c.crash(survivors[0]) // the first in turn is gone as well, unreported
	for _, id := range survivors[1:] {
		require.NoError(t, c.nodes[id].core.PeerGone(lead))
	}
	c.settle()
	require.Equal(t, consensus.NodeID(0), c.leader(), "the second waits its turn")
	stagger := c.nodes[survivors[1]].core.cfg.TakeoverStaggerTicks
	for range stagger {
		c.tick()
	}
	second := c.nodes[survivors[1]].core.Status()
	require.True(t, second.IsLeader, "node %d takes over after %d ticks", survivors[1], stagger)
	require.Equal(t, term+1, second.Term)
}
