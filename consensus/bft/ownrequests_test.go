package bft

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestARestartedReplicaResendsItsOwnUnsentRequest: a replica signs a
// request, and the write that holds it reaches the disk, but the
// replica stops before sending it (an fsync that fails after the data
// is written). Restarted, it restores its records while its
// executed-request table is still that of the state stored at the last
// compaction, many of its own requests behind this one: beyond the
// window an origin may have pending there. It must hold the request
// again and resend it. Seed 9017 of the simulator dropped it instead; the
// hole stopped its node's executed floor below it, and 1,024 requests
// later the node could send no more (mayRequest), its clients waiting
// for good.
func TestARestartedReplicaResendsItsOwnUnsentRequest(t *testing.T) {
	h := newHarness(t, 4, 41)
	r := h.replica(3)
	window := uint64(testConfig(r.id, h.n).MaxPendingRequests)
	for r.core.nextReq <= window+8 {
		h.propose(r, 1) // alone, each goes out as a request of its own
		h.settle(100000)
	}
	require.Equal(t, 1, countRecords(r.records, recordStable), "the records hold the first stable state only")

	const lost = "signed, written, never sent"
	require.NoError(t, r.core.Propose([]byte(lost)))
	h.proposed = append(h.proposed, lost)
	rd := r.core.Ready()
	require.NotEmpty(t, rd.Messages, "the request goes out in this Ready")
	r.records = append(r.records, rd.Persist...) // and the replica stops before sending

	h.restart(r)
	h.settle(400000)
	require.Equal(t, r.core.executed.highest(r.id), r.core.nextReq-1, "every request of the replica executed")
}
