package bft

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestARefusedRequestHoldsNoLaterOneBack: a member holds its own request
// until it executes, and one the others refuse never does (a reading of
// its clock far ahead of theirs, in the Byzantine simulator's seed
// 40019). Its outbox used to wait for every earlier request of its own to
// be ordered, or a resend period, so every later request went out a
// resend period late, for good, and the journal guest whose disk path it
// was did not finish. Only its latest request holds the outbox back.
func TestARefusedRequestHoldsNoLaterOneBack(t *testing.T) {
	h := newHarness(t, 4, 61)
	for _, r := range h.replicas[:3] {
		r.core.cfg.CheckRequest = func(item []byte) error {
			if string(item) == "ten years ahead" {
				return errors.New("refused")
			}
			return nil
		}
	}
	member := h.replica(4)
	require.NoError(t, member.core.Propose([]byte("ten years ahead")))
	h.handle(member)
	h.propose(member, 1)
	h.settle(100000)

	require.NoError(t, member.core.Propose([]byte("next")))
	require.True(t, member.core.flushReady(), "its latest request executed: the next goes out at once")
}
