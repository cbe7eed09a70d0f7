package machine

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClonesWriteApart: after Clone, the original and the copy each read
// their own writes, through the interpreter's caches and through
// WriteBytes, and never the other's; pages neither writes stay equal, and
// the copy hashes like the original until one of them writes.
func TestClonesWriteApart(t *testing.T) {
	parent := NewMemory()
	require.NoError(t, parent.Map(dataBase, 3*PageSize, ProtRead|ProtWrite))
	require.True(t, parent.write32(dataBase, 1), "enters the page in the store cache")
	require.NoError(t, parent.WriteBytes(dataBase+PageSize, []byte("shared page")))

	child := parent.Clone()
	assert.Equal(t, parent.Hash(), child.Hash())
	assert.Equal(t, parent.MappedBytes(), child.MappedBytes())

	require.True(t, parent.write32(dataBase, 2), "the parent stores after the clone")
	require.True(t, child.write32(dataBase, 3), "and so does the child, to the same word")
	require.NoError(t, child.WriteBytes(dataBase+2*PageSize, []byte("child only")))

	for _, c := range []struct {
		mem  *Memory
		want uint32
	}{{parent, 2}, {child, 3}} {
		v, ok := c.mem.read32(dataBase)
		require.True(t, ok)
		assert.Equal(t, c.want, v)
		got := make([]byte, 11)
		require.NoError(t, c.mem.ReadBytes(dataBase+PageSize, got))
		assert.Equal(t, "shared page", string(got))
	}
	untouched := make([]byte, 10)
	require.NoError(t, parent.ReadBytes(dataBase+2*PageSize, untouched))
	assert.Equal(t, make([]byte, 10), untouched, "the child's first write to a page stays the child's")
	assert.NotEqual(t, parent.Hash(), child.Hash())
}
