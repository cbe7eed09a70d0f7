package fpu

func field(w uint32, lsb, n uint) uint32 { return w >> lsb & (1<<n - 1) }

// Decode decodes a floating-point operation: major opcode 0x0C (double
// registers or left halves), 0x0E (either half of a register, and XMPYU),
// 0x06 (FMPYADD), 0x26 (FMPYSUB) and PA-RISC 2.0's 0x2E (FMPYFADD and
// FMPYNFADD, which qemu-hppa also executes). It reports false for any word
// that is not an implemented floating-point operation; it never panics.
func Decode(w uint32) (Op, bool) {
	switch w >> 26 {
	case 0x0c:
		return decode0C(w)
	case 0x0e:
		return decode0E(w)
	case 0x06, 0x26:
		return decodeMultiple(w)
	case 0x2e:
		return decodeFused(w), true
	}
	return Op{}, false
}

// floatFormat maps a 2-bit format field: 0 single, 1 double; quad (3)
// was never implemented by PA-RISC 1.1 hardware.
func floatFormat(f uint32) (format, bool) {
	switch f {
	case 0:
		return fmtSingle, true
	case 1:
		return fmtDouble, true
	}
	return 0, false
}

var class0Kinds = [8]kind{0, 0, kindCopy, kindAbs, kindSqrt, kindRound, kindNeg, kindNegAbs}
var class3Kinds = [8]kind{kindAdd, kindSub, kindMul, kindDiv}

// convertFormats gives the integer side of a conversion sub-op: which
// side is an integer, its signedness, and whether rounding truncates.
func convertFormats(sub uint32, srcWide, dstWide bool) (sf, df format, trunc, ok bool) {
	float := func(wide bool) format {
		if wide {
			return fmtDouble
		}
		return fmtSingle
	}
	integer := func(wide, unsigned bool) format {
		switch {
		case wide && unsigned:
			return fmtUDword
		case wide:
			return fmtDword
		case unsigned:
			return fmtUWord
		}
		return fmtWord
	}
	switch sub {
	case 0: // QEMU has no same-format FCNVFF: an illegal instruction
		return float(srcWide), float(dstWide), false, srcWide != dstWide
	case 1, 5:
		return integer(srcWide, sub == 5), float(dstWide), false, true
	case 2, 3, 6, 7:
		return float(srcWide), integer(dstWide, sub >= 6), sub&1 == 1, true
	}
	return 0, 0, false, false
}

// wordFid is FID, the coprocessor identify instruction. QEMU 7.2 zeroes
// the status word as fr0 reads but keeps using (and writes back) its own
// copy of it, which this package does not model; leaving the state alone
// matches QEMU for everything but a store of fr0 right after FID.
const wordFid = 0x30000000

func decode0C(w uint32) (Op, bool) {
	if w == wordFid {
		return Op{kind: kindIdentify}, true
	}
	r, r2, t := uint8(field(w, 21, 5)), uint8(field(w, 16, 5)), uint8(w&31)
	sub := field(w, 13, 3)
	switch field(w, 9, 2) {
	case 0:
		f, ok := floatFormat(field(w, 11, 2))
		if !ok || class0Kinds[sub] == kindInvalid || r2 != 0 || field(w, 5, 4) != 0 {
			return Op{}, false
		}
		return Op{kind: class0Kinds[sub], sf: f, df: f, r1: r, t: t}, true
	case 1:
		if field(w, 18, 3) != 0 || field(w, 5, 4) != 0 {
			return Op{}, false
		}
		sf2, df2 := field(w, 11, 2), field(w, 13, 2)
		if sf2 > 1 || df2 > 1 {
			return Op{}, false
		}
		sf, df, trunc, ok := convertFormats(field(w, 15, 3), sf2 == 1, df2 == 1)
		if !ok {
			return Op{}, false
		}
		op := Op{kind: kindConvert, sf: sf, df: df, r1: r, t: t}
		if trunc {
			op.cond = 1
		}
		return op, true
	case 2:
		if field(w, 6, 3) != 0 {
			return Op{}, false
		}
		if field(w, 5, 1) == 1 { // ftest
			if r != 0 || r2 != 0 || field(w, 11, 2) != 0 {
				return Op{}, false
			}
			// Of the queue tests (y=1), only the c values that name a form exist.
			if _, _, ok := queueTest(uint8(t)); sub == 1 && t != 0 && !ok {
				return Op{}, false
			}
			return Op{kind: kindTest, y: uint8(sub), cond: t}, true
		}
		f, ok := floatFormat(field(w, 11, 2))
		if !ok {
			return Op{}, false
		}
		return Op{kind: kindCompare, sf: f, df: f, r1: r, r2: r2, y: uint8(sub), cond: t}, true
	default:
		f, ok := floatFormat(field(w, 11, 2))
		if !ok || class3Kinds[sub] == kindInvalid || field(w, 5, 4) != 0 {
			return Op{}, false
		}
		return Op{kind: class3Kinds[sub], sf: f, df: f, r1: r, r2: r2, t: t}, true
	}
}

// half selectors of the 0x0E format: a register number and the bit that
// picks its right half.
func sel(reg uint32, right uint32) uint8 { return uint8(reg | right<<5) }

func decode0E(w uint32) (Op, bool) {
	rNum, r2Num, tNum := field(w, 21, 5), field(w, 16, 5), w&31
	sub := field(w, 13, 3)
	double := field(w, 11, 1) == 1
	f := fmtSingle
	if double {
		f = fmtDouble
	}
	// In single format the operands may be either half; bit 7 selects
	// r1's, bit 12 r2's and bit 6 t's right half.
	r1, r2, t := uint8(rNum), uint8(r2Num), uint8(tNum)
	if !double {
		r1, r2, t = sel(rNum, field(w, 7, 1)), sel(r2Num, field(w, 12, 1)), sel(tNum, field(w, 6, 1))
	}
	switch field(w, 9, 2) {
	case 0:
		if class0Kinds[sub] == kindInvalid || r2Num != 0 || field(w, 8, 1) != 0 || field(w, 12, 1) != 0 || field(w, 5, 1) != 0 ||
			double && field(w, 6, 2) != 0 {
			return Op{}, false
		}
		return Op{kind: class0Kinds[sub], sf: f, df: f, r1: r1, t: t}, true
	case 1:
		if field(w, 18, 3) != 0 || field(w, 14, 1) != 0 || field(w, 12, 1) != 0 || field(w, 8, 1) != 0 || field(w, 5, 1) != 0 {
			return Op{}, false
		}
		srcWide, dstWide := field(w, 11, 1) == 1, field(w, 13, 1) == 1
		sf, df, trunc, ok := convertFormats(field(w, 15, 3), srcWide, dstWide)
		if !ok {
			return Op{}, false
		}
		op := Op{kind: kindConvert, sf: sf, df: df, r1: uint8(rNum), t: uint8(tNum)}
		if !srcWide {
			op.r1 = sel(rNum, field(w, 7, 1))
		} else if field(w, 7, 1) != 0 {
			return Op{}, false
		}
		if !dstWide {
			op.t = sel(tNum, field(w, 6, 1))
		} else if field(w, 6, 1) != 0 {
			return Op{}, false
		}
		if trunc {
			op.cond = 1
		}
		return op, true
	case 2:
		if field(w, 8, 1) != 0 || field(w, 5, 2) != 0 || double && (field(w, 12, 1) != 0 || field(w, 7, 1) != 0) {
			return Op{}, false
		}
		return Op{kind: kindCompare, sf: f, df: f, r1: r1, r2: r2, y: uint8(sub), cond: uint8(tNum)}, true
	default:
		if field(w, 8, 1) == 1 { // xmpyu: fixed-point multiply of two words
			if sub != 2 || double || field(w, 5, 2) != 0 {
				return Op{}, false
			}
			return Op{kind: kindXmpyu, sf: fmtUWord, df: fmtUDword, r1: r1, r2: r2, t: uint8(tNum)}, true
		}
		if class3Kinds[sub] == kindInvalid || field(w, 5, 1) != 0 ||
			double && (field(w, 12, 1) != 0 || field(w, 6, 3) != 0) {
			return Op{}, false
		}
		return Op{kind: class3Kinds[sub], sf: f, df: f, r1: r1, r2: r2, t: t}, true
	}
}

// decodeFused decodes FMPYFADD and FMPYNFADD (bit 5). Bit 11 picks the
// format; in single format bits 7, 12, 8 and 6 pick the right halves of
// r1, r2, ra and t. The addend's register number is split: bits 13-15
// are its top three bits, bits 9-10 the rest.
func decodeFused(w uint32) Op {
	kind := kindMpyFAdd
	if field(w, 5, 1) == 1 {
		kind = kindMpyNFAdd
	}
	r1, r2, ra, t := field(w, 21, 5), field(w, 16, 5), field(w, 13, 3)<<2|field(w, 9, 2), w&31
	if field(w, 11, 1) == 1 {
		return Op{kind: kind, sf: fmtDouble, df: fmtDouble, r1: uint8(r1), r2: uint8(r2), ra: uint8(ra), t: uint8(t)}
	}
	return Op{kind: kind, sf: fmtSingle, df: fmtSingle, r1: sel(r1, field(w, 7, 1)), r2: sel(r2, field(w, 12, 1)),
		ra: sel(ra, field(w, 8, 1)), t: sel(t, field(w, 6, 1))}
}

// fmpyRegister maps the 5-bit single-precision register fields of the
// multiple-operation forms onto fr16..fr31, either half.
func fmpyRegister(r uint32) uint8 { return uint8(16+r&15) | uint8(r&16)<<1 }

func decodeMultiple(w uint32) (Op, bool) {
	kind := kindMpyAdd
	if w>>26 == 0x26 {
		kind = kindMpySub
	}
	rm1, rm2, ta, ra, tm := field(w, 21, 5), field(w, 16, 5), field(w, 11, 5), field(w, 6, 5), w&31
	// The format bit is 0 for double, as binutils encodes it and the
	// architecture defines it. (QEMU 7.2 reads it the other way round, so
	// qemu-hppa computes these two instructions wrongly.)
	if field(w, 5, 1) == 0 {
		return Op{kind: kind, sf: fmtDouble, df: fmtDouble, r1: uint8(rm1), r2: uint8(rm2), t: uint8(tm), ta: uint8(ta), ra: uint8(ra)}, true
	}
	return Op{kind: kind, sf: fmtSingle, df: fmtSingle, r1: fmpyRegister(rm1), r2: fmpyRegister(rm2), t: fmpyRegister(tm),
		ta: fmpyRegister(ta), ra: fmpyRegister(ra)}, true
}
