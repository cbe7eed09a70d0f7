package bft

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
)

// TestAMemberLessThanAWindowBehindGetsTheBatches: a member that falls
// behind while the others make two more checkpoints stable (cut off for
// a while, or restarted from its records), less than a window, is sent
// the batches it missed, with their proofs, and executes them.
// Installing the others' state instead hangs up on every client of its
// node (replica/node.go), and a member that just caught up after a
// restart and took clients did so again at the next checkpoint of a busy
// cluster.
func TestAMemberLessThanAWindowBehindGetsTheBatches(t *testing.T) {
	for _, tc := range []struct {
		name    string
		restart bool
	}{{"cut off", false}, {"restarted", true}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 4, 37)
			late := h.replica(4)
			lagBehind(t, h, late)

			if tc.restart {
				h.restart(late)
			}
			delete(h.cut, late.id)
			h.workload(4, 1, 200)
			h.settle(400000)
			require.Zero(t, late.core.Stats().StateTransfers, "member 4 installed the others' state instead of executing the batches")
		})
	}
}

// withholdDecided has every member but to send it no decided
// proofs: it can learn of what they decided only from their state.
func withholdDecided(h *harness, to consensus.NodeID) {
	for _, r := range h.replicas {
		if r.id != to {
			r.behave = func(h *harness, from *replica, dst consensus.NodeID, data []byte) [][]byte {
				if dst == to && msgType(data[0]) == msgDecided {
					return nil
				}
				return [][]byte{data}
			}
		}
	}
}

// lagBehind cuts member late off while the others make two more
// checkpoints stable, less than a window past it.
func lagBehind(t *testing.T, h *harness, late *replica) {
	t.Helper()
	lagPast(t, h, late, late.core.cfg.CheckpointInterval, late.core.cfg.Window)
}

// lagPast cuts member late off while the others make checkpoints stable
// more than past and less than under beyond it.
func lagPast(t *testing.T, h *harness, late *replica, past, under uint64) {
	t.Helper()
	ahead := h.replica(1)
	interval := late.core.cfg.CheckpointInterval
	for round := 0; round < 50 && late.core.lastExec <= interval; round++ {
		h.propose(ahead, 1)
		h.settle(100000)
	}
	behind := late.core.lastExec
	h.cut[late.id] = true
	for round := 0; round < 50 && ahead.core.stable.seq <= behind+past; round++ {
		for _, r := range h.replicas {
			if r != late {
				h.propose(r, 1)
			}
		}
		for range 300 {
			h.step()
		}
	}
	require.Greater(t, ahead.core.stable.seq, behind+past, "the others made checkpoints more than %d past member %d stable", past, late.id)
	require.Less(t, ahead.core.stable.seq, behind+under, "member %d is less than %d behind their stable checkpoint", late.id, under)
}

// TestAMemberCutOffForMoreThanAWindowGetsTheBatches: a member cut off
// while the others go more than a window past it, but less than the
// decided batches they keep (Config.CatchUpWindows), executes those
// batches rather than install their state, although it holds no
// certificate of the checkpoints on the way, whose messages it missed.
func TestAMemberCutOffForMoreThanAWindowGetsTheBatches(t *testing.T) {
	h := newHarness(t, 4, 61)
	late := h.replica(4)
	window := late.core.cfg.Window
	lagPast(t, h, late, window+late.core.cfg.CheckpointInterval, late.core.catchUpSpan())
	delete(h.cut, late.id)
	h.workload(4, 1, 200)
	h.settle(400000)
	require.Zero(t, late.core.Stats().StateTransfers, "member 4 installed the others' state instead of executing the batches")
	require.Equal(t, h.replica(1).history.Entries, late.history.Entries)
}

// TestABehindMemberDeniedTheBatchesTakesTheState: a member less than a
// window behind asks the signers of the others' stable checkpoint for the
// batches up to it; when a round of them brings none (withheld here, or
// past the member's own window, whose checkpoint it cannot make stable
// alone), it asks for their state instead, rather than wait for good.
func TestABehindMemberDeniedTheBatchesTakesTheState(t *testing.T) {
	h := newHarness(t, 4, 41)
	late := h.replica(4)
	lagBehind(t, h, late)
	withholdDecided(h, late.id)
	delete(h.cut, late.id)
	h.workload(4, 1, 200)
	h.settle(400000)
	require.Positive(t, late.core.Stats().StateTransfers)
}

// TestARestartedMemberTakesNoClientsPastAGap: a restarted member that
// reached the others' latest certified checkpoint, but holds a batch
// decided after one it misses, knows the others went further: it takes
// no clients until it has executed up to that batch.
func TestARestartedMemberTakesNoClientsPastAGap(t *testing.T) {
	h := newHarness(t, 4, 43)
	late, ahead := h.replica(4), h.replica(1)
	interval := late.core.cfg.CheckpointInterval
	for round := 0; round < 50 && late.core.lastExec <= interval; round++ {
		h.propose(ahead, 1)
		h.settle(100000)
	}
	h.cut[late.id] = true
	for round := 0; round < 50 && ahead.core.lastExec <= late.core.lastExec; round++ {
		h.propose(ahead, 1)
		for range 300 {
			h.step()
		}
	}
	require.Equal(t, late.core.stable.seq, ahead.core.stable.seq, "no checkpoint past member 4's became stable")
	h.restart(late)
	withholdDecided(h, late.id)
	delete(h.cut, late.id)
	h.propose(ahead, 1)
	pastAGap := h.run(100000, func() bool { return late.core.certifiedSince > 0 && late.core.decidedPastAGap() })
	require.True(t, pastAGap, "member 4 learns of the others' certified checkpoint, and of a batch decided after one it misses")
	require.GreaterOrEqual(t, late.core.lastExec, late.core.certifiedSince, "member 4 executed through the checkpoint")
	require.Zero(t, late.core.Status().LeaderCommit)

	for _, r := range h.replicas {
		r.behave = nil
	}
	h.settle(400000)
	caughtUp := h.run(100000, func() bool { return late.core.Status().LeaderCommit > 0 })
	require.True(t, caughtUp, "it takes clients once it has executed the batches")
	st := late.core.Status()
	require.Equal(t, st.Commit, st.LeaderCommit)
}

// TestARestartedMemberTakesNoClientsBehindWhatACorrectMemberReached: a
// restarted member that executed through the latest certified
// checkpoint takes no clients while f+1 members have signed a later one
// (one of them is correct, so the cluster did get there; with the
// cluster at full speed, several intervals further): its next stable
// checkpoint could otherwise come before it has the batches, and the
// state it would install then hangs up on its clients. One member alone,
// who may be faulty, cannot hold it back. It takes clients only once it
// has been caught up for a resend period, in which the others' word
// comes.
func TestARestartedMemberTakesNoClientsBehindWhatACorrectMemberReached(t *testing.T) {
	h := newHarness(t, 4, 47)
	late, ahead := h.replica(4), h.replica(1)
	for round := 0; round < 50 && ahead.core.stable.seq == 0; round++ {
		h.propose(ahead, 1)
		h.settle(100000)
	}
	h.restart(late)
	require.True(t, h.run(100000, late.core.caughtUp), "member 4 catches up after its restart")
	require.Zero(t, late.core.Status().LeaderCommit, "it waits a resend period for the others' word on how far they went")
	caughtUp := h.run(100000, func() bool { return late.core.Status().LeaderCommit > 0 })
	require.True(t, caughtUp, "member 4 takes clients after its restart")
	require.GreaterOrEqual(t, late.core.caughtUpFor, late.core.cfg.RetransmitTicks)

	later := &checkpoint{Seq: late.core.stable.seq + late.core.cfg.CheckpointInterval}
	require.NoError(t, late.core.Step(1, resign(1, msgCheckpoint, encodeCheckpoint(later))))
	require.Positive(t, late.core.Status().LeaderCommit, "one member's word holds it back")
	require.NoError(t, late.core.Step(2, resign(2, msgCheckpoint, encodeCheckpoint(later))))
	require.Zero(t, late.core.Status().LeaderCommit, "f+1 members signed a later checkpoint than it executed")
}

// TestARestartedMemberThatHearsNoOneTakesNoClients: a restarted member
// that installs the others' state, but hears nothing else from them (in a
// real cluster, their connections to its node come back only when their
// wait between dials runs out, while the state comes on a stream of its
// own), does not know how far they went since that state's checkpoint:
// it takes no clients until it holds the checkpoint messages of a quorum,
// and then only once it has reached them. It took clients a resend
// period after the install, and installed their next state, hanging up
// on them (issue 11).
func TestARestartedMemberThatHearsNoOneTakesNoClients(t *testing.T) {
	h := newHarness(t, 4, 53)
	late := h.replica(4)
	span := late.core.catchUpSpan()
	for round := 0; round < 50 && late.core.stable.seq == 0; round++ {
		h.propose(h.replica(1), 1)
		h.settle(100000)
	}
	h.cut[late.id] = true
	busy := func(rounds int, until func() bool) {
		for round := 0; round < rounds && !until(); round++ {
			for _, r := range h.replicas {
				if r != late {
					h.propose(r, 1)
				}
			}
			for range 300 {
				h.step()
			}
		}
	}
	busy(100, func() bool { return h.replica(1).core.stable.seq > late.core.stable.seq+span })
	require.Greater(t, h.replica(1).core.stable.seq, late.core.stable.seq+span, "the others went past the decided batches they keep for member 4")

	h.restart(late)
	for _, r := range h.replicas {
		if r != late {
			r.behave = func(h *harness, from *replica, dst consensus.NodeID, data []byte) [][]byte {
				if dst == late.id && msgType(data[0]) != msgStateTransfer {
					return nil
				}
				return [][]byte{data}
			}
		}
	}
	delete(h.cut, late.id)
	busy(100, func() bool { return late.core.Stats().StateTransfers > 0 })
	require.Positive(t, late.core.Stats().StateTransfers, "member 4 installed the others' state")
	installed := h.tick
	busy(100, func() bool { return h.tick > installed+4*late.core.cfg.RetransmitTicks })
	require.Greater(t, h.tick, installed+4*late.core.cfg.RetransmitTicks, "four resend periods passed")
	require.Zero(t, late.core.Status().LeaderCommit, "member 4 heard nothing from the others since it installed their state")

	for _, r := range h.replicas {
		r.behave = nil
	}
	caughtUp := h.run(200000, func() bool { return late.core.Status().LeaderCommit > 0 })
	require.True(t, caughtUp, "member 4 takes clients once it hears the others")
	require.GreaterOrEqual(t, late.core.Status().Commit, h.replica(1).core.Status().Snapshot, "and once past their stable checkpoint")
}

// TestAMemberSlowerThanTheClusterCatchesUpByExecuting: a member whose
// application is slower than the others' (a snapshot it is asked for
// takes it many ticks, while its core executes nothing past the
// checkpoint) falls more than a window behind their stable checkpoint
// while they go on; it fetches the batches it missed and executes them,
// rather than install the others' state, which hangs up on every client
// of its node (issue 11: a member never restarted fell 93 batches behind
// under load).
func TestAMemberSlowerThanTheClusterCatchesUpByExecuting(t *testing.T) {
	h := newHarness(t, 4, 59)
	slow, ahead := h.replica(4), h.replica(1)
	interval, window := slow.core.cfg.CheckpointInterval, slow.core.cfg.Window
	slow.slowSnapshots = 1000
	behind := func() uint64 { return ahead.core.stable.seq - min(ahead.core.stable.seq, slow.core.lastExec) }
	for round := 0; round < 500 && behind() <= window+interval && slow.core.Stats().StateTransfers == 0; round++ {
		for _, r := range h.replicas {
			if r != slow {
				h.propose(r, 1)
			}
		}
		for range 30 {
			h.step()
		}
	}
	require.Zero(t, slow.core.Stats().StateTransfers, "member 4 installed the others' state while slow")
	require.Greater(t, behind(), window+interval, "member 4 fell more than a window behind the others' stable checkpoint")

	slow.slowSnapshots = 0
	h.workload(4, 1, 200)
	h.settle(400000)
	require.Zero(t, slow.core.Stats().StateTransfers, "member 4 installed the others' state instead of executing the batches")
	require.Equal(t, ahead.history.Entries, slow.history.Entries)
}
