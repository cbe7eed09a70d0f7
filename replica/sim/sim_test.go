package sim

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readGuest(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../cmd/synod/guests/" + path)
	require.NoError(t, err)
	return b
}

// guests are the options of every run: the key-value guest and the
// journal guest.
func guests(t testing.TB) Options {
	return Options{Guest: readGuest(t, "kvd/kvd"), Journal: readGuest(t, "journal/journal")}
}

// run runs one seed with the given faults and fails the test, with the
// replay command and the last events, on a violation.
func run(t testing.TB, seed uint64, faults FaultSet) Result {
	t.Helper()
	opts := guests(t)
	opts.Seed, opts.Faults = seed, faults
	r, err := Run(opts)
	require.NoError(t, err)
	if len(r.Violations) > 0 {
		t.Errorf("%v\nreplay: %s\nplan: %s\nlast events:\n%s", r.Violations[0], r.ReplayCommand(faults), r.Plan, strings.Join(r.Tail, "\n"))
	}
	return r
}

// TestSimSameSeedSameRun: a seed's run is reproducible bit for bit, the
// whole trace of events included, even while other runs share the
// process (raft's randomness is the process's); another seed makes
// another run. Seed 8 runs the key-value guest, seed 7 the journal.
func TestSimSameSeedSameRun(t *testing.T) {
	seeds := []uint64{8, 8, 7, 7}
	results := make([]Result, len(seeds))
	t.Run("runs", func(t *testing.T) {
		for i, seed := range seeds {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				results[i] = run(t, seed, AllFaults)
			})
		}
	})
	for i := 0; i < len(results); i += 2 {
		first, again := results[i], results[i+1]
		assert.Equal(t, first.TraceHash, again.TraceHash, "seed %d gives the same trace", first.Seed)
		assert.Equal(t, first.Events, again.Events)
		assert.Equal(t, first.Tail, again.Tail)
	}
	kv, journal := results[0], results[2]
	assert.NotEqual(t, kv.TraceHash, journal.TraceHash, "another seed gives another trace")
	assert.NotContains(t, kv.Plan, "journal")
	assert.Greater(t, kv.Operations, 100, "the clients got answers")
	assert.Contains(t, journal.Plan, "journal of")
	assert.Greater(t, journal.Operations, 10, "the journal acknowledged records")
}

// simSeeds is the fixed set of seeds every test run checks.
const simSeeds = 50

// TestSimSeeds runs the fixed seeds with every fault allowed, and checks
// that together they exercised every kind of fault.
func TestSimSeeds(t *testing.T) {
	seeds := simSeeds
	if testing.Short() {
		seeds = 8
	}
	results := make([]Result, seeds)
	t.Run("seed", func(t *testing.T) {
		for i := range results {
			t.Run(fmt.Sprint(i+1), func(t *testing.T) {
				t.Parallel()
				results[i] = run(t, uint64(i+1), AllFaults)
			})
		}
	})
	var total FaultCounts
	journals, failovers := 0, 0
	for _, r := range results {
		total = total.Add(r.Faults)
		failovers += r.Failovers
		if strings.Contains(r.Plan, "journal of") {
			journals++
		}
	}
	if !testing.Short() {
		for name, n := range map[string]uint64{
			"dropped": total.Dropped, "duplicated": total.Duplicated, "delayed": total.Delayed, "cut": total.Cut,
			"partitions": total.Partitions, "crashes": total.Crashes, "stores lost": total.StoreLosses,
			"write crashes": total.WriteCrashes, "torn snapshot files": total.TornSnapshots,
			"snapshot install crashes": total.InstallCrashes, "write errors": total.WriteErrors,
			"full disks": total.FullDisks, "bit flips": total.BitFlips, "stores replaced": total.StoresReplaced,
			"clock jumps": total.ClockJumps, "disk connections cut": total.DiskCuts,
			"journal seeds": uint64(journals), "journal failovers": uint64(failovers),
		} {
			assert.NotZero(t, n, "no seed injected %s", name)
		}
	}
}

// TestSimWithoutFaults: a cluster nobody disturbs serves every client and
// injects nothing.
func TestSimWithoutFaults(t *testing.T) {
	r := run(t, 3, 0)
	assert.Equal(t, FaultCounts{}, r.Faults)
	assert.Greater(t, r.Operations, 100)
}

// FuzzCluster explores seeds beyond the fixed set, and fault mixes:
// go test ./replica/sim -run '^$' -fuzz FuzzCluster
func FuzzCluster(f *testing.F) {
	f.Add(uint64(1), uint8(AllFaults))
	f.Add(uint64(2), uint8(FaultCrash|FaultStoreLoss))
	f.Fuzz(func(t *testing.T, seed uint64, faults uint8) {
		run(t, seed, FaultSet(faults)&AllFaults)
	})
}
