package fpu

import (
	"math"
	"math/big"
)

// The D bit of the status register asks for denormalized numbers to be
// treated as zero. QEMU 7.2 implements it as softfloat's flush to zero:
// a denormalized operand of an operation that can signal reads as a zero
// of its sign, and a result whose exact value lies strictly between zero
// and the smallest normal number becomes a zero of its sign, with no
// underflow or inexact flag. The sign operations and xmpyu are unaffected.

const (
	minNormal64 = 0x0010000000000000
	minNormal32 = 0x00800000
)

// operands reads the two source operands of an operation that can signal.
func (s *State) operands(f format, r1, r2 uint8, flush bool) (uint64, uint64) {
	a, b := s.read(f, r1), s.read(f, r2)
	if flush {
		return flushOperand(f, a), flushOperand(f, b)
	}
	return a, b
}

// flushOperand reads a denormalized operand as a zero of its sign.
func flushOperand(f format, v uint64) uint64 {
	switch {
	case f == fmtSingle && v&0x7f800000 == 0:
		return v & (1 << 31)
	case f == fmtDouble && v&0x7ff0000000000000 == 0:
		return v & (1 << 63)
	}
	return v
}

// flushResult applies flush to zero to the result v of operation k in
// format f from operands a and b (for a conversion, a is the source).
// Only addition, subtraction, multiplication, division and narrowing
// can produce a value below the normal range from normal operands (a
// square root or integral rounding of them cannot, nor a conversion
// from an integer).
func flushResult(k kind, f format, a, b, v uint64, exc uint32) (uint64, uint32) {
	switch k {
	case kindAdd, kindSub, kindMul, kindDiv, kindConvert:
	default:
		return v, exc
	}
	sign, minNormal := uint64(1)<<63, uint64(minNormal64)
	if f == fmtSingle {
		sign, minNormal = 1<<31, minNormal32
	} else if f != fmtDouble {
		return v, exc
	}
	mag := v &^ sign
	if mag > minNormal || mag == minNormal && !belowNormal(k, f, a, b) {
		return v, exc // including infinities and NaNs, which are larger
	}
	return v & sign, exc &^ (excUnderflow | excInexact)
}

// belowNormal reports whether the exact result of an operation that
// rounded to the smallest normal magnitude was below it. A sum below the
// normal range is always exact, so only products, quotients and narrowed
// doubles can have been rounded up to it.
func belowNormal(k kind, f format, a, b uint64) bool {
	if k == kindConvert {
		return math.Abs(f64(a)) < 0x1p-126
	}
	if f == fmtSingle { // float64 holds products and scaled operands exactly
		x, y := math.Abs(float64(f32(uint32(a)))), math.Abs(float64(f32(uint32(b))))
		switch k {
		case kindMul:
			return x*y < 0x1p-126
		case kindDiv:
			return x < y*0x1p-126
		}
		return false
	}
	x, y := new(big.Float).Abs(big.NewFloat(f64(a))), new(big.Float).Abs(big.NewFloat(f64(b)))
	limit := new(big.Float).SetMantExp(big.NewFloat(1), -1022)
	switch k {
	case kindMul:
		return new(big.Float).SetPrec(2*53).Mul(x, y).Cmp(limit) < 0
	case kindDiv:
		return x.Cmp(limit.SetMantExp(y, -1022)) < 0
	}
	return false
}
