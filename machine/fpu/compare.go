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
func (s *State) compare(op *Op) bool {
	a, b := s.read(op.sf, op.r1), s.read(op.sf, op.r2)
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
		st = st&^(1<<(caShift-uint32(op.y-1))) | c<<(caShift-uint32(op.y-1))
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
	st := s.status()
	if op.y != 1 {
		cbit := uint32(op.y^1) - 1
		return st>>(caShift-cbit)&1 != 0
	}
	var mask uint32
	reject := false
	switch op.cond {
	case 0:
		return st&statusC != 0
	case 2:
		reject = true
		fallthrough
	case 1:
		mask = statusC | statusCQ
	case 6:
		reject = true
		fallthrough
	case 5:
		mask = statusC | 0x7f<<15
	case 9:
		mask = statusC | 0x1f<<17
	case 13:
		mask = statusC | 0x7<<19
	case 17:
		mask = statusC | statusCQ0
	default:
		return false
	}
	if reject {
		return st|mask == mask
	}
	return st&mask == 0
}
