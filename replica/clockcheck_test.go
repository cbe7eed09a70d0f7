package replica

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus/entry"
)

func TestProposedTimesFarAheadAreRefused(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	check := CheckProposedTime(func() time.Time { return now }, time.Second)
	ahead, behind := now.Add(time.Hour).UnixNano(), now.Add(-time.Hour).UnixNano()
	for _, tc := range []struct {
		name    string
		e       entry.Entry
		refused bool
	}{
		{"a seal an hour ahead", entry.Seal{Through: 3, Time: ahead}, true},
		{"inputs an hour ahead", entry.Inputs{Time: ahead}, true},
		{"a boot an hour ahead", entry.Boot{Time: ahead}, true},
		{"a seal just within", entry.Seal{Through: 3, Time: now.Add(time.Second).UnixNano()}, false},
		{"a seal an hour late", entry.Seal{Through: 3, Time: behind}, false},
		{"a seal without a time", entry.Seal{Through: 3}, false},
		{"an entry without a time", entry.NodeDown{Node: 2}, false},
	} {
		err := check(entry.Encode(tc.e))
		if tc.refused {
			require.ErrorContains(t, err, "ahead of this member's clock", tc.name)
		} else {
			require.NoError(t, err, tc.name)
		}
	}
	require.NoError(t, check([]byte{0xff, 1, 2}), "what does not decode is every replica's to ignore")
}
