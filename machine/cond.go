package machine

// Conditions. Arithmetic, logical and unit conditions are encoded as cf =
// c<<1 | f: c selects the test, f negates it. Shift, extract, deposit and
// move-and-branch use a compressed 3-bit form (sedCond).

// needsOverflow reports whether arithmetic condition cf looks at signed
// overflow (<, <=, SV), so handlers compute it only then.
func needsOverflow(cf uint8) bool {
	c := cf >> 1
	return c == 2 || c == 3 || c == 6
}

// An outcome is what the arithmetic conditions can see of an addition or
// subtraction, one bit per test. Each condition is the union of some of
// these tests, so evaluating one is a table lookup and a mask, without
// branches: guest branches are as unpredictable to the host as the data
// they test.
const (
	outZero     = 1 << iota // the result is zero
	outLess                 // the result is negative, or positive with signed overflow (N xor V)
	outNoCarry              // no carry out of bit 31; for a subtraction a-b, a borrow: a < b unsigned
	outOverflow             // signed overflow
	outOdd                  // the result is odd
)

// condTests holds, for each 3-bit c, the tests condition c is the union
// of: never, =, <, <=, NUV (or << after a subtraction), ZNV (<<=), SV, OD.
var condTests = [8]uint32{0, outZero, outLess, outLess | outZero, outNoCarry, outNoCarry | outZero, outOverflow, outOdd}

// holds evaluates arithmetic condition cf = c<<1|f, where f negates c, for
// an outcome.
func holds(cf uint8, outcome uint32) bool {
	return outcome&condTests[cf>>1&7] != 0 != (cf&1 != 0)
}

// sumOutcome is the outcome of an addition (or a subtraction with borrow)
// giving res, where carry is the carry out and overflow the signed
// overflow.
func sumOutcome(res uint32, carry, overflow bool) uint32 {
	return b2u(res == 0) | b2u(int32(res) < 0 != overflow)<<1 | b2u(!carry)<<2 | b2u(overflow)<<3 | res&1<<4
}

// addOutcome is the outcome of a+b, as sumOutcome would give it, in fewer
// operations (few enough for runInline to have it inlined): the sum is
// done in 64 bits, unsigned for the carry and signed for the sign the
// result should have.
func addOutcome(a, b uint32) uint32 {
	s := uint64(a) + uint64(b)
	exact := uint64(int64(int32(a)) + int64(int32(b)))
	res := uint32(s)
	return b2u(res == 0) | uint32(exact>>63<<1|(s>>32^1)<<2|(uint64(res>>31)^exact>>63)<<3|s&1<<4)
}

// subOutcome is the outcome of the subtraction a-b (compare and clear,
// compare and branch, sub).
func subOutcome(a, b uint32) uint32 {
	d := a - b
	return b2u(d == 0) | b2u(int32(a) < int32(b))<<1 | b2u(a < b)<<2 | (a^b)&(a^d)>>31<<3 | d&1<<4
}

// addOverflow reports signed overflow of a+b(+carry) = res.
func addOverflow(a, b, res uint32) bool { return int32((res^a)&^(a^b)) < 0 }

// subOverflow reports signed overflow of a-b(-borrow) = res.
func subOverflow(a, b, res uint32) bool { return int32((res^a)&(a^b)) < 0 }

// logicCond evaluates condition cf on the result of a logical operation.
// The carry and overflow tests read as false there.
func logicCond(cf uint8, res uint32) bool {
	var r bool
	switch cf >> 1 {
	case 1: // =
		r = res == 0
	case 2: // <
		r = int32(res) < 0
	case 3: // <=
		r = int32(res) <= 0
	case 7: // OD
		r = res&1 != 0
	}
	return r != (cf&1 != 0)
}

// sedCond evaluates the 3-bit condition of shift, extract, deposit and
// move-and-branch: never, =, <, OD, and their negations.
func sedCond(c uint8, res uint32) bool {
	var r bool
	switch c & 3 {
	case 1:
		r = res == 0
	case 2:
		r = int32(res) < 0
	case 3:
		r = res&1 != 0
	}
	return r != (c&4 != 0)
}

// unitCond evaluates unit condition cf (uxor, uaddcm, dcor) on res, where
// carries holds in bit i the carry out of bit i of the operation.
func unitCond(cf uint8, res, carries uint32) bool {
	var r bool
	switch cf >> 1 {
	case 2: // SBZ: some byte zero
		r = (res-0x01010101)&^res&0x80808080 != 0
	case 3: // SHZ: some halfword zero
		r = (res-0x00010001)&^res&0x80008000 != 0
	case 4: // SDC: some digit carry
		r = carries&0x88888888 != 0
	case 6: // SBC: some byte carry
		r = carries&0x80808080 != 0
	case 7: // SHC: some halfword carry
		r = carries&0x80008000 != 0
	}
	return r != (cf&1 != 0)
}

// carriesOf returns, in bit i, the carry out of bit i of the 33-bit sum s
// of a and b (b already complemented for a subtraction).
func carriesOf(a, b uint32, s uint64) uint32 {
	return uint32((uint64(a) ^ uint64(b) ^ s) >> 1)
}
