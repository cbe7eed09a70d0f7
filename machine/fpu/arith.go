package fpu

import "math"

// Arithmetic takes a fast path on the host's IEEE double and single
// arithmetic (always round-to-nearest-even in Go) and derives the exact
// rounding error with error-free transformations, so the inexact flag and
// the directed rounding modes come out right. Whatever the fast path
// cannot decide exactly — overflow, results near or below the subnormal
// range, directed rounding of single-precision results — goes to the exact
// slow path in slow.go. Both paths give bit-identical results on every
// host: nothing depends on the host's floating-point environment.

// tiny is the magnitude below which an error term could itself underflow
// and stop being exact; results smaller than it take the slow path.
const tiny = 0x1p-968

func sign(x float64) int {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}

// twoSumErr is the exact error of r = fl(a + b): a + b = r + err.
func twoSumErr(a, b, r float64) float64 {
	bv := r - a
	av := r - bv
	return (a - av) + (b - bv)
}

func binary(k kind, f format, a, b uint64, rm roundingMode) (uint64, uint32) {
	if f == fmtSingle {
		r, exc := binary32(k, uint32(a), uint32(b), rm)
		return uint64(r), exc
	}
	return binary64(k, a, b, rm)
}

// finish64 applies the rounding mode to r = RN(exact) given the sign of
// exact - r, and reports inexact and overflow.
func finish64(r float64, errSign int, rm roundingMode) (uint64, uint32) {
	if errSign == 0 {
		return math.Float64bits(r), 0
	}
	switch {
	case rm == roundUp && errSign > 0:
		r = math.Nextafter(r, math.Inf(1))
	case rm == roundDown && errSign < 0:
		r = math.Nextafter(r, math.Inf(-1))
	case rm == roundZero && errSign != sign(r):
		r = math.Nextafter(r, 0)
	}
	exc := uint32(excInexact)
	if math.IsInf(r, 0) {
		exc |= excOverflow
	}
	return math.Float64bits(r), exc
}

// zeroSum is the sign of an exact zero sum: -0 only for (-0)+(-0), or in
// round-down mode for x + (-x).
func zeroSum(x, y float64, rm roundingMode) float64 {
	if math.Signbit(x) == math.Signbit(y) {
		return x
	}
	if rm == roundDown {
		return math.Copysign(0, -1)
	}
	return 0
}

func binary64(k kind, a, b uint64, rm roundingMode) (uint64, uint32) {
	if isNaN64(a) || isNaN64(b) {
		return pickNaN64(a, b)
	}
	x, y := f64(a), f64(b)
	if k == kindSub {
		y = -y
	}
	switch k {
	case kindAdd, kindSub:
		if math.IsInf(x, 0) && math.IsInf(y, 0) && x != y {
			return defaultNaN64, excInvalid
		}
		r := x + y
		switch {
		case math.IsInf(x, 0) || math.IsInf(y, 0):
			return math.Float64bits(r), 0
		case math.IsInf(r, 0):
			return slowBinary(k, fmtDouble, x, y, rm)
		case r == 0:
			return math.Float64bits(zeroSum(x, y, rm)), 0
		}
		return finish64(r, sign(twoSumErr(x, y, r)), rm)
	case kindMul:
		if math.IsInf(x, 0) && y == 0 || math.IsInf(y, 0) && x == 0 {
			return defaultNaN64, excInvalid
		}
		r := float64(x * y)
		switch {
		case math.IsInf(x, 0) || math.IsInf(y, 0) || x == 0 || y == 0:
			return math.Float64bits(r), 0
		case math.IsInf(r, 0) || math.Abs(r) < tiny:
			return slowBinary(k, fmtDouble, x, y, rm)
		}
		return finish64(r, sign(math.FMA(x, y, -r)), rm)
	default: // kindDiv
		switch {
		case x == 0 && y == 0, math.IsInf(x, 0) && math.IsInf(y, 0):
			return defaultNaN64, excInvalid
		case y == 0 && !math.IsInf(x, 0):
			return math.Float64bits(math.Copysign(math.Inf(1), x) * math.Copysign(1, y)), excDivZero
		}
		r := x / y
		switch {
		case math.IsInf(x, 0) || math.IsInf(y, 0) || x == 0:
			return math.Float64bits(r), 0
		case math.IsInf(r, 0) || math.Abs(r) < tiny || math.Abs(x) < tiny:
			return slowBinary(k, fmtDouble, x, y, rm)
		}
		return finish64(r, sign(math.FMA(-r, y, x))*sign(y), rm)
	}
}

func binary32(k kind, a, b uint32, rm roundingMode) (uint32, uint32) {
	if isNaN32(a) || isNaN32(b) {
		return pickNaN32(a, b)
	}
	x, y := f32(a), f32(b)
	if k == kindSub {
		y = -y
	}
	dx, dy := float64(x), float64(y)
	var r float32
	var inexact bool
	switch k {
	case kindAdd, kindSub:
		if math.IsInf(dx, 0) && math.IsInf(dy, 0) && x != y {
			return defaultNaN32, excInvalid
		}
		r = x + y
		switch {
		case math.IsInf(dx, 0) || math.IsInf(dy, 0):
			return math.Float32bits(r), 0
		case r == 0:
			return math.Float32bits(float32(zeroSum(dx, dy, rm))), 0
		}
		d := dx + dy
		inexact = float64(r) != d || twoSumErr(dx, dy, d) != 0
	case kindMul:
		if math.IsInf(dx, 0) && y == 0 || math.IsInf(dy, 0) && x == 0 {
			return defaultNaN32, excInvalid
		}
		r = float32(x * y)
		if math.IsInf(dx, 0) || math.IsInf(dy, 0) || x == 0 || y == 0 {
			return math.Float32bits(r), 0
		}
		inexact = float64(r) != dx*dy
	default: // kindDiv
		switch {
		case x == 0 && y == 0, math.IsInf(dx, 0) && math.IsInf(dy, 0):
			return defaultNaN32, excInvalid
		case y == 0 && !math.IsInf(dx, 0):
			return math.Float32bits(float32(math.Copysign(math.Inf(1), dx) * math.Copysign(1, dy))), excDivZero
		}
		r = x / y
		if math.IsInf(dx, 0) || math.IsInf(dy, 0) || x == 0 {
			return math.Float32bits(r), 0
		}
		inexact = math.FMA(float64(r), dy, -dx) != 0
	}
	if !inexact {
		return math.Float32bits(r), 0
	}
	// A result that rounded to the smallest normal magnitude may still be
	// tiny after rounding (underflow): the slow path decides.
	if rm != roundNearest || math.IsInf(float64(r), 0) || math.Abs(float64(r)) <= 0x1p-126 {
		bits, exc := slowBinary(k, fmtSingle, dx, dy, rm)
		return uint32(bits), exc
	}
	return math.Float32bits(r), excInexact
}

// roundIntegral rounds x to an integral value in the given mode.
func roundIntegral(x float64, rm roundingMode) float64 {
	switch rm {
	case roundZero:
		return math.Trunc(x)
	case roundUp:
		return math.Ceil(x)
	case roundDown:
		return math.Floor(x)
	}
	return math.RoundToEven(x)
}
