package bft

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTheProposalsOfARequestExecuteJoined: with Config.Merge, the
// proposals a member gathered into one request execute as fewer entries,
// each joining the proposals of one member only (the replica holds an
// entry to its one proposer), the same entries on every replica (the
// harness checks that the histories are prefixes of one another), and
// every proposal exactly once.
func TestTheProposalsOfARequestExecuteJoined(t *testing.T) {
	const most = 3
	join := func(items [][]byte) ([]byte, int) {
		n := min(len(items), most)
		return bytes.Join(items[:n], []byte("+")), n
	}
	h := newHarness(t, 4, 11)
	for _, r := range h.replicas {
		cfg := testConfig(r.id, 4)
		cfg.Merge = join
		core, err := NewCore(cfg, nil)
		require.NoError(t, err)
		r.core = core
	}
	h.workload(10, 5, 100)
	parts := func(r *replica) map[string]int {
		seen := map[string]int{}
		for _, e := range r.history.Entries {
			for _, p := range strings.Split(e, "+") {
				seen[p]++
			}
		}
		return seen
	}
	all := func() bool {
		for _, r := range h.correct() {
			seen := parts(r)
			for _, v := range h.proposed {
				if seen[v] == 0 {
					return false
				}
			}
		}
		return true
	}
	require.True(t, h.run(20000, all), "every proposal executed everywhere")
	for _, r := range h.correct() {
		for v, times := range parts(r) {
			require.Equal(t, 1, times, "replica %d executed %q", r.id, v)
		}
		joined := 0
		for _, e := range r.history.Entries {
			ps := strings.Split(e, "+")
			require.LessOrEqual(t, len(ps), most, "replica %d: %q", r.id, e)
			origin, _, _ := strings.Cut(ps[0], "-")
			for _, p := range ps[1:] {
				require.True(t, strings.HasPrefix(p, origin+"-"), "replica %d joined proposals of two members: %q", r.id, e)
			}
			if len(ps) > 1 {
				joined++
			}
		}
		require.Positive(t, joined, "replica %d: proposals gathered into a request were joined", r.id)
		require.Less(t, len(r.history.Entries), len(h.proposed), "replica %d: fewer entries than proposals", r.id)
	}
}
