package fpu

import (
	"math"
	"math/big"
)

// unary executes the one-operand operations: square root, round to
// integral (frnd) and the conversions between formats.
func unary(op *Op, v uint64, rm roundingMode) (uint64, uint32) {
	switch op.kind {
	case kindSqrt:
		return sqrt(op.sf, v, rm)
	case kindRound:
		return roundToIntegral(op.sf, v, rm)
	}
	switch {
	case op.sf.float() && op.df.float():
		return convertFloat(op.sf, op.df, v, rm)
	case op.df.float():
		return fromInteger(op.sf, op.df, v, rm)
	}
	if op.cond == 1 { // the truncating forms
		rm = roundZero
	}
	return toInteger(op.sf, op.df, v, rm)
}

// decodeFloat returns the operand as a float64 (exact for both formats), or
// its NaN bits widened to double.
func decodeFloat(f format, v uint64) (x float64, nan bool) {
	if f == fmtSingle {
		b := uint32(v)
		return float64(f32(b)), isNaN32(b)
	}
	return f64(v), isNaN64(v)
}

func encodeFloat(f format, x float64) uint64 {
	if f == fmtSingle {
		return uint64(math.Float32bits(float32(x)))
	}
	return math.Float64bits(x)
}

func quietSelf(f format, v uint64) (uint64, uint32) {
	if f == fmtSingle {
		r, exc := pickNaN32(uint32(v), uint32(v))
		return uint64(r), exc
	}
	return pickNaN64(v, v)
}

func sqrt(f format, v uint64, rm roundingMode) (uint64, uint32) {
	x, nan := decodeFloat(f, v)
	switch {
	case nan:
		return quietSelf(f, v)
	case x == 0 || math.IsInf(x, 1):
		return v, 0
	case x < 0:
		if f == fmtSingle {
			return defaultNaN32, excInvalid
		}
		return defaultNaN64, excInvalid
	}
	if f == fmtSingle {
		r := float32(math.Sqrt(x))
		if float64(r)*float64(r) == x {
			return uint64(math.Float32bits(r)), 0
		}
		if rm == roundNearest {
			return uint64(math.Float32bits(r)), excInexact
		}
		return slowSqrt(f, x, rm)
	}
	if x < tiny {
		return slowSqrt(f, x, rm)
	}
	r := math.Sqrt(x)
	return finish64(r, sign(math.FMA(-r, r, x)), rm)
}

func roundToIntegral(f format, v uint64, rm roundingMode) (uint64, uint32) {
	x, nan := decodeFloat(f, v)
	if nan {
		return quietSelf(f, v)
	}
	r := roundIntegral(x, rm)
	if r == x {
		return v, 0
	}
	return encodeFloat(f, r), excInexact
}

func convertFloat(sf, df format, v uint64, rm roundingMode) (uint64, uint32) {
	if sf == df {
		return v, 0
	}
	if sf == fmtSingle { // widening is exact
		if isNaN32(uint32(v)) {
			return widenNaN(uint32(v))
		}
		return math.Float64bits(float64(f32(uint32(v)))), 0
	}
	if isNaN64(v) {
		r, exc := narrowNaN(v)
		return uint64(r), exc
	}
	x := f64(v)
	r := float32(x)
	switch {
	case float64(r) == x:
		return uint64(math.Float32bits(r)), 0
	case rm == roundNearest && !math.IsInf(float64(r), 0) && math.Abs(float64(r)) > 0x1p-126: // see binary32
		return uint64(math.Float32bits(r)), excInexact
	}
	return roundTo(big.NewFloat(x), fmtSingle, rm)
}

func fromInteger(sf, df format, v uint64, rm roundingMode) (uint64, uint32) {
	n, neg := integerValue(sf, v)
	// Integers of up to 53 bits, 32-bit ones among them, are exact
	// doubles: then only a single-precision result may need rounding.
	if n <= 1<<53 {
		x := float64(n)
		if neg {
			x = -x
		}
		if df == fmtDouble || float64(float32(x)) == x {
			return encodeFloat(df, x), 0
		}
	}
	z := new(big.Float).SetPrec(64).SetUint64(n)
	if neg {
		z.Neg(z)
	}
	return roundTo(z, df, rm)
}

// integerValue reads v in integer format f as a magnitude and a sign.
func integerValue(f format, v uint64) (n uint64, neg bool) {
	var i int64
	switch f {
	case fmtUWord:
		return uint64(uint32(v)), false
	case fmtUDword:
		return v, false
	case fmtWord:
		i = int64(int32(v))
	default:
		i = int64(v)
	}
	if i < 0 {
		return uint64(-i), true
	}
	return uint64(i), false
}

// toInteger converts to an integer format. NaN and out-of-range values
// signal invalid and saturate (NaN to the largest value), as QEMU's
// softfloat does for hppa.
func toInteger(sf, df format, v uint64, rm roundingMode) (uint64, uint32) {
	x, nan := decodeFloat(sf, v)
	lo, hi, bitsMask := intRange(df)
	if nan {
		return hi, excInvalid
	}
	r := roundIntegral(x, rm)
	switch {
	case r < lo:
		if df == fmtUWord || df == fmtUDword {
			return 0, excInvalid
		}
		return uint64(int64(lo)) & bitsMask, excInvalid
	case r > hiFloat(df):
		return hi, excInvalid
	}
	var out uint64
	if r < 0 {
		out = uint64(int64(r)) & bitsMask
	} else {
		out = uint64(r)
	}
	if r != x {
		return out, excInexact
	}
	return out, 0
}

// intRange returns the smallest value (as a float), the saturated largest
// value's bits and the width mask of an integer format.
func intRange(f format) (lo float64, hi uint64, mask uint64) {
	switch f {
	case fmtWord:
		return math.MinInt32, math.MaxInt32, 0xffffffff
	case fmtDword:
		return math.MinInt64, math.MaxInt64, ^uint64(0)
	case fmtUWord:
		return 0, math.MaxUint32, 0xffffffff
	}
	return 0, math.MaxUint64, ^uint64(0)
}

// hiFloat is the largest integral float64 that fits the format.
func hiFloat(f format) float64 {
	switch f {
	case fmtWord:
		return math.MaxInt32
	case fmtDword:
		return 0x1p63 - 1024
	case fmtUWord:
		return math.MaxUint32
	}
	return 0x1p64 - 2048
}
