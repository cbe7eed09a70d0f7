package sim

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readGuest(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("../../cmd/synod/guests/kvd/kvd")
	require.NoError(t, err)
	return b
}

// run runs one seed with every fault allowed and fails the test, with
// the replay command and the last events, on a violation.
func run(t testing.TB, seed uint64) Result {
	t.Helper()
	r, err := Run(Options{Seed: seed, Guest: readGuest(t), Faults: AllFaults})
	require.NoError(t, err)
	if len(r.Violations) > 0 {
		t.Errorf("%v\nreplay: %s\nplan: %s\nlast events:\n%s", r.Violations[0], r.ReplayCommand(AllFaults), r.Plan, strings.Join(r.Tail, "\n"))
	}
	return r
}

// TestSimSameSeedSameRun: a seed's run is reproducible bit for bit, the
// whole trace of events included; another seed makes another run.
func TestSimSameSeedSameRun(t *testing.T) {
	first, again, other := run(t, 7), run(t, 7), run(t, 8)
	assert.Equal(t, first.TraceHash, again.TraceHash, "the same seed gives the same trace")
	assert.Equal(t, first.Events, again.Events)
	assert.Equal(t, first.Tail, again.Tail)
	assert.NotEqual(t, first.TraceHash, other.TraceHash, "another seed gives another trace")
	assert.Greater(t, first.Operations, 100, "the clients got answers")
}
