package raftlog

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"testing/cryptotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/logtest"
	"github.com/synodvm/synod/consensus/memnet"
)

func TestSameOrderEverywhere(t *testing.T) {
	for _, size := range []int{3, 5} {
		t.Run(fmt.Sprintf("%d nodes", size), func(t *testing.T) {
			c := newSimCluster(t, size, nil)
			c.waitLeader()
			want := logtest.Values("v", 60)
			c.proposeAll(c.ids, want)
			got := c.converged()
			assert.ElementsMatch(t, want, got, "every proposal committed exactly once")
		})
	}
}

// TestFaultyNetwork commits through drops, duplicates and delays.
func TestFaultyNetwork(t *testing.T) {
	c := newSimCluster(t, 5, nil)
	require.NoError(t, c.net.SetFaults(memnet.Faults{Drop: 0.1, Duplicate: 0.1, MaxDelay: 3 * testTick}))
	c.waitLeader()
	want := logtest.Values("f", 40)
	c.proposeAll(c.ids, want)
	got := c.converged()
	for _, v := range want {
		assert.Contains(t, got, v)
	}
	st := c.net.Stats()
	assert.NotZero(t, st.Dropped)
	assert.NotZero(t, st.Duplicated)
}

func TestLeaderLossElectsAnother(t *testing.T) {
	c := newSimCluster(t, 3, nil)
	old := c.waitLeader()
	c.proposeAll(c.ids, logtest.Values("before", 10))
	c.crash(old)
	lead := c.waitLeader()
	require.NotEqual(t, old, lead)
	var live []consensus.NodeID
	for _, id := range c.ids {
		if id != old {
			live = append(live, id)
		}
	}
	c.proposeAll(live, logtest.Values("after", 10))
	c.restart(old)
	got := c.converged()
	assert.Equal(t, append(logtest.Values("before", 10), got[10:]...), got, "nothing committed before the crash was lost")
	assert.ElementsMatch(t, logtest.Values("after", 10), got[10:])
}

func TestMinorityCommitsNothing(t *testing.T) {
	c := newSimCluster(t, 5, nil)
	lead := c.waitLeader()
	c.proposeAll(c.ids, logtest.Values("pre", 5))
	// Cut the leader and one follower off from the other three.
	other := c.ids[0]
	if other == lead {
		other = c.ids[1]
	}
	minority := []consensus.NodeID{lead, other}
	var majority []consensus.NodeID
	for _, id := range c.ids {
		if !slices.Contains(minority, id) {
			majority = append(majority, id)
		}
	}
	c.net.Partition(minority, majority)
	commitBefore := c.nodes[lead].core.Status().Commit

	// The cut-off leader may still accept proposals until CheckQuorum
	// makes it step down; none of them may commit.
	for i := range 5 {
		_ = c.nodes[lead].core.Propose(fmt.Appendf(nil, "lost-%d", i))
	}
	c.waitFor("the cut-off leader steps down", 100, func() bool { return !c.nodes[lead].core.Status().IsLeader })
	err := c.nodes[lead].core.Propose([]byte("refused"))
	assert.ErrorIs(t, err, consensus.ErrNoQuorum, "a minority node knows it has no quorum")

	c.proposeAll(majority, logtest.Values("major", 10))
	for range 50 {
		c.tick()
	}
	for _, id := range minority {
		assert.Equal(t, commitBefore, c.nodes[id].core.Status().Commit, "node %d in the minority committed", id)
		assert.Equal(t, logtest.Values("pre", 5), c.nodes[id].app.Entries)
	}

	c.net.Heal()
	got := c.converged()
	for _, v := range got {
		assert.NotContains(t, v, "lost", "a proposal made in the minority committed")
	}
	assert.Equal(t, logtest.Values("pre", 5), got[:5])
	assert.ElementsMatch(t, logtest.Values("major", 10), got[5:])
}

// storeKinds runs a scenario on bbolt and on the simulator's MemStore.
func storeKinds(t *testing.T, f func(t *testing.T, inMemory bool)) {
	for _, kind := range []struct {
		name     string
		inMemory bool
	}{{"bbolt", false}, {"memory", true}} {
		t.Run(kind.name, func(t *testing.T) { f(t, kind.inMemory) })
	}
}

func TestRestartAllFromDisk(t *testing.T) { storeKinds(t, testRestartAllFromDisk) }

func testRestartAllFromDisk(t *testing.T, inMemory bool) {
	c := newSimClusterOn(t, 3, inMemory, nil)
	c.waitLeader()
	c.proposeAll(c.ids, logtest.Values("x", 30))
	want := c.converged()
	for _, id := range c.ids {
		c.crash(id)
	}
	for _, id := range c.ids {
		c.restart(id)
	}
	c.settle()
	for _, id := range c.ids {
		assert.Empty(t, c.nodes[id].app.Entries, "node %d holds its stored log until it hears from a leader", id)
	}
	c.waitLeader()
	c.proposeAll(c.ids, logtest.Values("y", 3))
	got := c.converged()
	assert.Equal(t, want, got[:len(want)])
}

func TestSnapshotCatchUp(t *testing.T) { storeKinds(t, testSnapshotCatchUp) }

func testSnapshotCatchUp(t *testing.T, inMemory bool) {
	c, lead, lagging, live := crashedFollower(t, inMemory)
	c.proposeAll(live, logtest.Values("s", 100))
	first, err := c.nodes[lead].store.FirstIndex()
	require.NoError(t, err)
	require.Greater(t, first, uint64(50), "the leader compacted its log")

	c.restart(lagging)
	got := c.converged()
	assert.Equal(t, logtest.Values("s", 100), got)
	assert.Equal(t, 1, c.nodes[lagging].app.Snapshots, "the lagging node caught up through a snapshot")

	// Restarting it again starts from its own stored snapshot, once a
	// leader's append shows that no newer one will replace it: the
	// leader probes a node its heartbeats failed to reach.
	c.crash(lagging)
	c.tick()
	c.restart(lagging)
	c.waitFor("the restarted node delivers its stored state", 100, func() bool { return c.nodes[lagging].app.Snapshots > 0 })
	assert.Equal(t, 1, c.nodes[lagging].app.Snapshots)
	assert.Equal(t, got[:len(c.nodes[lagging].app.Entries)], c.nodes[lagging].app.Entries)
	assert.Greater(t, len(c.nodes[lagging].app.Entries), 50)
}

// TestRestartBehindCompactedLogTakesOnlyTheLeadersSnapshot: a follower
// that restarts behind the leader's compacted log does not deliver its
// own log, which the leader's snapshot replaces: its first Apply is that
// snapshot.
func TestRestartBehindCompactedLogTakesOnlyTheLeadersSnapshot(t *testing.T) {
	storeKinds(t, func(t *testing.T, inMemory bool) {
		c := newSimClusterOn(t, 3, inMemory, snapshotEvery20)
		lead := c.waitLeader()
		lagging, live := c.followerAndOthers(lead)
		c.proposeAll(c.ids, logtest.Values("a", 10))
		c.converged()
		stored := c.nodes[lagging].core.Status().Commit
		c.crash(lagging)
		c.proposeAll(live, logtest.Values("s", 100))

		c.restart(lagging)
		got := c.converged()
		assert.Equal(t, append(logtest.Values("a", 10), logtest.Values("s", 100)...), got)
		first := c.nodes[lagging].firstApply
		require.NotNil(t, first)
		require.NotNil(t, first.Snapshot, "the first Apply is the leader's snapshot, not the node's own log")
		assert.Greater(t, first.Snapshot.Index, stored)
	})
}

// TestRestartAloneDeliversItsStoredLog: a node restarted with no leader
// reachable holds its stored log for a bounded number of ticks, then
// delivers it as if it had not held it.
func TestRestartAloneDeliversItsStoredLog(t *testing.T) {
	c := newSimCluster(t, 3, nil)
	c.waitLeader()
	c.proposeAll(c.ids, logtest.Values("x", 10))
	want := c.converged()
	for _, id := range c.ids {
		c.crash(id)
	}
	alone := c.nodes[c.ids[0]]
	c.restart(alone.id)
	for range alone.core.holdLeaderlessTicks() - 1 {
		c.tick()
	}
	assert.Empty(t, alone.app.Entries, "the node holds its log while a leader may still be heard from")
	c.waitFor("the node alone delivers its stored log", 5, func() bool { return len(alone.app.Entries) > 0 })
	// What it stored as committed: the commit index of the last entries
	// is written with the next durable write, which the crash forestalled.
	st := alone.core.Status()
	assert.Equal(t, st.Commit, st.Applied)
	assert.Equal(t, want[:len(alone.app.Entries)], alone.app.Entries)
	assert.Zero(t, st.Leader)
}

// TestQuickRestartDeliversItsStoredStateSoon: a follower restarted
// before the leader saw a heartbeat to it fail hears from a leader that
// sends it nothing but heartbeats (the leader believes it holds the whole
// log) in a cluster that commits nothing. It still delivers its stored
// state within a few election timeouts, not at the hold's bound of a
// minute: it asks for an empty entry, whose append shows that no snapshot
// will replace its state.
func TestQuickRestartDeliversItsStoredStateSoon(t *testing.T) {
	c := newSimCluster(t, 3, nil)
	lead := c.waitLeader()
	follower, _ := c.followerAndOthers(lead)
	c.proposeAll(c.ids, logtest.Values("x", 10))
	want := c.converged()
	c.crash(follower)
	c.restart(follower)
	n := c.nodes[follower]
	c.waitFor("the node delivers its stored log", 4*c.nodes[lead].core.cfg.ElectionTicks, func() bool { return len(n.app.Entries) == len(want) })
	assert.Equal(t, want, n.app.Entries)
	assert.Equal(t, lead, n.core.Status().Leader)
}

func TestMembershipChanges(t *testing.T) {
	c := newSimCluster(t, 3, nil)
	lead := c.waitLeader()
	c.proposeAll(c.ids, logtest.Values("a", 5))

	require.NoError(t, c.nodes[lead].core.AddNode(4))
	c.add(4, Config{Join: true})
	c.waitFor("node 4 is a member everywhere", 500, func() bool {
		for _, id := range c.ids {
			if !slices.Equal(c.nodes[id].core.Status().Members, []consensus.NodeID{1, 2, 3, 4}) {
				return false
			}
		}
		return true
	})
	c.proposeAll([]consensus.NodeID{4, lead}, logtest.Values("b", 4))
	assert.Equal(t, c.nodes[lead].app.Entries, c.nodes[4].app.Entries, "the new node has the whole logtest.History")

	// Remove the leader itself; the rest elect another and go on.
	require.NoError(t, c.nodes[lead].core.RemoveNode(lead))
	var rest []consensus.NodeID
	for _, id := range c.ids {
		if id != lead {
			rest = append(rest, id)
		}
	}
	c.waitFor("the old leader is gone from the membership", 500, func() bool {
		return !slices.Contains(c.nodes[rest[0]].core.Status().Members, lead)
	})
	newLead := c.waitLeader()
	assert.NotEqual(t, lead, newLead)
	assert.Len(t, c.nodes[newLead].core.Status().Members, 3)
	c.proposeAll(rest, logtest.Values("c", 3))
}

func TestLeadershipTransfer(t *testing.T) {
	c := newSimCluster(t, 3, nil)
	lead := c.waitLeader()
	to := c.ids[0]
	if to == lead {
		to = c.ids[1]
	}
	require.NoError(t, c.nodes[lead].core.TransferLeadership(to))
	c.waitFor("leadership moves", 200, func() bool { return c.leader() == to })
	c.proposeAll(c.ids, logtest.Values("t", 3))
}

func TestProposeBackPressure(t *testing.T) {
	c := newSimCluster(t, 3, func(cfg *Config) { cfg.MaxInflightProposals = 2 })
	lead := c.waitLeader()
	core := c.nodes[lead].core
	require.NoError(t, core.Propose([]byte("1")))
	require.NoError(t, core.Propose([]byte("2")))
	assert.ErrorIs(t, core.Propose([]byte("3")), ErrBusy)
	c.settle()
	assert.Equal(t, 0, core.InflightProposals(), "committed proposals free their slots")
	assert.NoError(t, core.Propose([]byte("3")))
}

// TestLostProposalsFreeTheirSlots: proposals forwarded to a leader that
// dies with them never come back; their slots expire.
func TestLostProposalsFreeTheirSlots(t *testing.T) {
	c := newSimCluster(t, 3, func(cfg *Config) { cfg.MaxInflightProposals = 1 })
	lead := c.waitLeader()
	follower := c.ids[0]
	if follower == lead {
		follower = c.ids[1]
	}
	c.net.Partition([]consensus.NodeID{lead}) // forwarded proposals are lost
	core := c.nodes[follower].core
	require.NoError(t, core.Propose([]byte("lost")))
	require.ErrorIs(t, core.Propose([]byte("next")), ErrBusy)
	c.net.Heal()
	c.waitFor("the lost proposal's slot expires", 200, func() bool { return core.InflightProposals() == 0 })
}

func TestGarbageMessagesAreRefused(t *testing.T) {
	c := newSimCluster(t, 3, nil)
	lead := c.waitLeader()
	core := c.nodes[lead].core
	tests := []struct {
		name string
		in   consensus.Inbound
	}{
		{"not protobuf", consensus.Inbound{From: 2, Data: []byte{0xff, 0xff, 0xff}}},
		{"forged sender", consensus.Inbound{From: 2, Data: mustMarshalMsg(t, 3, lead)}},
		{"wrong recipient", consensus.Inbound{From: 2, Data: mustMarshalMsg(t, 2, 99)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := core.Step(tt.in)
			require.Error(t, err)
			assert.False(t, errors.Is(err, ErrFailed), "garbage does not stop the node")
		})
	}
	c.proposeAll(c.ids, logtest.Values("ok", 2))
}

// TestDeterministicRun shows the single-goroutine form is reproducible:
// with crypto/rand seeded (raft draws its election timeouts from it) two
// runs of the same scenario elect the same leaders in the same terms and
// commit the same logtest.History.
func TestDeterministicRun(t *testing.T) {
	run := func() []string {
		cryptotest.SetGlobalRandom(t, 42)
		c := newSimClusterOn(t, 5, true, nil)
		require.NoError(t, c.net.SetFaults(memnet.Faults{Drop: 0.05, MaxDelay: 2 * testTick}))
		var trace []string
		lead := c.waitLeader()
		trace = append(trace, fmt.Sprintf("leader %d term %d", lead, c.nodes[lead].core.Status().Term))
		c.proposeAll(c.ids, logtest.Values("d", 10))
		c.crash(lead)
		lead2 := c.waitLeader()
		trace = append(trace, fmt.Sprintf("leader %d term %d", lead2, c.nodes[lead2].core.Status().Term))
		return append(trace, c.nodes[lead2].app.Entries...)
	}
	assert.Equal(t, run(), run())
}

func mustMarshalMsg(t *testing.T, from, to consensus.NodeID) []byte {
	b, err := proto.Marshal(&pb.Message{Type: pb.MsgHeartbeat.Enum(), From: new(uint64(from)), To: new(uint64(to)), Term: new(uint64(1))})
	require.NoError(t, err)
	return b
}

// TestFullDiskStopsTheNode: a leader whose disk fails stops with
// ErrFailed and acknowledges nothing it could not persist; the others
// elect a new leader and go on. The entry it failed to write had already
// been sent to the followers (the leader writes in parallel with them), so
// it may commit through them; either way every node ends with one log.
func TestFullDiskStopsTheNode(t *testing.T) {
	c := newSimCluster(t, 3, nil)
	lead := c.waitLeader()
	c.proposeAll(c.ids, logtest.Values("ok", 3))
	n := c.nodes[lead]
	n.disk.fail.Store(true)
	require.NoError(t, n.core.Propose([]byte("unsynced")))
	_, err := n.core.HandleReady()
	require.ErrorIs(t, err, ErrFailed)
	require.ErrorIs(t, err, errDiskFull, "the error names the disk failure")
	assert.ErrorIs(t, n.core.Propose([]byte("more")), ErrFailed, "a failed node accepts nothing")
	assert.ErrorIs(t, n.core.Tick(), ErrFailed)
	assert.False(t, n.core.HasReady())

	c.crash(lead)
	var rest []consensus.NodeID
	for _, id := range c.ids {
		if id != lead {
			rest = append(rest, id)
		}
	}
	c.waitLeader()
	c.proposeAll(rest, logtest.Values("after", 2))
	c.restart(lead)
	got := c.converged()
	assert.Equal(t, logtest.Values("ok", 3), got[:3])
	assert.NotContains(t, got, "more", "nothing the failed node refused is in the log")
	unsynced := 0
	for _, v := range got {
		if v == "unsynced" {
			unsynced++
		}
	}
	assert.LessOrEqual(t, unsynced, 1, "the entry the leader failed to write commits at most once")
}

// TestRaftPanicStopsTheNode: when raft finds its state inconsistent it
// panics through its logger; the Core turns that into ErrFailed for this
// node instead of crashing the process.
func TestRaftPanicStopsTheNode(t *testing.T) {
	c := newSimCluster(t, 3, nil)
	core := c.nodes[1].core
	err := core.guard("test", func() error {
		raftLogger{quietLogger()}.Panicf("tocommit(%d) is out of range", 9)
		return nil
	})
	require.ErrorIs(t, err, ErrFailed)
	assert.Contains(t, err.Error(), "tocommit(9) is out of range")
	assert.ErrorIs(t, core.Tick(), ErrFailed, "the node stays stopped")
	assert.Equal(t, err, core.Err())
}

// TestDamagedEntryStopsTheNode: a leader that finds a damaged entry while
// reading its log for a lagging follower stops, and its error still says
// the store is damaged (raft itself keeps only the text of the error).
func TestDamagedEntryStopsTheNode(t *testing.T) {
	c := newSimCluster(t, 3, nil)
	lead := c.waitLeader()
	lagging, live := c.followerAndOthers(lead)
	c.crash(lagging)
	c.proposeAll(live, logtest.Values("x", 5))
	c.nodes[lead].disk.damaged.Store(true)
	c.restart(lagging)
	c.waitFor("the leader stops on the damaged entry", 100, func() bool { return c.nodes[lead].core.Err() != nil })
	err := c.nodes[lead].core.Err()
	require.ErrorIs(t, err, ErrFailed)
	require.ErrorIs(t, err, ErrCorruptStore)
	assert.Contains(t, err.Error(), "fails its checksum")
}

// A follower that restarted behind the cluster learns from the leader's
// appends how far the log is committed (Status.LeaderCommit), before its
// own log gets there: the replica runtime takes no client until it has
// applied that far.
func TestRestartedFollowerLearnsTheLeadersCommit(t *testing.T) {
	c, lead, follower, up := crashedFollower(t, false)
	c.proposeAll(up, logtest.Values("while away", 10))
	leaderCommit := c.nodes[lead].core.Status().Commit
	c.restart(follower)
	require.Zero(t, c.nodes[follower].core.Status().LeaderCommit, "no leader has spoken to the restarted node yet")

	c.waitFor("the restarted follower heard the leader's commit index", 500, func() bool {
		return c.nodes[follower].core.Status().LeaderCommit >= leaderCommit
	})
	assert.Equal(t, c.nodes[lead].core.Status().Commit, c.nodes[lead].core.Status().LeaderCommit, "a leader's own commit")
	c.converged()
	assert.Equal(t, c.nodes[lead].core.Status().Commit, c.nodes[follower].core.Status().LeaderCommit)
}
