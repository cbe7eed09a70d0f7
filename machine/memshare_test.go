package machine

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSharedPagesAreOne: after ShareWith, a write through either memory,
// by the interpreter's store cache or by WriteBytes, is read by the other;
// the other's hash sees it; a clone of either shares them too; and a
// group snapshot restores them still one.
func TestSharedPagesAreOne(t *testing.T) {
	parent := NewMemory()
	require.NoError(t, parent.Map(dataBase, 2*PageSize, ProtRead|ProtWrite))
	require.True(t, parent.write32(dataBase, 1), "in the store cache before sharing")
	child := parent.Clone()
	require.NoError(t, parent.ShareWith(child, dataBase, PageSize))

	read := func(m *Memory, addr uint32) uint32 {
		v, ok := m.read32(addr)
		require.True(t, ok)
		return v
	}
	assert.Equal(t, uint32(1), read(child, dataBase))
	before := child.Hash()
	require.True(t, parent.write32(dataBase, 2))
	assert.Equal(t, uint32(2), read(child, dataBase), "the parent's store is the child's")
	assert.NotEqual(t, before, child.Hash(), "and changes its hash")
	require.True(t, child.write32(dataBase, 3))
	assert.Equal(t, uint32(3), read(parent, dataBase), "and the other way")
	require.NoError(t, child.WriteBytes(dataBase+4, []byte{0, 0, 0, 4}))
	assert.Equal(t, uint32(4), read(parent, dataBase+4))
	require.True(t, child.write32(dataBase+PageSize, 5), "the page not shared")
	assert.Equal(t, uint32(0), read(parent, dataBase+PageSize), "stays the child's")

	grandchild := child.Clone()
	require.True(t, grandchild.write32(dataBase, 6))
	assert.Equal(t, uint32(6), read(parent, dataBase), "a clone shares them too")

	imgs := FreezeGroup([]*Memory{parent, child, grandchild})
	require.True(t, parent.write32(dataBase, 7), "after the freeze")
	enc := AppendGroupState(nil, imgs)
	mems, rest, err := RestoreGroup(enc, 3, nil)
	require.NoError(t, err)
	require.Empty(t, rest)
	assert.Equal(t, uint32(6), read(mems[2], dataBase), "the images kept their instant")
	require.True(t, mems[2].write32(dataBase, 8))
	assert.Equal(t, uint32(8), read(mems[0], dataBase), "restored, they are one again")
	assert.Equal(t, uint32(8), read(mems[1], dataBase))

	require.NoError(t, child.Unmap(dataBase, PageSize))
	require.True(t, parent.write32(dataBase, 9), "unmapped in one, mapped in the other")
	assert.Equal(t, uint32(9), read(grandchild, dataBase))
}
