package bft

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNormalCaseCommitsEverythingOnce(t *testing.T) {
	for _, n := range []int{4, 7} {
		h := newHarness(t, n, uint64(n))
		h.workload(10, 3, 200)
		h.settle(20000)
		require.Greater(t, h.replica(1).core.stable.seq, uint64(0), "checkpoints became stable")
		require.Zero(t, h.replica(2).core.Stats().ViewChanges, "no view change without a fault")
	}
}

func TestLossyNetworkStaysSafeAndRecovers(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		n := 4
		if seed == 5 {
			n = 7
		}
		h := newHarness(t, n, seed)
		h.drop, h.duplicate = 0.2, 0.1
		h.workload(10, 3, 300)
		h.settle(400000)
	}
}
