package sim

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/internal/planted"
)

// plantedSeeds bounds the seeds a planted bug may survive.
const plantedSeeds = 16

// TestSimFindsPlantedBugs plants each bug in turn and runs seeds from 1
// until one violates an invariant: the simulator must find every bug
// within plantedSeeds seeds, through the invariants that guard against
// it. The log line says how many seeds each took.
func TestSimFindsPlantedBugs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs many seeds per bug")
	}
	cases := []struct {
		bug        planted.Bug
		invariants []string
		// first is the seed to start from (1 unless said): a bug of the
		// disk path shows only in journal seeds.
		first uint64
	}{
		{planted.EarlyDelivery, []string{invDeliveries, invStateHashes}, 0},
		{planted.SealWithoutIncrement, []string{invDeliveries, invStateHashes, invLiveness}, 0},
		{planted.OutputOnEveryNode, []string{invOutputNode}, 0},
		{planted.DeadConnectionsOpen, []string{invDownHangsUp}, 0},
		{planted.AckBeforeFsync, []string{invLostWrite, invLogAgreement, invLinearizable, invStateHashes, invDeliveries, invRaftRuns}, 0},
		{planted.ReplayAppliedTwice, []string{invDiskOnce, invDiskRecords}, 18},
	}
	opts := guests(t)
	opts.Faults = AllFaults
	for _, c := range cases {
		t.Run(c.bug.String(), func(t *testing.T) {
			remove := planted.Plant(c.bug)
			defer remove()
			first := max(c.first, 1)
			for seed := first; seed < first+plantedSeeds; seed++ {
				opts.Seed = seed
				r, err := Run(opts)
				require.NoError(t, err)
				if len(r.Violations) == 0 {
					continue
				}
				v := r.Violations[0]
				t.Logf("%v found after %d seeds: %v", c.bug, seed-first+1, v)
				assert.Contains(t, c.invariants, v.Invariant, "found by an invariant that guards against it")
				return
			}
			t.Errorf("%v survived %d seeds", c.bug, plantedSeeds)
		})
	}
}

// The planted bugs are off unless a test plants one.
func TestPlantedBugsAreOff(t *testing.T) {
	for _, b := range planted.All {
		assert.False(t, planted.On(b), fmt.Sprint(b))
	}
}
