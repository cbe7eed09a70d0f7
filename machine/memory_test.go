package machine

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMapAllocatesOnWrite(t *testing.T) {
	m := NewMemory()
	require.NoError(t, m.Map(dataBase, 64*PageSize, ProtRead|ProtWrite))
	v, err := m.LoadWord(dataBase + 8)
	require.NoError(t, err)
	assert.Zero(t, v)
	require.NoError(t, m.WriteBytes(dataBase, make([]byte, 3*PageSize)))
	for n := range uint32(64) {
		assert.Nil(t, m.pageAt(dataBase+n*PageSize).data, "page %d", n)
	}
	require.NoError(t, m.StoreWord(dataBase+PageSize+4, 7))
	assert.Nil(t, m.pageAt(dataBase).data)
	assert.NotNil(t, m.pageAt(dataBase+PageSize).data)
}

func TestUnmapDropsEmptyTables(t *testing.T) {
	m := NewMemory()
	const stretch = pagesPerTable * PageSize
	require.NoError(t, m.Map(3*stretch-PageSize, 2*PageSize, ProtRead))
	assert.NotNil(t, m.tables[2])
	assert.NotNil(t, m.tables[3])
	require.NoError(t, m.Unmap(3*stretch, PageSize))
	assert.NotNil(t, m.tables[2])
	assert.Nil(t, m.tables[3])
	assert.Equal(t, uint64(PageSize), m.MappedBytes())
}

// MappedBytes counts a page once however often it is mapped over, and
// a restored memory as much as its original.
func TestMappedBytesCountsEachPageOnce(t *testing.T) {
	m := NewMemory()
	require.NoError(t, m.Map(dataBase, 4*PageSize, ProtRead|ProtWrite))
	require.NoError(t, m.Map(dataBase+2*PageSize, 4*PageSize, ProtRead))
	assert.Equal(t, uint64(6*PageSize), m.MappedBytes())
	require.NoError(t, m.Unmap(dataBase+5*PageSize, 8*PageSize), "holes are ignored")
	assert.Equal(t, uint64(5*PageSize), m.MappedBytes())
	restored, _, err := RestoreMemory(m.AppendState(nil))
	require.NoError(t, err)
	assert.Equal(t, m.MappedBytes(), restored.MappedBytes())
}

func TestHashIgnoresWhetherZerosWereWritten(t *testing.T) {
	untouched, zeroed := NewMemory(), NewMemory()
	for _, m := range []*Memory{untouched, zeroed} {
		require.NoError(t, m.Map(dataBase, 2*PageSize, ProtRead|ProtWrite))
	}
	require.NoError(t, zeroed.StoreWord(dataBase+PageSize, 1))
	require.NoError(t, zeroed.StoreWord(dataBase+PageSize, 0))
	assert.Equal(t, untouched.Hash(), zeroed.Hash())
	assert.Equal(t, untouched.AppendState(nil), zeroed.AppendState(nil))
}

// The CPU's stores go through the store cache, which bypasses the
// per-page "changed" mark; the state hash must still see every one.
func TestHashSeesCachedStores(t *testing.T) {
	c := newWordsCPU(t, ProtRead|ProtExec, wordStwR4R5, wordStwR4R5, wordBreak)
	require.NoError(t, c.Mem.Map(dataBase, PageSize, ProtRead|ProtWrite))
	c.GR[4], c.GR[5] = 1, dataBase
	before := c.Mem.Hash()
	require.Equal(t, StopBudget, c.Run(1).Reason)
	first := c.Mem.Hash()
	assert.NotEqual(t, before, first)
	c.GR[4] = 2
	require.Equal(t, StopBreak, c.Run(10).Reason)
	assert.NotEqual(t, first, c.Mem.Hash())
}

func TestProtectStopsCachedStores(t *testing.T) {
	c := newWordsCPU(t, ProtRead|ProtExec, wordStwR4R5, wordStwR4R5, wordBreak)
	require.NoError(t, c.Mem.Map(dataBase, PageSize, ProtRead|ProtWrite))
	c.GR[4], c.GR[5] = 1, dataBase
	require.Equal(t, StopBudget, c.Run(1).Reason)
	require.NoError(t, c.Mem.Protect(dataBase, PageSize, ProtRead))
	stop := c.Run(10)
	require.Equal(t, StopFault, stop.Reason)
	assert.Equal(t, &Fault{Addr: dataBase, Write: true}, stop.Fault)
}

// A page written before it is first executed may sit in the store cache;
// once it holds code, stores to it must re-decode it.
func TestStoreCacheDropsDecodedPage(t *testing.T) {
	const (
		codePage2 = codeBase + PageSize
		wordStwR6 = 0x68e60000 // stw %r6,0(%r7)
	)
	c := newWordsCPU(t, ProtRead|ProtExec, wordStwR4R5, wordBvR0R2, wordNop)
	require.NoError(t, c.Mem.Map(codePage2, PageSize, ProtRead|ProtWrite|ProtExec))
	require.NoError(t, c.Mem.StoreWord(codePage2+4, wordLdi1R3))
	require.NoError(t, c.Mem.StoreWord(codePage2+8, wordBreak))
	// The first store writes the second page's first instruction, which
	// rewrites the one after it once the page runs.
	c.GR[4], c.GR[5], c.GR[2] = wordStwR6, codePage2, codePage2|3
	c.GR[6], c.GR[7] = wordLdi2R3, codePage2+4
	stop := c.Run(10)
	require.Equal(t, StopBreak, stop.Reason)
	assert.Equal(t, uint32(codePage2+8|3), stop.PC)
	assert.Equal(t, uint32(2), c.GR[3])
}

func TestUnmapStopsCachedLoads(t *testing.T) {
	const wordLdwR5R6 = 0x48a60000 // ldw 0(%r5),%r6
	c := newWordsCPU(t, ProtRead|ProtExec, wordLdwR5R6, wordLdwR5R6, wordBreak)
	require.NoError(t, c.Mem.Map(dataBase, 2*PageSize, ProtRead|ProtWrite))
	c.GR[5] = dataBase + PageSize
	require.Equal(t, StopBudget, c.Run(1).Reason)
	require.NoError(t, c.Mem.Unmap(dataBase+PageSize, PageSize))
	stop := c.Run(10)
	require.Equal(t, StopFault, stop.Reason)
	assert.Equal(t, &Fault{Addr: dataBase + PageSize, Unmapped: true}, stop.Fault)
}

// TestStraightFollowsRewrites checks codePage.straightAt, the length of
// the straight line from an instruction, which the translator's run loop
// runs a cold block by and measures once: after rewrites of the page's
// words, it is what counting the words gives.
func TestStraightFollowsRewrites(t *testing.T) {
	const base = 0x40000
	m := NewMemory()
	require.NoError(t, m.Map(base, PageSize, ProtRead|ProtWrite|ProtExec))
	rng := rand.New(rand.NewPCG(1, 2))
	word := func() uint32 {
		if rng.IntN(8) == 0 {
			return wordBvR0R2
		}
		return wordNop
	}
	for a := uint32(0); a < PageSize; a += 4 {
		// Mostly one long straight line, so that the cap shows.
		if a%1600 == 1596 {
			require.NoError(t, m.StoreWord(base+a, wordBvR0R2))
		}
	}
	cp := m.code(base)
	require.NotNil(t, cp)
	for round := range 300 {
		// Most rounds measure a few lines only, so that rewrites meet
		// lines measured in part.
		for i := range wordsPerPage {
			if round%10 != 0 && rng.IntN(32) != 0 {
				continue
			}
			want := 0
			for j := i; j < wordsPerPage && !isBranch(cp.insts[j].op); j++ {
				want++
			}
			require.Equal(t, min(want, maxStraight), int(cp.straightAt(base+uint32(i)*4)), "round %d, word %d", round, i)
		}
		at := uint32(rng.IntN(wordsPerPage)) * 4
		words := make([]byte, 4*(1+rng.IntN(3)))
		for k := 0; k < len(words) && at+uint32(k) < PageSize; k += 4 {
			binary.BigEndian.PutUint32(words[k:], word())
		}
		require.NoError(t, m.WriteBytes(base+at, words[:min(len(words), int(PageSize-at))]))
		require.Same(t, cp, m.code(base), "a rewrite redecodes the page in place")
	}
}
