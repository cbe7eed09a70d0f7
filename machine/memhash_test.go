package machine

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// freshHash is the state hash of m computed with no cache: that of a
// memory restored from m's state, none of whose hashes was taken yet.
func freshHash(t *testing.T, m *Memory) [32]byte {
	t.Helper()
	restored, _, err := RestoreMemory(m.AppendState(nil))
	require.NoError(t, err)
	return restored.Hash()
}

// TestHashFollowsEveryChange: the cached hashes of pages and tables are
// dropped by every kind of change (writes through WriteBytes and through
// the store cache, mapping, unmapping, protecting, sharing pages with
// another memory, writing a page through the memory it is shared with),
// so that the incremental state hash always equals one computed from
// nothing.
func TestHashFollowsEveryChange(t *testing.T) {
	const stretch = 8 * pagesPerTable // pages: eight tables, so that a change is mostly alone in its table
	m, other := NewMemory(), NewMemory()
	for _, mem := range []*Memory{m, other} {
		require.NoError(t, mem.Map(dataBase, stretch*PageSize, ProtRead|ProtWrite))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pageAddr := func() uint32 { return dataBase + uint32(rng.IntN(stretch))*PageSize }
	kinds := map[string]int{}
	var shared []uint32
	for step := range 400 {
		kind := []string{"write", "store", "map", "unmap", "protect", "share", "write shared"}[rng.IntN(7)]
		addr := pageAddr()
		switch kind {
		case "write":
			_ = m.WriteBytes(addr+uint32(rng.IntN(PageSize-8)), []byte{byte(step), 1, 2})
		case "store":
			_ = m.write32(addr+4*uint32(rng.IntN(PageSize/4)), uint32(step)+1)
		case "map":
			require.NoError(t, m.Map(addr, PageSize, ProtRead|ProtWrite))
		case "unmap":
			require.NoError(t, m.Unmap(addr, PageSize))
		case "protect":
			_ = m.Protect(addr, PageSize, Prot(rng.IntN(2)+1)|ProtRead)
		case "share":
			if other.ShareWith(m, addr, PageSize) == nil {
				shared = append(shared, addr)
			}
		case "write shared":
			if len(shared) > 0 {
				addr = shared[rng.IntN(len(shared))]
			}
			_ = other.WriteBytes(addr+8, []byte{byte(step), 9})
		}
		kinds[kind]++
		require.Equal(t, freshHash(t, m), m.Hash(), "step %d (%s at %#x)", step, kind, addr)
	}
	require.Len(t, kinds, 7)
}

// TestHashRehashesOnlyChangedTables: after a hash, a write makes the
// next one rehash the written page's table alone.
func TestHashRehashesOnlyChangedTables(t *testing.T) {
	m := NewMemory()
	require.NoError(t, m.Map(dataBase, 3*pagesPerTable*PageSize, ProtRead|ProtWrite))
	for n := range uint32(3 * pagesPerTable) {
		require.NoError(t, m.StoreWord(dataBase+n*PageSize, n+1))
	}
	before := m.Hash()
	require.True(t, m.write32(dataBase+pagesPerTable*PageSize+8, 5))
	var unhashed []uint32
	for ti, tbl := range m.tables {
		if tbl != nil && !tbl.hashed {
			unhashed = append(unhashed, uint32(ti))
		}
	}
	require.Equal(t, []uint32{(dataBase >> PageShift >> tableShift) + 1}, unhashed)
	require.NotEqual(t, before, m.Hash())
	require.Equal(t, freshHash(t, m), m.Hash())
}
