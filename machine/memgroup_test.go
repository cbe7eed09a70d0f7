package machine

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGroupWritesSharedPagesOnce: a memory and its clone, encoded as a
// group, cost the pages they share once; restored, they hash as before,
// share those pages again, and still write them apart.
func TestGroupWritesSharedPagesOnce(t *testing.T) {
	const pages = 8
	parent := NewMemory()
	require.NoError(t, parent.Map(dataBase, pages*PageSize, ProtRead|ProtWrite))
	for i := range uint32(pages) {
		require.NoError(t, parent.StoreWord(dataBase+i*PageSize, i+1))
	}
	child := parent.Clone()
	require.NoError(t, child.StoreWord(dataBase, 100), "the child's own first page")

	group := AppendGroupState(nil, []*MemoryImage{parent.Freeze(), child.Freeze()})
	apart := len(parent.AppendState(nil)) + len(child.AppendState(nil))
	assert.Less(t, len(group), apart-(pages-2)*PageSize, "the 7 pages both hold are written once")

	mems, rest, err := RestoreGroup(group, 2, nil)
	require.NoError(t, err)
	require.Empty(t, rest)
	assert.Equal(t, parent.Hash(), mems[0].Hash())
	assert.Equal(t, child.Hash(), mems[1].Hash())
	assert.Same(t, mems[0].pageAt(dataBase+PageSize).data, mems[1].pageAt(dataBase+PageSize).data, "shared again")

	require.NoError(t, mems[1].StoreWord(dataBase+PageSize, 7))
	v, err := mems[0].LoadWord(dataBase + PageSize)
	require.NoError(t, err)
	assert.Equal(t, uint32(2), v, "copy on write after the restore")
}

// TestGroupRefusesBadReferences: a reference to a memory or page the group
// does not hold is an error, and so is one in a lone memory's state.
func TestGroupRefusesBadReferences(t *testing.T) {
	m := NewMemory()
	require.NoError(t, m.Map(dataBase, PageSize, ProtRead|ProtWrite))
	require.NoError(t, m.StoreWord(dataBase, 1))
	c := m.Clone()
	group := AppendGroupState(nil, []*MemoryImage{m.Freeze(), c.Freeze()})
	second := len(m.AppendState(nil))
	_, _, err := RestoreMemory(group[second:])
	require.ErrorContains(t, err, "bad page header", "a lone memory has no group")
	bad := append([]byte(nil), group...)
	bad[len(bad)-6] = 1 // the reference names memory 1: itself, not an earlier one
	_, _, err = RestoreGroup(bad, 2, nil)
	require.ErrorIs(t, err, errBadReference)
}
