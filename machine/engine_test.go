package machine

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// eachEngine runs test once for each engine, as a subtest.
func eachEngine(t *testing.T, test func(t *testing.T, engine Engine)) {
	for _, engine := range []Engine{EngineInterp, EngineJIT} {
		t.Run(engine.String(), func(t *testing.T) { test(t, engine) })
	}
}

// wordPool is every instruction word of the instruction tests and the
// benchmark kernel: material for programs that mostly decode to
// something.
func wordPool(t testing.TB) []uint32 {
	paths, err := filepath.Glob("testdata/insn/*.words")
	require.NoError(t, err)
	var pool []uint32
	for _, path := range append(paths, benchWords) {
		images, err := readWords(path)
		require.NoError(t, err)
		for _, name := range slices.Sorted(maps.Keys(images)) {
			pool = append(pool, images[name].words...)
		}
	}
	require.NotEmpty(t, pool)
	return pool
}

// randomProgram draws n words from pool, changing the register fields
// (bits 21-25, 16-20 and 0-4 in most formats) of about half of them and
// the condition (bits 12-15 in most formats) of a quarter of them, and
// a budget schedule: small budgets, so that runs stop inside blocks.
// With fewRegisters, every register field names one of four registers
// (two of them pointing into the data pages, see newFuzzCPU), so that
// instructions mostly read what the ones before them wrote: the paths
// the translator's register cache must get right.
func randomProgram(rng *rand.Rand, pool []uint32, n int, fewRegisters bool) ([]uint32, []uint64) {
	words := make([]uint32, n)
	for i := range words {
		w := pool[rng.IntN(len(pool))]
		if fewRegisters {
			for _, shift := range []uint{21, 16, 0} {
				w = w&^(31<<shift) | (3+rng.Uint32N(4))<<shift
			}
		} else if rng.IntN(2) == 0 {
			for _, shift := range []uint{21, 16, 0} {
				if rng.IntN(2) == 0 {
					w = w&^(31<<shift) | rng.Uint32N(32)<<shift
				}
			}
		}
		if rng.IntN(4) == 0 {
			w = w&^(15<<12) | rng.Uint32N(16)<<12
		}
		words[i] = w
	}
	budgets := make([]uint64, 64)
	for i := range budgets {
		budgets[i] = 1 + rng.Uint64N(12)
		if rng.IntN(8) == 0 {
			budgets[i] = 500
		}
	}
	return words, budgets
}

// edgeValues are register values where conditions and carries change.
// Small ones equal the 5-bit immediates of compares and add-and-branch.
var edgeValues = []uint32{0, 1, 2, 3, 4, 31, 32, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffc, 0xfffffffe, 0xffffffff}

// compareEngines runs words with the translator and with the interpreter,
// budget by budget, and requires the same stops and the same full state
// (CPU and memory hashes) after every run. Registers not pointing into
// the data pages take values from regs (when not nil) instead of words;
// the floating-point registers are fprs when it is not nil.
func compareEngines(t *testing.T, words []uint32, budgets []uint64, regs func(i int) uint32, fprs *[32]uint64) (translated int) {
	t.Helper()
	interp, jit := newFuzzCPU(t, words), newFuzzCPU(t, words)
	jit.Engine = EngineJIT
	if regs != nil {
		for i := 1; i < 32; i++ {
			if i%3 != 0 {
				interp.GR[i] = regs(i)
				jit.GR[i] = interp.GR[i]
			}
		}
	}
	if fprs != nil {
		interp.FP.R, jit.FP.R = *fprs, *fprs
	}
	start := cpuStateOf(interp)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("program: %#x\nbudgets: %v\nstart: %+v", words, budgets, start)
		}
	})
	for i, n := range budgets {
		stop := jit.Run(n)
		require.Equal(t, interp.Run(n), stop, "run %d (budget %d)", i, n)
		require.Equal(t, interp.Instructions, jit.Instructions, "run %d", i)
		require.Equal(t, cpuStateOf(interp), cpuStateOf(jit), "run %d: CPU state", i)
		require.Equal(t, interp.Mem.Hash(), jit.Mem.Hash(), "run %d: memory", i)
		for _, c := range []*CPU{interp, jit} {
			switch stop.Reason {
			case StopBudget:
			case StopGateway, StopFault:
				c.IAOQFront, c.IAOQBack = codeBase|3, codeBase+4|3
			default:
				c.IAOQFront, c.IAOQBack = c.IAOQBack, c.IAOQBack+4
			}
		}
	}
	if tr := jit.Mem.translator; tr != nil {
		return len(tr.blocks)
	}
	return 0
}

// cpuState is a CPU's architectural state in a form whose differences
// testify shows register by register.
type cpuState struct {
	GR, CR       [32]uint32
	SR           [8]uint32
	Front, Back  uint32
	PSW          uint32
	FR           [32]uint64
	Instructions uint64
}

func cpuStateOf(c *CPU) cpuState {
	return cpuState{GR: c.GR, CR: c.CR, SR: c.SR, Front: c.IAOQFront, Back: c.IAOQBack, PSW: c.PSW(), FR: c.FP.R, Instructions: c.Instructions}
}

// TestEnginesAgree is the differential test of the translator: random
// programs of real instruction words, state compared after every run.
// A fifth of them run each block cold, in the interpreter, a few times
// before it is translated.
func TestEnginesAgree(t *testing.T) {
	pool := wordPool(t)
	rng := rand.New(rand.NewPCG(14, 1))
	edge := func(int) uint32 { return edgeValues[rng.IntN(len(edgeValues))] }
	blocks := 0
	for i := range 600 {
		words, budgets := randomProgram(rng, pool, 16+rng.IntN(100), i%3 == 2)
		regs := edge
		if i%2 == 0 {
			regs = nil
		}
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			if i%5 == 4 {
				// Blocks run cold a few times first (stepBlock),
				// then translated.
				t.Cleanup(TranslateAfter(4))
			}
			blocks += compareEngines(t, words, budgets, regs, nil)
		})
	}
	if translatorAvailable {
		require.Greater(t, blocks, 1000, "blocks translated: the translator must have run")
	}
}

// FuzzEngines is TestEnginesAgree with programs from the fuzzer: the
// first eight bytes seed the budget schedule and the register values
// (the floating-point ones as TestEnginesAgreeOnFP's), the rest are the
// words.
//
//	go test -run ^$ -fuzz FuzzEngines ./machine
func FuzzEngines(f *testing.F) {
	pool := wordPool(f)
	rng := rand.New(rand.NewPCG(14, 2))
	for i := range 32 {
		words, _ := randomProgram(rng, pool, 64, i%2 == 1)
		f.Add(append(binary.BigEndian.AppendUint64(nil, rng.Uint64()), wordsToBytes(words)...))
		f.Add(append(binary.BigEndian.AppendUint64(nil, rng.Uint64()), wordsToBytes(withFPWords(rng, words))...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 12 {
			return
		}
		seed := binary.BigEndian.Uint64(data)
		var words []uint32
		for i := 8; i+4 <= len(data) && len(words) < wordsPerPage; i += 4 {
			words = append(words, binary.BigEndian.Uint32(data[i:]))
		}
		_, budgets := randomProgram(rand.New(rand.NewPCG(seed, 0)), []uint32{0}, 0, false)
		rng := rand.New(rand.NewPCG(seed, 1))
		fprs := fpRegisters(rng)
		compareEngines(t, words, budgets, func(int) uint32 { return edgeValues[rng.IntN(len(edgeValues))] }, &fprs)
	})
}
