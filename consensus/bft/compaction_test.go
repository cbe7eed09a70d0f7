package bft

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// countRecords counts the records of one kind.
func countRecords(records [][]byte, kind recordKind) int {
	n := 0
	for _, rec := range records {
		if recordKind(rec[0]) == kind {
			n++
		}
	}
	return n
}

// TestRestartRebuildsTheStableStateFromStoredBatches restarts a replica
// whose records hold one stable state and, after it, the certificates of
// several later stable checkpoints: cut off from the others, it rebuilds
// the latest one's state from its own records alone (no state transfer),
// holds from its start what it held before (window, no agreement below
// the checkpoint), and then keeps ordering with the others.
func TestRestartRebuildsTheStableStateFromStoredBatches(t *testing.T) {
	h := newHarness(t, 4, 31)
	h.workload(8, 3, 300)
	h.settle(400000)
	r := h.replica(3)
	require.Equal(t, 1, countRecords(r.records, recordStable), "one stable state stored")
	require.GreaterOrEqual(t, countRecords(r.records, recordStableCert), 2, "several later stable checkpoints stored without their state")
	before := r.core
	entries := slices.Clone(r.history.Entries)

	h.cut[3] = true
	h.restart(r)
	require.Equal(t, before.stable.seq, r.core.stable.seq, "the window starts at the latest stable checkpoint")
	require.True(t, r.core.rebuilding)
	for seq := range r.core.certs {
		require.Greater(t, seq, r.core.stable.seq, "a prepared certificate below the stable checkpoint")
	}
	for k := range r.core.signed {
		require.Greater(t, k.seq, r.core.stable.seq, "a signed message below the stable checkpoint")
	}
	// Its view change names the latest stable checkpoint: a member that
	// has it takes it.
	r.core.startViewChange(r.core.view + 1)
	require.NoError(t, h.replica(2).core.Step(3, r.core.ownVC), "the rebuilding replica's view change is valid")

	for range 64 {
		if !r.core.HasReady() {
			break
		}
		h.handle(r)
	}
	require.False(t, r.core.rebuilding, "the state is rebuilt")
	require.Equal(t, before.stable.digest, r.core.stable.digest)
	require.Equal(t, before.stable.data, r.core.stable.data)
	require.Equal(t, before.lastExec, r.core.lastExec)
	require.Equal(t, entries, r.history.Entries, "the application's state is the one it had")
	require.Equal(t, 1, r.history.Snapshots, "from the one stored state")
	require.Zero(t, r.core.stats.StateTransfers)
	for seq := range r.core.decided {
		// Those of the windows up to it are kept for a member a little
		// behind (forgetThrough).
		require.Greater(t, seq, r.core.stable.seq-min(r.core.stable.seq, r.core.catchUpSpan()), "a decided batch kept more than CatchUpWindows below the rebuilt checkpoint")
	}

	delete(h.cut, 3)
	for _, o := range h.correct() {
		h.propose(o, 4)
	}
	h.settle(400000)
	require.Zero(t, r.core.stats.StateTransfers, "it caught up without the others' state")
}

// TestCompactionWaitsForTheBytesBound runs replicas whose records are
// rewritten only once CompactionBytes were appended since the last
// rewrite: every compaction after the first (made at the first stable
// checkpoint, when the records hold no state yet) replaced at least that
// much, and the stable checkpoints in between were appended as
// certificates.
func TestCompactionWaitsForTheBytesBound(t *testing.T) {
	const bound = 32 << 10
	h := newHarness(t, 4, 37)
	for _, r := range h.replicas {
		cfg := testConfig(r.id, h.n)
		cfg.CompactionBytes = bound
		core, err := NewCore(cfg, nil)
		require.NoError(t, err)
		r.core = core
	}
	h.workload(30, 4, 300)
	h.settle(400000)
	for _, r := range h.correct() {
		require.GreaterOrEqual(t, len(r.replaced), 3, "replica %d compacted again and again", r.id)
		for i, n := range r.replaced[1:] {
			require.GreaterOrEqual(t, n, bound, "replica %d: compaction %d replaced %d bytes", r.id, i+1, n)
		}
		stable := r.core.stable.seq / r.core.cfg.CheckpointInterval
		require.Less(t, uint64(len(r.replaced)), stable/2, "replica %d: %d compactions for %d stable checkpoints", r.id, len(r.replaced), stable)
		require.Equal(t, 1, countRecords(r.records, recordStable), "replica %d", r.id)
	}
}

// TestRestartFromADamagedStateFetchesTheLatestCertified restarts a
// replica whose stored state no longer matches its certificate while
// later stable checkpoints are stored as certificates: it cannot
// re-execute from that state, so it installs a member's certified state,
// at least the latest one it stored, and keeps ordering.
func TestRestartFromADamagedStateFetchesTheLatestCertified(t *testing.T) {
	h := newHarness(t, 4, 41)
	h.workload(8, 3, 300)
	h.settle(400000)
	r := h.replica(4)
	require.GreaterOrEqual(t, countRecords(r.records, recordStableCert), 1, "a later stable checkpoint stored without its state")
	latest := r.core.stable.seq
	for _, rec := range r.records {
		if recordKind(rec[0]) == recordStable {
			rec[len(rec)-1] ^= 1
		}
	}
	h.restart(r)
	require.NotNil(t, r.core.fetch, "it fetches the state")
	require.Equal(t, latest, r.core.fetch.seq, "the latest stable checkpoint's")
	for _, o := range h.correct() {
		h.propose(o, 4)
	}
	h.settle(400000)
	require.Equal(t, uint64(1), r.core.stats.StateTransfers)
	require.False(t, r.core.rebuilding)
	require.GreaterOrEqual(t, r.core.stable.seq, latest)
}

// TestMembersAllRestartedAtOneCheckpointTakeClients restarts every
// correct member, one silent, after the last stable checkpoint with
// nothing left to order: no later checkpoint will come until their nodes
// take clients, so the quorum that signs the one they restarted from
// (each signs it again, and resends it) must tell them they have caught
// up.
func TestMembersAllRestartedAtOneCheckpointTakeClients(t *testing.T) {
	h := newHarness(t, 4, 43)
	h.replica(1).faulty = true
	h.cut[1] = true
	h.busyUntilStable(h.replica(2), 8, 1, 300)
	h.settle(400000)
	// One more batch at a time, until the last one is a checkpoint's.
	for i := 0; i < 8 && h.replica(2).core.lastExec%h.replica(2).core.cfg.CheckpointInterval != 0; i++ {
		h.propose(h.replica(2), 1)
		h.settle(400000)
	}
	h.run(2000, func() bool { return false })
	for _, r := range h.correct() {
		// Stopped where a checkpoint is stable and nothing more is decided.
		require.Equal(t, r.core.lastExec, r.core.stable.seq, "replica %d executed past its stable checkpoint", r.id)
	}
	for _, r := range h.correct() {
		h.restart(r)
	}
	caughtUp := h.run(20000, func() bool {
		for _, r := range h.correct() {
			if r.core.Status().LeaderCommit == 0 {
				return false
			}
		}
		return true
	})
	require.True(t, caughtUp, "the restarted members learn they have caught up")
}
