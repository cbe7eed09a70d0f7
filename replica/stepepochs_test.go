package replica

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/outputs"
)

const primesGuest = "../cmd/synod/guests/primes"

// A replica that runs many epochs a call of the machine (StepEpochs) is
// the same machine as one that runs one: fed the same log, it proposes
// the same state hashes at the same epochs, emits the same outputs and
// ends in the same state. The guest computes; its epochs are an odd 997
// instructions, so that their ends fall anywhere in its code; seals come
// every 11 epochs, a few at a time, so that the replica also waits for
// the log; hashes are due every 23rd epoch and, by guest time, about
// every 15 epochs, so that they fall inside stretches a call would
// otherwise run through.
func TestSteppingManyEpochsACallIsSteppingOne(t *testing.T) {
	guest := readGuest(t, primesGuest)
	type run struct {
		rep       *Replica
		calls     int
		outs      []outputs.Output
		proposals []entry.Entry
	}
	replay := func(epochsACall uint64) *run {
		r := &run{rep: New(Config{Self: 1, Guest: guest, ExePath: "/primes"})}
		rest := func() {
			for range 100_000 {
				progress := r.rep.StepEpochs(epochsACall)
				r.outs = append(r.outs, r.rep.Outputs()...)
				r.proposals = append(r.proposals, r.rep.Proposals()...)
				if progress != Ran {
					return
				}
				r.calls++
			}
			t.Fatal("the replica never came to rest")
		}
		r.rep.CommitEntry(1, entry.Boot{GuestDigest: GuestDigest(guest), Argv: []string{"primes", "30000"},
			EpochInstructions: 997, NanosPerInstruction: 334_336, HashEvery: 23, Members: []consensus.NodeID{1}})
		for i := range uint64(400) {
			r.rep.CommitEntry(2+i, entry.Seal{Through: 11 * (i + 1)})
			if i%3 == 2 {
				rest()
			}
		}
		return r
	}

	one, many := replay(1), replay(64)
	require.NotNil(t, one.rep.Status().Exited, "the guest ran to its end")
	require.Equal(t, one.rep.Status(), many.rep.Status(), "the same epoch, instructions, last hash, exit")
	require.Equal(t, one.proposals, many.proposals, "state hashes, epochs included")
	require.Equal(t, one.outs, many.outs)
	snap1, at1, err := one.rep.Snapshot()
	require.NoError(t, err)
	snap2, at2, err := many.rep.Snapshot()
	require.NoError(t, err)
	require.Equal(t, at1, at2)
	require.Equal(t, snap1, snap2, "the same state")
	require.Less(t, many.calls, one.calls/3, "several epochs ran in one call")
	t.Logf("%d epochs, %d state hashes; %d calls one epoch a call, %d many", one.rep.Status().Epoch, len(one.proposals), one.calls, many.calls)
}
