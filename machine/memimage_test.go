package machine

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFrozenImageKeepsItsInstant: writes after Freeze, through the
// interpreter's store cache and through WriteBytes, copy the page they
// write; the image still encodes the memory as it was, and the machine
// reads what it wrote.
func TestFrozenImageKeepsItsInstant(t *testing.T) {
	m := NewMemory()
	require.NoError(t, m.Map(dataBase, 4*PageSize, ProtRead|ProtWrite))
	require.True(t, m.write32(dataBase, 1), "enters the page in the store cache")
	v, ok := m.read32(dataBase)
	require.True(t, ok)
	require.Equal(t, uint32(1), v, "and in the load cache")
	require.NoError(t, m.WriteBytes(dataBase+PageSize, []byte("second page")))
	before := m.AppendState(nil)

	img := m.Freeze()
	assert.Equal(t, before, img.AppendState(nil))
	assert.GreaterOrEqual(t, img.StateSizeBound(), len(before))

	require.True(t, m.write32(dataBase, 2), "a store after the freeze")
	require.NoError(t, m.WriteBytes(dataBase+PageSize, []byte("SECOND")))
	require.True(t, m.write32(dataBase+2*PageSize, 3), "a page first written after the freeze")
	v, ok = m.read32(dataBase)
	require.True(t, ok)
	assert.Equal(t, uint32(2), v, "the machine reads its own write, not the image's copy")
	assert.Equal(t, before, img.AppendState(nil), "the image did not change")
	assert.NotEqual(t, before, m.AppendState(nil))

	restored, rest, err := RestoreMemory(img.AppendState(nil))
	require.NoError(t, err)
	assert.Empty(t, rest)
	got := make([]byte, 11)
	require.NoError(t, restored.ReadBytes(dataBase+PageSize, got))
	assert.Equal(t, "second page", string(got))

	again := m.Freeze()
	assert.Equal(t, m.AppendState(nil), again.AppendState(nil), "a second image sees the writes")
}
