package replica

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
)

// A computing guest is sealed far ahead only while nothing outside the
// machine can send it input (Sealer.UnreachedWindow): primes, which
// opens no port, stays unreachable as it computes; kvd is unreachable
// until it listens, and reachable from then on.
func TestAGuestIsUnreachableUntilItListens(t *testing.T) {
	primes := New(Config{Self: 1, Guest: readGuest(t, primesGuest), ExePath: "/primes"})
	primes.CommitEntry(1, entry.Boot{GuestDigest: GuestDigest(primes.cfg.Guest), Argv: []string{"primes", "30000"},
		EpochInstructions: 997, NanosPerInstruction: 10, Members: []consensus.NodeID{1}})
	primes.CommitEntry(2, entry.Seal{Through: 20})
	require.Equal(t, Ran, primes.StepEpochs(10))
	info := primes.SealInfo()
	require.True(t, info.Busy, "primes computes")
	require.True(t, info.Unreachable, "and nothing can send it input")

	kvd := bootedReplica(t)
	require.True(t, kvd.SealInfo().Unreachable, "booted, kvd listens on no port yet")
	for i := uint64(0); len(kvd.ListenPorts()) == 0; i++ {
		require.Less(t, i, uint64(1000), "kvd never listened")
		kvd.CommitEntry(2+i, entry.Seal{Through: i + 1})
		kvd.StepEpochs(1)
	}
	require.False(t, kvd.SealInfo().Unreachable, "kvd listens: a client can connect")
}
