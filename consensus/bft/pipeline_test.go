package bft

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/logtest"
)

// quietNet runs four cores whose drivers make each Ready durable before
// the next, in the order of the messages, except that member held only
// collects what is sent to it: the test steps it alone, without calling
// Ready, as Log does while a write is in progress.
type quietNet struct {
	t     *testing.T
	cores map[consensus.NodeID]*Core
	held  consensus.NodeID
	// toHeld is what the others sent the held member, oldest first.
	toHeld []Message
	apps   map[consensus.NodeID]*logtest.History
	// batchOf is the batch each entry's data was decided in, as settle
	// saw the members execute it.
	batchOf map[string]uint64
}

func newQuietNet(t *testing.T, held consensus.NodeID) *quietNet {
	n := &quietNet{t: t, cores: map[consensus.NodeID]*Core{}, held: held, apps: map[consensus.NodeID]*logtest.History{}, batchOf: map[string]uint64{}}
	for id := consensus.NodeID(1); id <= 4; id++ {
		core, err := NewCore(testConfig(id, 4), nil)
		require.NoError(t, err)
		n.cores[id], n.apps[id] = core, &logtest.History{}
	}
	return n
}

// settle runs the members other than the held one until none has more
// to do, within a bounded number of rounds.
func (n *quietNet) settle() {
	for range 1000 {
		var queue []Message
		var froms []consensus.NodeID
		for id, core := range n.cores {
			if id == n.held || !core.HasReady() {
				continue
			}
			rd := core.Ready()
			require.NoError(n.t, n.apps[id].Apply(rd.Applies...))
			for _, a := range rd.Applies {
				for _, e := range a.Entries {
					n.batchOf[string(e.Data)] = e.Batch
				}
			}
			if rd.SnapshotDue != nil {
				snap, err := n.apps[id].Snapshot()
				require.NoError(n.t, err)
				require.NoError(n.t, core.SnapshotTaken(rd.SnapshotDue.Seq, snap.Data))
			}
			for _, m := range rd.Messages {
				queue, froms = append(queue, m), append(froms, id)
			}
		}
		if len(queue) == 0 && !n.othersReady() {
			return
		}
		for i, m := range queue {
			if m.To == n.held {
				n.toHeld = append(n.toHeld, Message{To: froms[i], Data: m.Data})
				continue
			}
			_ = n.cores[m.To].Step(froms[i], m.Data) // a stale vote is dropped, as over a network
		}
	}
	n.t.Fatal("the members did not settle in 1000 rounds")
}

func (n *quietNet) othersReady() bool {
	for id, core := range n.cores {
		if id != n.held && core.HasReady() {
			return true
		}
	}
	return false
}

// stepHeld hands the held member everything sent to it (Message.To is
// the sender here), without calling its Ready.
func (n *quietNet) stepHeld() {
	for _, m := range n.toHeld {
		_ = n.cores[n.held].Step(m.To, m.Data)
	}
	n.toHeld = nil
}

// TestExecutionWaitsForTheOwnCommitsReady: a replica that decides a batch
// on its own commit gathered in the same Ready executes it only in the
// next one. Log hands Applies over before their Ready is durable; were
// the batch executed with its commit still unwritten, a crash would lose
// the commit, and the replica would have acted on a batch that only
// f+1 durable commits may ever back.
func TestExecutionWaitsForTheOwnCommitsReady(t *testing.T) {
	n := newQuietNet(t, 3)
	require.NoError(t, n.cores[2].Propose([]byte("x")))
	n.settle()
	require.Equal(t, []string{"x"}, n.apps[1].Entries, "the other three decide without member 3")

	n.stepHeld() // pre-prepare, prepares and commits: member 3 prepares, commits and decides at once
	held := n.cores[3]
	rd := held.Ready()
	require.Empty(t, rd.Applies, "executed on a commit that is not durable yet")
	require.True(t, containsType(rd.Messages, msgCommit), "the commit goes out with this Ready")
	require.True(t, held.HasReady(), "the held batch calls for another Ready")
	rd = held.Ready()
	require.Len(t, rd.Applies, 1)
	require.Equal(t, []byte("x"), rd.Applies[0].Entries[0].Data)
}

// checkpointWithoutHeld has member 2 propose one batch at a time until
// the other members make the first checkpoint stable, the held member
// hearing nothing yet; it returns the checkpoint's sequence number.
func (n *quietNet) checkpointWithoutHeld() uint64 {
	interval := n.cores[1].cfg.CheckpointInterval
	for i := range interval {
		require.NoError(n.t, n.cores[2].Propose([]byte{byte('a' + i)}))
		n.settle()
	}
	require.Equal(n.t, interval, n.cores[1].stable.seq, "the other three made the checkpoint stable")
	return interval
}

// runHeld runs the held member's Readies, applying what they deliver and
// taking the snapshots they ask for, until it has nothing more to do;
// each Ready is given to check first.
func (n *quietNet) runHeld(check func(Ready)) {
	held := n.cores[n.held]
	for range 8 {
		if !held.HasReady() {
			return
		}
		rd := held.Ready()
		check(rd)
		require.NoError(n.t, n.apps[n.held].Apply(rd.Applies...))
		if rd.SnapshotDue != nil {
			snap, err := n.apps[n.held].Snapshot()
			require.NoError(n.t, err)
			require.NoError(n.t, held.SnapshotTaken(rd.SnapshotDue.Seq, snap.Data))
		}
	}
}

// TestSlowReplicaExecutesRatherThanFetchingState: a replica that holds
// every decided batch up to a checkpoint the others made stable executes
// them rather than fetching the others' state, which would replace its
// state (and hang up on its clients) for nothing.
func TestSlowReplicaExecutesRatherThanFetchingState(t *testing.T) {
	n := newQuietNet(t, 3)
	interval := n.checkpointWithoutHeld()

	n.stepHeld()
	held := n.cores[3]
	require.Zero(t, held.lastExec, "member 3 holds the batches unexecuted")
	n.runHeld(func(rd Ready) {
		require.False(t, containsType(rd.Messages, msgStateRequest), "asked for the state of batches it holds")
	})
	require.Equal(t, n.apps[1].Entries, n.apps[3].Entries)
	require.Equal(t, interval, held.stable.seq, "its own checkpoint, with the others' votes, is stable")
}

// TestACheckpointItsOwnOldVoteCertifiedBecomesStable: a replica restarted
// after signing a checkpoint gets its own signed vote back inside a
// certificate (a view change carries one), with the others', before it
// has executed that far again. Once it has, its checkpoint is stable.
// The vote was taken as its own, so the one it signed on taking its
// snapshot was a repeat, ignored before the checkpoint was checked
// again: it stayed at the checkpoint before, its window full, and as
// primary ordered nothing (simulator seed 181014, under crash, store-loss,
// disk and clock faults).
func TestACheckpointItsOwnOldVoteCertifiedBecomesStable(t *testing.T) {
	n := newQuietNet(t, 3)
	interval := n.checkpointWithoutHeld()

	held := n.cores[3]
	own := held.sign(msgCheckpoint, encodeCheckpoint(&checkpoint{Seq: interval, Digest: n.cores[1].stable.digest}))
	held.addCertVotes(append(slices.Clone(n.cores[1].stable.cert), own))
	n.stepHeld()
	n.runHeld(func(Ready) {})
	require.Equal(t, interval, held.lastExec)
	require.Equal(t, interval, held.stable.seq, "its checkpoint, voted for by all four, is stable")
}

func containsType(msgs []Message, typ msgType) bool {
	for _, m := range msgs {
		if len(m.Data) > 0 && msgType(m.Data[0]) == typ {
			return true
		}
	}
	return false
}

// TestPrimaryBatchesWhileABatchIsUndecided: the primary orders no second
// batch while its first is undecided; the requests that arrive meanwhile
// go out together in the next one, once the first is decided.
func TestPrimaryBatchesWhileABatchIsUndecided(t *testing.T) {
	n := newQuietNet(t, 0) // no member held: settle runs them all
	primary := n.cores[1]
	require.NoError(t, n.cores[2].Propose([]byte("a")))
	for _, m := range n.cores[2].Ready().Messages {
		if m.To == 1 {
			require.NoError(t, primary.Step(2, m.Data))
		}
	}
	first := primary.Ready()
	require.True(t, containsType(first.Messages, msgPrePrepare), "the first request is ordered at once")

	for _, id := range []consensus.NodeID{3, 4} {
		require.NoError(t, n.cores[id].Propose([]byte{byte('a' + id)}))
		for _, m := range n.cores[id].Ready().Messages {
			if m.To == 1 {
				require.NoError(t, primary.Step(id, m.Data))
			}
		}
	}
	require.False(t, containsType(primary.Ready().Messages, msgPrePrepare), "a second batch while the first is undecided")

	for _, m := range first.Messages {
		require.NoError(t, n.cores[m.To].Step(1, m.Data))
	}
	n.settle()
	for id := consensus.NodeID(1); id <= 4; id++ {
		require.ElementsMatch(t, []string{"a", "d", "e"}, n.apps[id].Entries, "member %d", id)
	}
	require.Equal(t, uint64(2), primary.lastExec, "the two later requests went in one batch")
}
