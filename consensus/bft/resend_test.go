package bft

import (
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
)

// TestResendsThinOutWhileNothingIsOrdered: while nothing is ordered (here
// a view change that cannot end, two members of four cut off), a member
// resent every request it held, and its view change, every resend
// period, and its clients kept adding requests meanwhile: what it sent
// grew with the wait. Four Byzantine clusters on two cores, fed 64 KB
// console requests, sent each other megabytes a second of resends, and
// their view changes took seconds each; one cluster ordered a dozen
// batches in a minute. A message is now resent at doubling intervals,
// up to maxResendShift doublings, and paced anew when a view starts.
func TestResendsThinOutWhileNothingIsOrdered(t *testing.T) {
	h := newHarness(t, 4, 67)
	h.cut[3], h.cut[4] = true, true
	member := h.replica(2)
	sent := map[string]int{} // how often each message went to each member
	member.behave = func(h *harness, from *replica, to consensus.NodeID, data []byte) [][]byte {
		if typ := msgType(data[0]); typ == msgRequest || typ == msgViewChange {
			sent[fmt.Sprintf("%s to %d, %x", typ, to, sha256.Sum256(data))]++
		}
		return [][]byte{data}
	}
	const ticks = 400
	for step := 0; step < 1_000_000 && h.tick < ticks; step++ {
		if step%64 == 0 {
			h.propose(member, 1)
		}
		h.step()
	}
	require.Equal(t, uint64(ticks), h.tick, "the run ends at its tick, not its step budget")
	require.True(t, member.core.changing, "the view change cannot end")

	// Resent every resend period, a request held from the start went to
	// each member about ticks/RetransmitTicks times. Paced, it goes out
	// maxResendShift+1 times in each view before the intervals reach
	// their longest.
	interval := member.core.cfg.RetransmitTicks << maxResendShift
	views := int(member.core.Stats().ViewChanges) + 1
	most := views*(1+maxResendShift) + int(ticks/interval)
	for what, n := range sent {
		require.LessOrEqual(t, n, most, "%s, in %d ticks", what, ticks)
	}
}
