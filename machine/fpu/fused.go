package fpu

import (
	"math"
	"math/big"
)

// FMPYFADD and FMPYNFADD (PA-RISC 2.0) multiply and add with a single
// rounding. They are rare (GCC emits them for -march=2.0 only), so they
// always compute the exact value with math/big and round it as slow.go
// does. The special cases follow QEMU 7.2: the first NaN operand, in the
// order r1, r2, ra, is the result (silenced), and any signaling NaN
// signals invalid; infinity times zero is invalid unless ra is a quiet
// NaN.

func (s *State) fused(op *Op, rm roundingMode, flush bool) Result {
	a, b := s.operands(op.sf, op.r1, op.r2, flush)
	c := s.read(op.sf, op.ra)
	if flush {
		c = flushOperand(op.sf, c)
	}
	v, exc := fusedMulAdd(op.sf, op.kind == kindMpyNFAdd, a, b, c, rm, flush)
	if s.raise(exc) {
		return Trap
	}
	s.write(op.df, op.t, v)
	return Done
}

// fusedMulAdd returns ±(a*b) + c in format f (single or double), the
// product negated when negate is set.
func fusedMulAdd(f format, negate bool, a, b, c uint64, rm roundingMode, flush bool) (uint64, uint32) {
	if v, exc, isNaN := fusedNaN(f, a, b, c); isNaN {
		return v, exc
	}
	x, y, z := value(f, a), value(f, b), value(f, c)
	if negate {
		x = -x
	}
	prodNeg := math.Signbit(x) != math.Signbit(y)
	switch {
	case math.IsInf(x, 0) && y == 0, math.IsInf(y, 0) && x == 0:
		return defaultNaN(f), excInvalid
	case math.IsInf(x, 0) || math.IsInf(y, 0):
		if math.IsInf(z, 0) && math.Signbit(z) != prodNeg {
			return defaultNaN(f), excInvalid
		}
		return bitsOf(f, math.Copysign(math.Inf(1), signOf(prodNeg))), 0
	case math.IsInf(z, 0):
		return c, 0
	}
	prod := new(big.Float).SetPrec(2*53).Mul(big.NewFloat(x), big.NewFloat(y))
	sum := new(big.Float).SetPrec(fusedPrec).Add(prod, big.NewFloat(z))
	if sum.Sign() == 0 {
		return bitsOf(f, zeroSum(math.Copysign(0, signOf(prodNeg)), z, rm)), 0
	}
	if flush && new(big.Float).Abs(sum).Cmp(minNormal(f)) < 0 {
		return signedZero(f, sum.Signbit()), 0
	}
	return roundTo(sum, f, rm)
}

// fusedPrec holds any sum of a product of two doubles and a double
// exactly: the exponents of its terms lie between -2148 and 2048.
const fusedPrec = 4400

// fusedNaN picks the result of a fused operation with a NaN operand.
func fusedNaN(f format, a, b, c uint64) (uint64, uint32, bool) {
	var exc uint32
	for _, v := range [3]uint64{a, b, c} {
		if isSNaN(f, v) {
			exc = excInvalid
		}
	}
	for _, v := range [3]uint64{a, b, c} {
		if isNaN(f, v) {
			return silence(f, v), exc, true
		}
	}
	return 0, 0, false
}

func isNaN(f format, v uint64) bool {
	if f == fmtSingle {
		return isNaN32(uint32(v))
	}
	return isNaN64(v)
}

func isSNaN(f format, v uint64) bool {
	if f == fmtSingle {
		return isSNaN32(uint32(v))
	}
	return isSNaN64(v)
}

// silence quiets a signaling NaN and leaves a quiet one alone.
func silence(f format, v uint64) uint64 {
	switch {
	case f == fmtSingle && isSNaN32(uint32(v)):
		return uint64(silence32(uint32(v)))
	case f == fmtDouble && isSNaN64(v):
		return silence64(v)
	}
	return v
}

func defaultNaN(f format) uint64 {
	if f == fmtSingle {
		return defaultNaN32
	}
	return defaultNaN64
}

// value reads a single or double operand as a float64 (exactly).
func value(f format, v uint64) float64 {
	if f == fmtSingle {
		return float64(f32(uint32(v)))
	}
	return f64(v)
}

// bitsOf encodes x, exactly representable in format f.
func bitsOf(f format, x float64) uint64 {
	if f == fmtSingle {
		return uint64(math.Float32bits(float32(x)))
	}
	return math.Float64bits(x)
}

func signOf(negative bool) float64 {
	if negative {
		return -1
	}
	return 1
}

// minNormal is the smallest normal magnitude of format f.
func minNormal(f format) *big.Float {
	return new(big.Float).SetMantExp(big.NewFloat(1), layout(f).emin)
}
