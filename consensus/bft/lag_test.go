package bft

import (
	"testing"

	"github.com/stretchr/testify/require"
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
			late, ahead := h.replica(4), h.replica(1)
			interval, window := late.core.cfg.CheckpointInterval, late.core.cfg.Window
			for round := 0; round < 50 && late.core.lastExec <= interval; round++ {
				h.propose(ahead, 1)
				h.settle(100000)
			}
			require.Equal(t, interval, late.core.stable.seq, "member 4 is past its first stable checkpoint")
			behind := late.core.lastExec

			h.cut[late.id] = true
			for round := 0; round < 50 && ahead.core.stable.seq <= behind+interval; round++ {
				for _, r := range []*replica{h.replica(1), h.replica(2), h.replica(3)} {
					h.propose(r, 1)
				}
				for range 300 {
					h.step()
				}
			}
			require.Greater(t, ahead.core.stable.seq, behind+interval, "the others made two checkpoints past member 4 stable")
			require.Less(t, ahead.core.stable.seq, behind+window, "member 4 is less than a window behind their stable checkpoint")

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
