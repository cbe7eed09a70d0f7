package fpu

import "math"

// PA-RISC marks a signaling NaN with the most significant fraction bit set
// (the opposite of x86 and of Go's NaN), and invalid operations produce a
// NaN of its own. These rules match QEMU's hppa target, the reference the
// project compares against.

const (
	defaultNaN64 = 0x7ff4000000000000
	defaultNaN32 = 0x7fa00000

	snanBit64  = 1 << 51
	quietBit64 = 1 << 50
	snanBit32  = 1 << 22
	quietBit32 = 1 << 21
)

func isNaN64(b uint64) bool {
	return b&0x7ff0000000000000 == 0x7ff0000000000000 && b&0xfffffffffffff != 0
}
func isNaN32(b uint32) bool { return b&0x7f800000 == 0x7f800000 && b&0x7fffff != 0 }

func isSNaN64(b uint64) bool { return isNaN64(b) && b&snanBit64 != 0 }
func isSNaN32(b uint32) bool { return isNaN32(b) && b&snanBit32 != 0 }

// silence turns a signaling NaN into the quiet NaN the hardware returns.
func silence64(b uint64) uint64 { return b&^snanBit64 | quietBit64 }
func silence32(b uint32) uint32 { return b&^snanBit32 | quietBit32 }

// pickNaN64 chooses the NaN result of an operation with a NaN operand: a
// signaling NaN wins (first operand first) and is silenced, else the
// first NaN operand passes through. It also reports invalid for SNaNs.
func pickNaN64(a, b uint64) (uint64, uint32) {
	switch {
	case isSNaN64(a):
		return silence64(a), excInvalid
	case isSNaN64(b):
		return silence64(b), excInvalid
	case isNaN64(a):
		return a, 0
	}
	return b, 0
}

func pickNaN32(a, b uint32) (uint32, uint32) {
	switch {
	case isSNaN32(a):
		return silence32(a), excInvalid
	case isSNaN32(b):
		return silence32(b), excInvalid
	case isNaN32(a):
		return a, 0
	}
	return b, 0
}

// widenNaN converts a single NaN to double, keeping its payload.
func widenNaN(b uint32) (uint64, uint32) {
	d := uint64(b>>31)<<63 | 0x7ff0000000000000 | uint64(b&0x7fffff)<<29
	if isSNaN32(b) {
		return silence64(d), excInvalid
	}
	return d, 0
}

// narrowNaN converts a double NaN to single, truncating its payload. A
// quiet NaN whose payload truncates to nothing comes out as infinity in
// QEMU; we do the same so results compare equal.
func narrowNaN(b uint64) (uint32, uint32) {
	f := uint32(b>>63)<<31 | 0x7f800000 | uint32(b>>29)&0x7fffff
	if isSNaN64(b) {
		return silence32(f), excInvalid
	}
	return f, 0
}

func f64(b uint64) float64 { return math.Float64frombits(b) }
func f32(b uint32) float32 { return math.Float32frombits(b) }
