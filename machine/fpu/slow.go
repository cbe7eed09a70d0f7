package fpu

import (
	"math"
	"math/big"
)

// The exact slow path: compute the exact result (or, for division and
// square root, an approximation with spare bits that rounds to the same
// value as the exact one in every mode), then round it once to the
// destination format with IEEE semantics: subnormals, overflow to infinity
// or the largest finite number by mode, underflow (tiny after rounding,
// and inexact) and inexact.

type ieee struct {
	mant       int // significand bits, hidden bit included
	emin, emax int // exponent range of normal numbers
}

var (
	ieeeSingle = ieee{24, -126, 127}
	ieeeDouble = ieee{53, -1022, 1023}
)

func layout(f format) ieee {
	if f == fmtSingle {
		return ieeeSingle
	}
	return ieeeDouble
}

func bigMode(rm roundingMode) big.RoundingMode {
	return [...]big.RoundingMode{big.ToNearestEven, big.ToZero, big.ToPositiveInf, big.ToNegativeInf}[rm]
}

// exactPrec holds any sum of two doubles exactly: their exponents differ by
// at most 2098, plus the significand.
const exactPrec = 2200

func slowBinary(k kind, f format, x, y float64, rm roundingMode) (uint64, uint32) {
	bx, by := big.NewFloat(x), big.NewFloat(y)
	z := new(big.Float)
	switch k {
	case kindAdd, kindSub: // y is already negated for a subtraction
		z.SetPrec(exactPrec).Add(bx, by)
	case kindMul:
		z.SetPrec(128).Mul(bx, by)
	default:
		p := spare(f)
		z.SetPrec(p).Quo(bx, by)
		nudge(z, p, z.Acc())
	}
	return roundTo(z, f, rm)
}

func slowSqrt(f format, x float64, rm roundingMode) (uint64, uint32) {
	bx := big.NewFloat(x)
	p := spare(f)
	z := new(big.Float).SetPrec(p).Sqrt(bx)
	square := new(big.Float).SetPrec(2*p+2).Mul(z, z)
	acc := big.Exact // z is below the exact root if its square is below x
	switch square.Cmp(bx) {
	case -1:
		acc = big.Below
	case 1:
		acc = big.Above
	}
	nudge(z, p, acc)
	return roundTo(z, f, rm)
}

// spare is the working precision of division and square root: more than
// two bits beyond the format's, so no rounding boundary of the format lies
// strictly between two neighbours at this precision.
func spare(f format) uint { return uint(layout(f).mant + 8) }

// nudge moves an inexact z (computed with p bits) a quarter of its last
// place towards the exact value, whose side acc gives: z then lies in the
// same gap between p-bit neighbours as the exact value, so both round the
// same way to the format in every mode.
func nudge(z *big.Float, p uint, acc big.Accuracy) {
	if acc == big.Exact {
		return
	}
	quarter := new(big.Float).SetMantExp(big.NewFloat(0.5), z.MantExp(nil)-int(p)-1)
	if acc == big.Above {
		quarter.Neg(quarter)
	}
	z.SetPrec(p+4).Add(z, quarter)
}

// roundTo rounds an exact value to format f.
func roundTo(z *big.Float, f format, rm roundingMode) (uint64, uint32) {
	l := layout(f)
	neg := z.Signbit()
	if z.Sign() == 0 {
		return signedZero(f, neg), 0
	}
	e := z.MantExp(nil) - 1 // z = m * 2^e with 1 <= |m| < 2
	prec := l.mant
	if e < l.emin {
		prec -= l.emin - e
	}
	if prec < 1 {
		return belowSubnormals(z, f, l, rm, neg)
	}
	r := new(big.Float).SetPrec(uint(prec)).SetMode(bigMode(rm)).Set(z)
	var exc uint32
	if r.Acc() != big.Exact {
		exc = excInexact
	}
	if r.MantExp(nil)-1 > l.emax {
		return overflow(f, rm, neg), excOverflow | excInexact
	}
	v, _ := r.Float64()
	if exc != 0 && tinyAfterRounding(z, l, rm) {
		exc |= excUnderflow
	}
	if f == fmtSingle {
		return uint64(math.Float32bits(float32(v))), exc
	}
	return math.Float64bits(v), exc
}

// tinyAfterRounding reports whether z, rounded to the format's precision
// as if the exponent range were unbounded, is below the smallest normal
// number: the tininess rule QEMU (and so this package) uses.
func tinyAfterRounding(z *big.Float, l ieee, rm roundingMode) bool {
	r := new(big.Float).SetPrec(uint(l.mant)).SetMode(bigMode(rm)).Set(z)
	return r.MantExp(nil)-1 < l.emin
}

// belowSubnormals rounds a value smaller than the smallest subnormal's
// last place: the result is zero or the smallest subnormal.
func belowSubnormals(z *big.Float, f format, l ieee, rm roundingMode, neg bool) (uint64, uint32) {
	minSub := new(big.Float).SetMantExp(big.NewFloat(1), l.emin-l.mant+1)
	half := new(big.Float).SetMantExp(big.NewFloat(1), l.emin-l.mant)
	abs := new(big.Float).Abs(z)
	var up bool
	switch rm {
	case roundNearest:
		up = abs.Cmp(half) > 0
	case roundUp:
		up = !neg
	case roundDown:
		up = neg
	}
	exc := uint32(excInexact | excUnderflow)
	if !up {
		return signedZero(f, neg), exc
	}
	v, _ := minSub.Float64()
	if neg {
		v = -v
	}
	if f == fmtSingle {
		return uint64(math.Float32bits(float32(v))), exc
	}
	return math.Float64bits(v), exc
}

func signedZero(f format, neg bool) uint64 {
	if !neg {
		return 0
	}
	if f == fmtSingle {
		return 1 << 31
	}
	return 1 << 63
}

// overflow is the result of an overflow: infinity when rounding away from
// zero, else the largest finite number.
func overflow(f format, rm roundingMode, neg bool) uint64 {
	toInf := rm == roundNearest || rm == roundUp && !neg || rm == roundDown && neg
	if f == fmtSingle {
		v := float32(math.MaxFloat32)
		if toInf {
			v = float32(math.Inf(1))
		}
		if neg {
			v = -v
		}
		return uint64(math.Float32bits(v))
	}
	v := math.MaxFloat64
	if toInf {
		v = math.Inf(1)
	}
	if neg {
		v = -v
	}
	return math.Float64bits(v)
}
