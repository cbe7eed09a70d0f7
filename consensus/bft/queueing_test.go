package bft

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
)

// TestQueuedRequestsOnASlowNetworkChangeNoView: when batches go out one
// after another and each takes a while (a loaded machine, a slow
// network, requests that fill a batch each), a request waits behind the
// batches before it longer than the request timeout, though the primary
// orders one after another. Suspecting it then changed views again and
// again, each view change slower than the batches it replaced: a
// Byzantine cluster of four sharing two cores with two others took 30 s
// instead of 1.4 to feed 150 KB of console input to its guest, or never
// did. A request counts as overdue while batches execute only once it
// has waited four request timeouts.
func TestQueuedRequestsOnASlowNetworkChangeNoView(t *testing.T) {
	h := newHarness(t, 4, 59)
	for _, r := range h.replicas {
		r.core.cfg.MaxBatchRequests = 1
		r.behave = func(h *harness, from *replica, to consensus.NodeID, data []byte) [][]byte {
			h.inflight = append(h.inflight, packet{from: from.id, to: to, data: data, notBefore: h.tick + 3})
			return nil
		}
	}
	h.workload(10, 1, 2000)
	h.settle(400000)
	for _, r := range h.replicas {
		require.Zero(t, r.core.Stats().ViewChanges, "member %d changed view", r.id)
	}
}
