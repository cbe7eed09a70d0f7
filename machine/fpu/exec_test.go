package fpu

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// The instructions vectors_test.go does not cover, as hppa-linux-gnu-as
// encodes them.
const (
	wordFtest      = 0x30002420 // ftest
	wordXmpyu      = 0x38855706 // xmpyu fr4L,fr5R,fr6
	wordFmpyaddDbl = 0x188541c6 // fmpyadd,dbl fr4,fr5,fr6,fr7,fr8: fr6=fr4*fr5, fr8+=fr7
	wordFmpysubSgl = 0x981124e2 // fmpysub,sgl fr16L,fr17R,fr18L,fr19R,fr20L: fr18L=fr16L*fr17R, fr20L-=fr19R
	wordFcpyZero   = 0x30004806 // fcpy,dbl fr0,fr6
	wordFabsSgl    = 0x38806086 // fabs,sgl fr4R,fr6L
	wordFcmpLtDbl  = 0x30850c09 // fcmp,dbl,< fr4,fr5
	wordFaddDbl    = 0x30850e06 // fadd,dbl fr4,fr5,fr6
)

func exec(t *testing.T, s *State, word uint32) Result {
	t.Helper()
	op, ok := Decode(word)
	require.True(t, ok, "%08x", word)
	return s.Exec(&op)
}

func TestXmpyuMultipliesUnsignedWords(t *testing.T) {
	var s State
	s.write32(4, 0xfffffffe)
	s.write32(5|32, 0x80000003)
	exec(t, &s, wordXmpyu)
	require.Equal(t, uint64(0xfffffffe)*0x80000003, s.R[6])
}

func TestMultipleOperations(t *testing.T) {
	var s State
	s.R[4], s.R[5] = math.Float64bits(3), math.Float64bits(-2.5)
	s.R[7], s.R[8] = math.Float64bits(1), math.Float64bits(10)
	require.Equal(t, Done, exec(t, &s, wordFmpyaddDbl))
	require.Equal(t, -7.5, math.Float64frombits(s.R[6]))
	require.Equal(t, 11.0, math.Float64frombits(s.R[8]))

	s.write32(16, math.Float32bits(2))
	s.write32(17|32, math.Float32bits(4))
	s.write32(20, math.Float32bits(5))
	s.write32(19|32, math.Float32bits(1.5))
	require.Equal(t, Done, exec(t, &s, wordFmpysubSgl))
	require.Equal(t, float32(8), math.Float32frombits(s.read32(18)), "product")
	require.Equal(t, float32(3.5), math.Float32frombits(s.read32(20)), "difference, in the accumulator")
}

func TestRegisterZeroReadsAsZero(t *testing.T) {
	var s State
	s.setStatus(3 << rmShift)
	s.R[6] = math.Float64bits(42)
	exec(t, &s, wordFcpyZero)
	require.Zero(t, s.R[6], "fcpy from fr0 clears, whatever the status register holds")
}

func TestFidLeavesTheStateAlone(t *testing.T) {
	var s State
	for i := range s.R {
		s.R[i] = uint64(i) * 0x0123456789abcdef
	}
	before := s
	require.Equal(t, Done, exec(t, &s, wordFid))
	require.Equal(t, before, s)
}

func TestSignOperationsNeverSignal(t *testing.T) {
	var s State
	s.write32(4|32, 0xffc00001) // a negative signaling NaN
	require.Equal(t, Done, exec(t, &s, wordFabsSgl))
	require.Equal(t, uint32(0x7fc00001), s.read32(6))
	require.Zero(t, s.status())
}

func TestCompareAndTest(t *testing.T) {
	var s State
	s.R[4], s.R[5] = math.Float64bits(1), math.Float64bits(2)
	exec(t, &s, wordFcmpLtDbl)
	require.Equal(t, NullifyNext, exec(t, &s, wordFtest), "1 < 2 sets C: ftest skips the next instruction")
	s.R[4] = math.Float64bits(3)
	exec(t, &s, wordFcmpLtDbl)
	require.Equal(t, Done, exec(t, &s, wordFtest))
	require.NotZero(t, s.status()&statusCQ0, "the earlier true result moved into the compare queue")
}

func TestEnabledExceptionTraps(t *testing.T) {
	var s State
	s.setStatus(excDivZero << enableShift)
	s.R[4], s.R[5], s.R[6] = math.Float64bits(1), 0, math.Float64bits(7)
	require.Equal(t, Trap, exec(t, &s, wordFaddDbl&^0x6000|0x6000)) // fdiv,dbl
	require.Equal(t, 7.0, math.Float64frombits(s.R[6]), "a trapping operation writes nothing")
	require.Equal(t, uint32(excDivZero<<flagShift|excDivZero), s.status(), "the flag is set, as QEMU does")
	require.Zero(t, uint32(s.R[0]), "QEMU models no exception register")

	s.setStatus(0)
	require.Equal(t, Done, exec(t, &s, wordFaddDbl&^0x6000|0x6000))
	require.True(t, math.IsInf(math.Float64frombits(s.R[6]), 1))
	require.Equal(t, uint32(excDivZero<<flagShift), s.status(), "disabled: only the sticky flag")
}

func FuzzDecodeExec(f *testing.F) {
	for _, w := range []uint32{wordFtest, wordXmpyu, wordFmpyaddDbl, wordFmpysubSgl, wordFcpyZero, wordFabsSgl, wordFcmpLtDbl, wordFaddDbl} {
		f.Add(w, uint64(0x3ff0000000000000), uint64(0x7ff8000000000001), uint32(0))
	}
	f.Fuzz(func(t *testing.T, word uint32, a, b uint64, status uint32) {
		op, ok := Decode(word)
		if !ok {
			return
		}
		var s State
		for i := range s.R {
			s.R[i] = a ^ uint64(i)*b
		}
		s.setStatus(status)
		s.Exec(&op)
	})
}

func BenchmarkExec(b *testing.B) {
	for _, bc := range []struct {
		name string
		word uint32
	}{
		{"fadd,dbl", wordFaddDbl},
		{"fmpy,dbl", 0x30854e06},
		{"fdiv,dbl", 0x30856e06},
		{"fadd,sgl", 0x38851646},
		{"xmpyu", wordXmpyu},
	} {
		b.Run(bc.name, func(b *testing.B) {
			op, _ := Decode(bc.word)
			var s State
			s.R[4], s.R[5] = math.Float64bits(1.1), math.Float64bits(3.3)
			for b.Loop() {
				s.Exec(&op)
			}
		})
	}
}
