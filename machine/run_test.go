package machine

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Words used by the Go-level tests (assembled by hand; the scripts in
// testdata/insn cover the instruction set itself).
const (
	wordBreak     = 0x00000000 // break 0,0
	wordLdi1R3    = 0x34030002 // ldi 1,%r3
	wordLdi2R3    = 0x34030004 // ldi 2,%r3
	wordStwR4R5   = 0x68a40000 // stw %r4,0(%r5)
	wordBvR0R2    = 0xe840c000 // bv %r0(%r2)
	wordNop       = 0x08000240 // nop (or %r0,%r0,%r0)
	wordAddiR3One = 0xb4630002 // addi 1,%r3,%r3
)

// newWordsCPU maps words at codeBase in a page with the given rights.
func newWordsCPU(t *testing.T, prot Prot, words ...uint32) *CPU {
	t.Helper()
	mem := NewMemory()
	require.NoError(t, mem.Map(codeBase, PageSize, ProtRead|ProtWrite))
	for i, w := range words {
		require.NoError(t, mem.StoreWord(codeBase+uint32(i)*4, w))
	}
	require.NoError(t, mem.Protect(codeBase, PageSize, prot))
	c := &CPU{Mem: mem}
	c.IAOQFront, c.IAOQBack = codeBase|3, codeBase+4|3
	return c
}

func TestStoreRedecodesCode(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine Engine) {
		// The program overwrites its own next instruction (ldi 1) with ldi 2.
		c := newWordsCPU(t, ProtRead|ProtWrite|ProtExec, wordStwR4R5, wordLdi1R3, wordBreak)
		c.Engine = engine
		c.GR[4], c.GR[5] = wordLdi2R3, codeBase+4
		// Decode the page first, so the store has a decoded copy to refresh.
		require.Equal(t, StopBudget, c.Run(0).Reason)
		stop := c.Run(10)
		require.Equal(t, StopBreak, stop.Reason)
		assert.Equal(t, uint32(2), c.GR[3])
	})
}

func TestWriteBytesRedecodesCode(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine Engine) {
		c := newWordsCPU(t, ProtRead|ProtWrite|ProtExec, wordLdi1R3, wordBreak)
		c.Engine = engine
		require.Equal(t, StopBreak, c.Run(10).Reason)
		require.Equal(t, uint32(1), c.GR[3])
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], wordLdi2R3)
		require.NoError(t, c.Mem.WriteBytes(codeBase, b[:]))
		c.IAOQFront, c.IAOQBack = codeBase|3, codeBase+4|3
		require.Equal(t, StopBreak, c.Run(10).Reason)
		assert.Equal(t, uint32(2), c.GR[3])
	})
}

func TestRemapDropsDecodedCode(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine Engine) {
		c := newWordsCPU(t, ProtRead|ProtExec, wordLdi1R3, wordBreak)
		c.Engine = engine
		require.Equal(t, StopBreak, c.Run(10).Reason)
		require.NoError(t, c.Mem.Map(codeBase, PageSize, ProtRead|ProtWrite))
		require.NoError(t, c.Mem.StoreWord(codeBase, wordLdi2R3))
		require.NoError(t, c.Mem.Protect(codeBase, PageSize, ProtRead|ProtExec))
		c.IAOQFront, c.IAOQBack = codeBase|3, codeBase+4|3
		require.Equal(t, StopBreak, c.Run(10).Reason)
		assert.Equal(t, uint32(2), c.GR[3])
	})
}

func TestFetchNeedsExecuteRight(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine Engine) {
		c := newWordsCPU(t, ProtRead, wordLdi1R3)
		c.Engine = engine
		stop := c.Run(10)
		require.Equal(t, StopFault, stop.Reason)
		require.NotNil(t, stop.Fault)
		assert.Equal(t, uint32(codeBase), stop.Fault.Addr)
		assert.False(t, stop.Fault.Unmapped)

		c.IAOQFront, c.IAOQBack = 0x50000|3, 0x50004|3
		stop = c.Run(10)
		require.Equal(t, StopFault, stop.Reason)
		assert.True(t, stop.Fault.Unmapped)
		assert.Equal(t, uint64(0), c.Instructions)
	})
}

func TestRunSpendsExactBudget(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine Engine) {
		// An endless loop: addi 1,%r3,%r3 ; bv %r0(%r2) with the branch in
		// its own delay slot pattern replaced by a plain backward jump.
		c := newWordsCPU(t, ProtRead|ProtExec, wordAddiR3One, wordBvR0R2, wordNop)
		c.Engine = engine
		c.GR[2] = codeBase
		for _, budget := range []uint64{1, 2, 3, 1000, 12345} {
			before := c.Instructions
			stop := c.Run(budget)
			require.Equal(t, StopBudget, stop.Reason)
			require.Equal(t, budget, c.Instructions-before)
		}
		// 1+2+3+1000+12345 instructions, a third of them the addi.
		assert.Equal(t, uint32((1+2+3+1000+12345+2)/3), c.GR[3])
	})
}

func TestTraceSeesEveryInstruction(t *testing.T) {
	c := newWordsCPU(t, ProtRead|ProtExec, wordLdi1R3, wordLdi2R3, wordBreak)
	var seen []uint32
	c.Trace = func(pc, word uint32, nullified bool) {
		seen = append(seen, pc, word)
		assert.False(t, nullified)
	}
	stop := c.Run(10)
	require.Equal(t, StopBreak, stop.Reason)
	assert.Equal(t, []uint32{codeBase | 3, wordLdi1R3, codeBase + 4 | 3, wordLdi2R3, codeBase + 8 | 3, wordBreak}, seen)
	assert.Equal(t, uint64(2), c.Instructions)
}

func TestPSWRoundTrip(t *testing.T) {
	for _, psw := range []uint32{0, pswN, pswV, 0xff << pswCarryBits, pswN | pswV | 0xa5<<pswCarryBits} {
		var c CPU
		c.SetPSW(psw)
		assert.Equal(t, hex(psw), hex(c.PSW()))
	}
}

func TestEveryOperationHasAHandler(t *testing.T) {
	for op := range numOps {
		if handlers[op] == nil {
			t.Errorf("operation %d has no handler", op)
		}
	}
}

// TestCodeChangedOnNextPage runs into a second page, changes the code
// there and runs again: the first page's code must reach the new code
// (the translator links blocks across pages and must unlink them).
func TestCodeChangedOnNextPage(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine Engine) {
		words := make([]uint32, wordsPerPage+2)
		for i := range wordsPerPage {
			words[i] = wordNop
		}
		words[wordsPerPage], words[wordsPerPage+1] = wordLdi1R3, wordBreak
		mem := NewMemory()
		require.NoError(t, mem.Map(codeBase, 2*PageSize, ProtRead|ProtWrite|ProtExec))
		for i, w := range words {
			require.NoError(t, mem.StoreWord(codeBase+uint32(i)*4, w))
		}
		c := &CPU{Mem: mem, Engine: engine}
		for _, want := range []uint32{1, 2} {
			c.IAOQFront, c.IAOQBack = codeBase|3, codeBase+4|3
			stop := c.Run(2 * wordsPerPage)
			require.Equal(t, StopBreak, stop.Reason)
			assert.Equal(t, want, c.GR[3])
			require.NoError(t, mem.StoreWord(codeBase+PageSize, wordLdi2R3))
		}
	})
}

// TestRewrittenCodeWaitsLonger rewrites a block's code before every one of
// 200 runs, as a program that generates code in a loop does. Each
// rewrite drops the translation, and a block of a page rewritten r times
// waits 2^r times as long to be translated again: the translator must
// not translate it anew every time (with the package's wait of one run,
// that was 200 translations), and every run must see the new code.
func TestRewrittenCodeWaitsLonger(t *testing.T) {
	if !translatorAvailable {
		t.Skip("no translator on this host")
	}
	c := newWordsCPU(t, ProtRead|ProtWrite|ProtExec, wordLdi1R3, wordBreak)
	c.Engine = EngineJIT
	blocksBefore, _ := TranslationStats()
	const runs = 200
	for i := range uint32(runs) {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], 0x34030000|i<<1) // ldi i,%r3
		require.NoError(t, c.Mem.WriteBytes(codeBase, b[:]))
		c.IAOQFront, c.IAOQBack = codeBase|3, codeBase+4|3
		require.Equal(t, StopBreak, c.Run(10).Reason)
		require.Equal(t, i, c.GR[3], "run %d", i)
	}
	blocks, _ := TranslationStats()
	translated := blocks - blocksBefore
	assert.Positive(t, translated, "the block is translated at times")
	assert.Less(t, translated, uint64(runs/10), "translations of a block rewritten before each of %d runs", runs)
}

// TestTranslatorStartsAfterInterpretFirst runs a loop under EngineJIT: for
// the first interpretFirst instructions of its memory, nothing is
// translated (a short program costs what the interpreter costs), and
// after them the loop is.
func TestTranslatorStartsAfterInterpretFirst(t *testing.T) {
	if !translatorAvailable {
		t.Skip("no translator on this host")
	}
	defer InterpretFirst(3000)()
	c := newWordsCPU(t, ProtRead|ProtExec, wordAddiR3One, wordBvR0R2, wordNop)
	c.Engine = EngineJIT
	c.GR[2] = codeBase | 3
	before, _ := TranslationStats()
	for range 10 {
		require.Equal(t, StopBudget, c.Run(299).Reason)
	}
	blocks, _ := TranslationStats()
	assert.Equal(t, before, blocks, "blocks translated in the first 2990 instructions")
	assert.Nil(t, c.Mem.translator, "no translator before interpretFirst instructions")
	require.Equal(t, StopBudget, c.Run(30).Reason)
	blocks, _ = TranslationStats()
	assert.Greater(t, blocks, before, "blocks translated after 3020 instructions")
	assert.Equal(t, uint32(1007), c.GR[3], "additions in 3020 instructions, the first of every three")
}
