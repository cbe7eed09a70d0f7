package machine

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// fpTemplates are floating-point instruction words (as hppa-linux-gnu-as
// encodes them) whose register fields fpWord changes: every form the
// translator generates code for, and some it leaves to the interpreter.
var fpTemplates = []uint32{
	0x30850e06, 0x30852e06, 0x30854e06, 0x30856e06, // fadd, fsub, fmpy, fdiv,dbl fr4,fr5,fr6
	0x38851646, 0x38853646, 0x38855646, 0x38857646, // the same,sgl fr4L,fr5R,fr6R
	0x30808806, 0x38808086, // fsqrt,dbl fr4,fr6; fsqrt,sgl fr4R,fr6L
	0x38800a46, 0x38802286, // fcnvff,dbl,sgl fr4,fr6R; fcnvff,sgl,dbl fr4R,fr6
	0x3880a286, 0x38808286, 0x38810a46, // fcnvxf,sgl,dbl; fcnvxf,sgl,sgl; fcnvfx,dbl,sgl
	0x30804806, 0x38804086, 0x30806806, 0x38806086, // fcpy and fabs, dbl and sgl
	0x3080c806, 0x3880c086, 0x3080e806, 0x3880e086, // fneg and fnegabs, dbl and sgl
	0x30850c00, 0x38851400, // fcmp,dbl fr4,fr5; fcmp,sgl fr4L,fr5R (condition 0)
	0x30002420,             // ftest
	0x38855706,             // xmpyu fr4L,fr5R,fr6
	0xb8852c07, 0xb8853467, // fmpyfadd,dbl; fmpynfadd,sgl
	0x3080a806, // frnd,dbl
}

// fpWord is a floating-point instruction from fpTemplates with its
// registers among fr0 and fr4-fr7 (either half, for single operands),
// and for fcmp and ftest a random condition and target bit.
func fpWord(rng *rand.Rand) uint32 {
	w := fpTemplates[rng.IntN(len(fpTemplates))]
	regs := []uint32{0, 4, 5, 6, 7}
	for _, shift := range []uint{21, 16, 0} {
		if rng.IntN(2) == 0 {
			w = w&^(31<<shift) | regs[rng.IntN(len(regs))]<<shift
		}
	}
	if w>>26 == 0x0e { // single halves: bits 7, 12 and 6 pick the right one
		w ^= rng.Uint32N(2)<<7 | rng.Uint32N(2)<<12 | rng.Uint32N(2)<<6
	}
	if w&0xfc00fe00 == 0x30000c00 || w&0xfc00fe00 == 0x38001400 || w&0xfc00fe00 == 0x30002400 { // fcmp, ftest
		w = w&^(7<<13|31) | rng.Uint32N(8)<<13 | rng.Uint32N(32)
	}
	return w
}

// withFPWords replaces about half of words with floating-point ones.
func withFPWords(rng *rand.Rand, words []uint32) []uint32 {
	out := make([]uint32, len(words))
	for i, w := range words {
		out[i] = w
		if rng.IntN(2) == 0 {
			out[i] = fpWord(rng)
		}
	}
	return out
}

// Operand values where floating-point results leave the ordinary: zeros
// of both signs, subnormals, the ends of the normal range, the edge of
// the range where products and quotients may underflow, infinities,
// PA-RISC's quiet NaNs (the most significant fraction bit clear, the
// default NaN among them) and signalling NaNs (that bit set: x86's quiet
// NaN), and words for the conversions from integers.
var (
	fpEdgeDoubles = []uint64{
		0, 1 << 63, 0x3ff0000000000000, 0xbff0000000000000, 0x3ff8000000000000, 0x3fb999999999999a, 0x3fd5555555555555,
		0xc004000000000000, 0x7e37e43c8800759c, 0xfe37e43c8800759c, 0x7fefffffffffffff, 0x0010000000000000,
		0x0000000000000001, 0x800fffffffffffff, 0x0370000000000000, 0x21b0000000000000, 0x21afffffffffffff,
		0x7ff0000000000000, 0xfff0000000000000, 0x7ff4000000000000, 0x7ff0000000000001, 0x7ff8000000000000,
		0xfffc000000000123, 0x0000000100000007, 0x00000000ffffffff,
	}
	fpEdgeSingles = []uint32{
		0, 1 << 31, 0x3f800000, 0xbf800000, 0x3fc00000, 0x3dcccccd, 0x7f7fffff, 0xff7fffff, 0x00800000, 0x00800001,
		0x00000001, 0x007fffff, 0x1f800000, 0x5f800000, 0x7f800000, 0xff800000, 0x7fa00000, 0x7f800001, 0x7fc00000,
		0xffe00001, 7, 0xffffffff, 0x7fffffff,
	}
)

// fpRegisters is a floating-point register file of edge values, doubles
// or pairs of singles, with a status word that is mostly routine (the
// inexact flag set, nothing enabled, rounding to nearest: what the
// translator's code does itself) but at times not: other rounding
// modes, traps enabled, flush to zero, no inexact flag yet. The compare
// bit and queue are random.
func fpRegisters(rng *rand.Rand) [32]uint64 {
	var r [32]uint64
	for i := range r {
		r[i] = fpEdgeDoubles[rng.IntN(len(fpEdgeDoubles))]
		if rng.IntN(2) == 0 {
			r[i] = uint64(fpEdgeSingles[rng.IntN(len(fpEdgeSingles))])<<32 | uint64(fpEdgeSingles[rng.IntN(len(fpEdgeSingles))])
		}
	}
	status := rng.Uint32() & (0x7fff << 11) // compare bit and queue
	if rng.IntN(4) != 0 {
		status |= 1 << 27 // inexact
	}
	for _, bits := range []uint32{1 << 9, 2 << 9, 3 << 9, 1 << 5, 1 << 0, 1 << 1, 1 << 4, 1 << 30} { // modes, D, enables, a flag
		if rng.IntN(10) == 0 {
			status |= bits
		}
	}
	r[0] = uint64(status)<<32 | uint64(rng.Uint32())
	return r
}

// TestEnginesAgreeOnFP is TestEnginesAgree for floating point: programs
// half of whose instructions are floating-point operations on edge
// values, so that the translator's code meets every case it must leave
// to the interpreter.
func TestEnginesAgreeOnFP(t *testing.T) {
	pool := wordPool(t)
	rng := rand.New(rand.NewPCG(14, 3))
	blocks := 0
	for i := range 600 {
		words, budgets := randomProgram(rng, pool, 16+rng.IntN(100), i%3 == 2)
		words = withFPWords(rng, words)
		fprs := fpRegisters(rng)
		t.Run(fmt.Sprint(i), func(t *testing.T) { blocks += compareEngines(t, words, budgets, nil, &fprs) })
	}
	if translatorAvailable {
		require.Greater(t, blocks, 1000, "blocks translated: the translator must have run")
	}
}
