package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
)

// The node printing the guest's console is killed mid-run: the console
// moves to the next node, which first prints again what the dead node had
// not acknowledged, so no line is lost (a few may repeat).
func TestClusterConsoleSurvivesItsNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	const lines = 40
	c := startCluster(t, 3, testMachine("testdata/sleeps"), fmt.Sprint(lines), "50")
	c.eventually("node 1 printing", func() bool { return strings.Count(c.console[1].String(), "\n") >= 5 })
	c.kill(1)
	c.eventually("the guest's exit", func() bool {
		r, err := c.report(2)
		return err == nil && r.Exited
	})
	c.eventually("node 2 printing the last line", func() bool {
		return strings.Contains(c.console[2].String(), fmt.Sprintf("sleep %d took", lines-1))
	})

	require.Empty(t, c.console[3].String(), "one node prints at a time")
	seen := map[int]bool{}
	for _, n := range []consensus.NodeID{1, 2} {
		last := -1
		for _, l := range strings.Split(strings.TrimSpace(c.console[n].String()), "\n") {
			var i int
			var took float64
			_, err := fmt.Sscanf(l, "sleep %d took %f s", &i, &took)
			require.NoError(t, err, "node %d printed %q", n, l)
			require.Greater(t, i, last, "node %d prints in order", n)
			last = i
			seen[i] = true
		}
	}
	for i := range lines {
		require.True(t, seen[i], "line %d was printed", i)
	}
}
