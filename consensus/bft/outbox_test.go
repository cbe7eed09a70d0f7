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

// TestAMemberSendsAgainAfterItsLostRequestExecuted: a member whose
// records hold no copy of a request it sent, which then executed, numbers
// its next request past it. A compaction keeps only the member's own
// requests not yet executed; restarted from the stable checkpoint before
// one that had executed, the member executed it again from the stored
// batches, went on numbering from its records, below its own executed
// requests, and could send nothing more (the Byzantine simulator's seed
// 126, once quiet replay lasted until a restarted node had caught up with
// the cluster: member 1's clients waited for good).
func TestAMemberSendsAgainAfterItsLostRequestExecuted(t *testing.T) {
	n := newQuietNet(t, 0)
	before, err := NewCore(testConfig(2, 4), nil) // member 2 before it lost its records
	require.NoError(t, err)
	require.NoError(t, before.Propose([]byte("sent, then forgotten")))
	for _, m := range before.Ready().Messages {
		if m.To != 2 {
			_ = n.cores[m.To].Step(2, m.Data)
		}
	}
	n.settle()
	require.Equal(t, []string{"sent, then forgotten"}, n.apps[2].Entries, "member 2 executed its own request")

	require.NoError(t, n.cores[2].Propose([]byte("next")))
	n.settle()
	require.Equal(t, []string{"sent, then forgotten", "next"}, n.apps[1].Entries)
}
