package bft

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
)

// refuseFarFuture stands for the application's check of a request
// against what a member knows now (in synod, its clock).
func refuseFarFuture(data []byte) error {
	if bytes.HasPrefix(data, []byte("far-future")) {
		return errors.New("its time is too far ahead of this member's clock")
	}
	return nil
}

// A faulty member's requests that the correct members' check refuses
// are never ordered, whether the member is a backup that sends them or
// the primary that puts them in its own batches; everything the correct
// members propose still commits everywhere.
func TestRequestsTheMembersRefuseAreNeverOrdered(t *testing.T) {
	for _, liar := range []consensus.NodeID{4, 1} {
		h := runFaulty(t, 4, 21+uint64(liar), func(h *harness) {
			for _, r := range h.replicas {
				r.core.cfg.CheckRequest = refuseFarFuture
			}
			r := faulty(h, liar, func(_ *harness, _ *replica, _ consensus.NodeID, data []byte) [][]byte { return [][]byte{data} })
			for i := range 3 {
				require.NoError(t, r.core.Propose([]byte("far-future-"+string(rune('a'+i)))))
			}
		})
		for _, r := range h.correct() {
			for _, e := range r.history.Entries {
				require.False(t, strings.HasPrefix(e, "far-future"), "member %d executed a refused request (liar %d)", r.id, liar)
			}
			require.Positive(t, r.core.Stats().RefusedRequests, "member %d refused member %d's requests", r.id, liar)
		}
		if liar == 1 {
			require.Positive(t, maxView(h), "the backups left the primary whose batches they refused")
		}
	}
}
