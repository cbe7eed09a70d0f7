package fpu

// Reading register 0 as an operand gives zero (compilers use it to load
// 0.0); writing it writes the status register.

func (s *State) read32(sel uint8) uint32 {
	if sel == 0 {
		return 0
	}
	if sel&32 != 0 {
		return uint32(s.R[sel&31])
	}
	return uint32(s.R[sel&31] >> 32)
}

func (s *State) write32(sel uint8, v uint32) {
	r := &s.R[sel&31]
	if sel&32 != 0 {
		*r = *r&^0xffffffff | uint64(v)
	} else {
		*r = *r&0xffffffff | uint64(v)<<32
	}
}

func (s *State) read64(sel uint8) uint64 {
	if sel == 0 {
		return 0
	}
	return s.R[sel&31]
}

func (s *State) write64(sel uint8, v uint64) { s.R[sel&31] = v }

// read returns an operand in its format, widened to 64 bits.
func (s *State) read(f format, sel uint8) uint64 {
	if f.wide() {
		return s.read64(sel)
	}
	return uint64(s.read32(sel))
}

func (s *State) write(f format, sel uint8, v uint64) {
	if f.wide() {
		s.write64(sel, v)
	} else {
		s.write32(sel, uint32(v))
	}
}

// Exec executes op with PA-RISC semantics.
func (s *State) Exec(op *Op) Result {
	switch op.kind {
	case kindIdentify:
		return Done
	case kindCopy, kindAbs, kindNeg, kindNegAbs:
		s.write(op.df, op.t, signOp(op.kind, op.sf, s.read(op.sf, op.r1)))
		return Done
	case kindXmpyu:
		s.write64(op.t, uint64(s.read32(op.r1))*uint64(s.read32(op.r2)))
		return Done
	case kindTest:
		if s.test(op) {
			return NullifyNext
		}
		return Done
	}
	// QEMU 7.2 rewrites fr0 from the status word alone for every operation
	// that can signal (all but those above), so exception register 1, the
	// lower half of fr0, reads as zero afterwards.
	st := s.status()
	s.R[0] = uint64(st) << 32
	rm, flush := roundingMode(st>>rmShift&3), st&statusD != 0
	switch op.kind {
	case kindCompare:
		if s.compare(op, flush) {
			return Trap
		}
		return Done
	case kindMpyAdd, kindMpySub:
		return s.multiple(op, rm, flush)
	case kindMpyFAdd, kindMpyNFAdd:
		return s.fused(op, rm, flush)
	}
	// s.operands, by hand: it is too large to inline on this hot path.
	a, b := s.read(op.sf, op.r1), s.read(op.sf, op.r2)
	if flush {
		a, b = flushOperand(op.sf, a), flushOperand(op.sf, b)
	}
	var v uint64
	var exc uint32
	switch op.kind {
	case kindSqrt, kindRound, kindConvert:
		v, exc = unary(op, a, rm)
	default:
		v, exc = binary(op.kind, op.sf, a, b, rm)
	}
	if flush {
		v, exc = flushResult(op.kind, op.df, a, b, v, exc)
	}
	if s.raise(exc) {
		return Trap
	}
	s.write(op.df, op.t, v)
	return Done
}

// signOp implements the operations that only move the sign bit; they
// never signal, even on signaling NaNs.
func signOp(k kind, f format, v uint64) uint64 {
	sign := uint64(1) << 63
	if f == fmtSingle {
		sign = 1 << 31
	}
	switch k {
	case kindAbs:
		return v &^ sign
	case kindNeg:
		return v ^ sign
	case kindNegAbs:
		return v | sign
	}
	return v
}

// multiple executes FMPYADD/FMPYSUB: a multiply and an independent add or
// subtract, both from the original register values.
func (s *State) multiple(op *Op, rm roundingMode, flush bool) Result {
	addKind := kindAdd
	if op.kind == kindMpySub {
		addKind = kindSub
	}
	m1, m2 := s.operands(op.sf, op.r1, op.r2, flush)
	a1, a2 := s.operands(op.sf, op.ta, op.ra, flush)
	prod, exc1 := binary(kindMul, op.sf, m1, m2, rm)
	sum, exc2 := binary(addKind, op.sf, a1, a2, rm)
	if flush {
		prod, exc1 = flushResult(kindMul, op.df, m1, m2, prod, exc1)
		sum, exc2 = flushResult(addKind, op.df, a1, a2, sum, exc2)
	}
	if s.raise(exc1 | exc2) {
		return Trap
	}
	s.write(op.df, op.t, prod)
	s.write(op.df, op.ta, sum)
	return Done
}
