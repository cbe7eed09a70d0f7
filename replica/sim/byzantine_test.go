package sim

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// runByzantine runs one Byzantine seed with the given behaviour and
// faults and fails the test, with the replay command and the last
// events, on a violation.
func runByzantine(t testing.TB, seed uint64, b Behaviour, faults FaultSet) Result {
	t.Helper()
	opts := guests(t)
	opts.Seed, opts.Faults, opts.Byzantine, opts.Behaviour = seed, faults, true, b
	r, err := Run(opts)
	require.NoError(t, err)
	if len(r.Violations) > 0 {
		t.Errorf("%v\nplan: %s\nlast events:\n%s", r.Violations[0], r.Plan, strings.Join(r.Tail, "\n"))
	}
	return r
}

func TestByzantineSmoke(t *testing.T) {
	r := runByzantine(t, 1, Correct, AllFaults)
	t.Logf("%s: ops %d, sim %v, %+v", r.Plan, r.Operations, r.SimTime, r.Byzantine)
}

// TestByzantineSilentPrimaryAtBoot: a primary that is silent from the
// start never proposes the boot entry, and the backups, holding no
// request of their own, never suspected it: the guest never booted
// (seed 2, found by liveness). Every member now proposes the boot entry
// once the guest has waited long enough.
func TestByzantineSilentPrimaryAtBoot(t *testing.T) {
	r := runByzantine(t, 2, Silent, AllFaults)
	require.Positive(t, r.Operations)
}
