package replica

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus/entry"
)

// The boot entry's memory limit is the guest's: a limit too small for the
// program stops the replica at boot, naming it.
func TestBootEntryCarriesTheMemoryLimit(t *testing.T) {
	guest := readGuest(t, kvdGuest)
	cases := []struct {
		limit   uint64
		stopped string
	}{
		{0, ""},
		{64 << 20, ""},
		{1 << 20, "memory limit"},
	}
	for _, c := range cases {
		r := New(Config{Self: 1, Guest: guest, ExePath: "/kvd"})
		r.CommitEntry(1, entry.Boot{GuestDigest: GuestDigest(guest), Argv: []string{"kvd"}, EpochInstructions: 1000, MemoryLimit: c.limit})
		s := r.Status()
		if c.stopped == "" {
			require.NoError(t, s.Stopped, "limit %d", c.limit)
			require.True(t, s.Booted, "limit %d", c.limit)
			continue
		}
		require.ErrorContains(t, s.Stopped, c.stopped, "limit %d", c.limit)
	}
}
