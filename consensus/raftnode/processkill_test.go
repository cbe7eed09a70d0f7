package raftnode

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus/cluster"
	"github.com/synodvm/synod/consensus/logtest"
)

// TestProcessKillLeader runs real node processes over libp2p on loopback:
// SIGKILL the leader, a new one is elected and nothing committed is lost;
// the killed node restarts from its bbolt directory and catches up through
// a snapshot (the others compacted their logs meanwhile); finally every
// node is stopped and restarted and still holds every committed entry.
func TestProcessKillLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	for _, size := range []int{3, 5} {
		t.Run(fmt.Sprintf("%d nodes", size), func(t *testing.T) {
			c := newProcCluster(t, cluster.Spec{Nodes: size}, childSnapshotEnv+"=20")
			c.startAll()
			all := c.live()
			lead := c.leaderAmong(all)
			c.commit(all, logtest.Values("before", 10))

			c.procs[lead].kill()
			rest := without(all, lead)
			newLead := c.leaderAmong(rest)
			require.NotEqual(t, lead, newLead)
			c.commit(rest, logtest.Values("during", 60)) // enough for the others to snapshot and compact
			history := c.converged(rest)
			assert.ElementsMatch(t, logtest.Values("before", 10), history[:10], "nothing committed before the kill was lost")

			c.start(lead)
			all = c.live()
			got := c.converged(all)
			assert.Equal(t, history, got[:len(history)])
			r := c.procs[lead].mustCall("status")
			assert.Equal(t, 1, r.Snapshots, "the restarted node caught up through a snapshot")

			for _, p := range all {
				p.stop()
			}
			c.startAll()
			all = c.live()
			c.leaderAmong(all)
			c.commit(all, logtest.Values("after-restart", 3))
			final := c.converged(all)
			assert.Equal(t, got, final[:len(got)], "every committed entry survived a full restart")
		})
	}
}
