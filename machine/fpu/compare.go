package fpu

// Relations of a comparison, as bit positions in FCMP's condition: the
// condition is true when its bit for the actual relation is set.
const (
	relUnordered = 1
	relEqual     = 2
	relLess      = 3
	relGreater   = 4
)

// compare executes FCMP: it records the condition in the C bit (pushing
// the old C onto the compare queue) or, for a targeted compare, in
// CA[y-1]. Condition bit 0 asks for a signaling comparison, invalid on
// any NaN; otherwise only signaling NaNs are invalid. It reports a trap.
func (s *State) compare(op *Op, flush bool) bool {
	a, b := s.operands(op.sf, op.r1, op.r2, flush)
	x, xNaN := decodeFloat(op.sf, a)
	y, yNaN := decodeFloat(op.sf, b)
	var rel uint8
	var exc uint32
	switch {
	case xNaN || yNaN:
		rel = relUnordered
		snan := op.sf == fmtSingle && (isSNaN32(uint32(a)) || isSNaN32(uint32(b))) ||
			op.sf == fmtDouble && (isSNaN64(a) || isSNaN64(b))
		if op.cond&1 == 1 || snan {
			exc = excInvalid
		}
	case x < y:
		rel = relLess
	case x > y:
		rel = relGreater
	default:
		rel = relEqual
	}
	if s.raise(exc) {
		return true
	}
	c := uint32(op.cond>>rel) & 1
	st := s.status()
	if op.y != 0 {
		bit := CompareTargetBit(op.y)
		st = st&^bit | c*bit
	} else {
		st = st&^statusCQ | st>>1&statusCQ
		if st&statusC != 0 {
			st |= statusCQ0
		} else {
			st &^= statusCQ0
		}
		st = st&^statusC | c<<26
	}
	s.setStatus(st)
	return false
}

// test executes FTEST: true means the next instruction is nullified.
// The plain form tests C; the "acc"/"rej" forms test C together with part
// of the compare queue (all true, or any false); the targeted forms test
// one CA bit.
func (s *State) test(op *Op) bool {
	mask, whenZero := testMask(op)
	return (s.status()&mask == 0) == whenZero
}

// testMask gives the status bits FTEST examines: it is true when they
// are all clear (whenZero) or when one is set.
func testMask(op *Op) (mask uint32, whenZero bool) {
	switch {
	case op.y != 1:
		return CompareTargetBit(op.y ^ 1), false
	case op.cond == 0:
		return statusC, false
	}
	mask, reject, _ := queueTest(op.cond)
	if reject {
		return ^mask, true
	}
	return mask, true
}

// queueTest gives the status bits an acc or rej form of FTEST (its c
// field) examines. ok is false for a c that names no form: QEMU treats
// those as illegal instructions.
func queueTest(c uint8) (mask uint32, reject, ok bool) {
	switch c {
	case 1:
		return statusC | statusCQ, false, true
	case 2:
		return statusC | statusCQ, true, true
	case 5:
		return statusC | 0x7f<<15, false, true
	case 6:
		return statusC | 0x7f<<15, true, true
	case 9:
		return statusC | 0x1f<<17, false, true
	case 13:
		return statusC | 0x7<<19, false, true
	case 17:
		return statusC | statusCQ0, false, true
	}
	return 0, false, false
}
