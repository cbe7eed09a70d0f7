package bft

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
)

// TestAReplicaChangingViewAloneExecutesWhatTheOthersDecide: a replica
// that suspected the primary alone waits in its view change until the
// others come, and they need not: their view works. It still executes
// each batch they decide, as soon as it has heard the pre-prepare and a
// quorum of commits, rather than a resend period later by asking for it
// (the Byzantine simulator's seed 20014: the member holding the journal's
// disk path learnt each decision about 80 ms late, and the journal did
// not finish).
func TestAReplicaChangingViewAloneExecutesWhatTheOthersDecide(t *testing.T) {
	h := newHarness(t, 4, 53)
	alone := h.replica(4)
	var fetches int
	alone.behave = func(_ *harness, _ *replica, _ consensus.NodeID, data []byte) [][]byte {
		if msgType(data[0]) == msgFetchDecided {
			fetches++
		}
		return [][]byte{data}
	}
	alone.core.startViewChange(1)
	h.handle(alone)
	for round := range 8 {
		h.propose(h.replica(2), 2)
		h.settle(100000)
		require.True(t, alone.core.changing, "round %d: the others joined the view change", round)
	}
	require.Equal(t, h.replica(1).history.Entries, alone.history.Entries)
	require.Zero(t, fetches, "it asked for decided batches")
}
