package logtest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
)

func TestHistory(t *testing.T) {
	var a History
	require.NoError(t, a.Apply(consensus.Apply{Entries: []consensus.Entry{{Index: 3, Data: []byte("x")}, {Index: 5, Data: []byte("y")}}}))
	snap, err := a.Snapshot()
	require.NoError(t, err)
	assert.Equal(t, uint64(5), snap.Index)

	var b History
	require.NoError(t, b.Apply(consensus.Apply{Snapshot: &snap}, consensus.Apply{Entries: []consensus.Entry{{Index: 6, Data: []byte("z")}}}))
	assert.Equal(t, []string{"x", "y", "z"}, b.Entries)
	assert.Equal(t, 1, b.Snapshots)

	assert.Error(t, b.Apply(consensus.Apply{Entries: []consensus.Entry{{Index: 6}}}), "an index delivered twice")
	assert.Error(t, b.Apply(consensus.Apply{Snapshot: &consensus.Snapshot{Index: 9, Data: []byte("{")}}))
	assert.Equal(t, []string{"p-0", "p-1"}, Values("p", 2))
}
