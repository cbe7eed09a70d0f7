package machine

// Arithmetic and logical instructions. Each family has a general handler
// that honours every completer, and the most frequent forms (no
// condition, no carry) have their own short handlers.

// trap stops the CPU for a conditional (overflow=false) or overflow trap.
func (c *CPU) trap(overflow bool) bool {
	c.stop = Stop{Reason: StopTrap, Overflow: overflow}
	return true
}

func execAddL(c *CPU, in *inst) bool {
	c.GR[in.t&31] = c.GR[in.r1&31] + c.GR[in.r2&31]
	return false
}

func execShAddL(c *CPU, in *inst) bool {
	c.GR[in.t&31] = c.GR[in.r1&31]<<(in.aux&3) + c.GR[in.r2&31]
	return false
}

// execAddFast is add without condition: the sum and the carry bits.
func execAddFast(c *CPU, in *inst) bool {
	c.setSum(in, c.GR[in.r1&31], c.GR[in.r2&31])
	return false
}

// setSum sets GR[t] to a+b and the carry bits to those of the sum: add
// and addi without condition or trap.
func (c *CPU) setSum(in *inst, a, b uint32) {
	s := uint64(a) + uint64(b)
	res := uint32(s)
	c.carryIn, c.carryOut = a^b^res, uint32(s>>32)
	c.GR[in.t&31] = res
}

// execAddcFast is add,c without condition.
func execAddcFast(c *CPU, in *inst) bool {
	a, b := c.GR[in.r1&31], c.GR[in.r2&31]
	s := uint64(a) + uint64(b) + uint64(c.carryOut)
	res := uint32(s)
	c.carryIn, c.carryOut = a^b^res, uint32(s>>32)
	c.GR[in.t&31] = res
	return false
}

func execAdd(c *CPU, in *inst) bool { return c.add(in, c.GR[in.r1&31], c.GR[in.r2&31]) }

func execAddi(c *CPU, in *inst) bool { return c.add(in, in.imm, c.GR[in.r1&31]) }

// add is the add family: (a << in.aux) + b, with carry in, carry/borrow
// update, overflow and conditional traps and nullification as in.fl and
// in.cf say.
func (c *CPU) add(in *inst, a, b uint32) bool {
	sh := in.aux & 3
	x := a << sh
	s := uint64(x) + uint64(b)
	if in.fl&flCarryIn != 0 {
		s += uint64(c.carryOut)
	}
	res := uint32(s)
	overflow := false
	if in.fl&flTrapOverflow != 0 || needsOverflow(in.cf) {
		// The shift overflows unless the bits shifted out and the new
		// sign bit all equal the old sign.
		top := int32(a) >> (31 - sh)
		overflow = addOverflow(x, b, res) || top != 0 && top != -1
		if overflow && in.fl&flTrapOverflow != 0 {
			return c.trap(true)
		}
	}
	cond := false
	if in.cf != 0 {
		carry := s>>32 != 0 || sh != 0 && a>>(32-sh) != 0
		cond = holds(in.cf, sumOutcome(res, carry, overflow))
		if in.fl&flTrapCond != 0 {
			if cond {
				return c.trap(false)
			}
			cond = false
		}
	}
	if in.fl&flLogical == 0 {
		c.carryIn, c.carryOut = x^b^res, uint32(s>>32)
	}
	c.GR[in.t&31] = res
	c.nullify = cond
	return false
}

// execSubFast is sub without condition or trap: it still sets the carry.
func execSubFast(c *CPU, in *inst) bool {
	c.setDifference(in, c.GR[in.r1&31], c.GR[in.r2&31])
	return false
}

// setDifference sets GR[t] to a-b and the carry bits to those of the
// difference: sub and subi without condition or trap.
func (c *CPU) setDifference(in *inst, a, b uint32) {
	res := a - b
	c.carryIn, c.carryOut = a^^b^res, b2u(a >= b)
	c.GR[in.t&31] = res
}

func execSub(c *CPU, in *inst) bool { return c.sub(in, c.GR[in.r1&31], c.GR[in.r2&31]) }

func execSubi(c *CPU, in *inst) bool { return c.sub(in, in.imm, c.GR[in.r1&31]) }

// sub is the sub family: a - b (- borrow), i.e. a + ^b + (carry or 1).
func (c *CPU) sub(in *inst, a, b uint32) bool {
	cin := uint64(1)
	if in.fl&flCarryIn != 0 {
		cin = uint64(c.carryOut)
	}
	s := uint64(a) + uint64(^b) + cin
	res := uint32(s)
	overflow := subOverflow(a, b, res)
	if overflow && in.fl&flTrapOverflow != 0 {
		return c.trap(true)
	}
	cond := false
	if in.cf != 0 {
		if in.fl&flCarryIn != 0 {
			cond = holds(in.cf, sumOutcome(res, s>>32 != 0, overflow))
		} else {
			cond = holds(in.cf, subOutcome(a, b))
		}
		if in.fl&flTrapCond != 0 {
			if cond {
				return c.trap(false)
			}
			cond = false
		}
	}
	c.carryIn, c.carryOut = a^^b^res, uint32(s>>32)
	c.GR[in.t&31] = res
	c.nullify = cond
	return false
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// execCmpclr is cmpclr (comclr): clear the target, nullify on the
// condition of GR[r1]-GR[r2].
func execCmpclr(c *CPU, in *inst) bool {
	c.nullify = c.clearIf(in, holds(in.cf, subOutcome(c.GR[in.r1&31], c.GR[in.r2&31])))
	return false
}

func execCmpiclr(c *CPU, in *inst) bool {
	c.nullify = c.clearIf(in, holds(in.cf, subOutcome(in.imm, c.GR[in.r1&31])))
	return false
}

// clearIf finishes compare and clear: GR[t] is cleared, and the next
// instruction is nullified when the condition holds.
func (c *CPU) clearIf(in *inst, cond bool) bool {
	c.GR[in.t&31] = 0
	return cond
}

// logicOp returns the operation of a logical instruction without condition.
func logicOp(ext uint32) opcode {
	switch ext {
	case 0x00:
		return opAndcm
	case 0x08:
		return opAnd
	case 0x09:
		return opOr
	}
	return opXor
}

func execAndcm(c *CPU, in *inst) bool {
	c.GR[in.t&31] = c.GR[in.r1&31] &^ c.GR[in.r2&31]
	return false
}

func execAnd(c *CPU, in *inst) bool {
	c.GR[in.t&31] = c.GR[in.r1&31] & c.GR[in.r2&31]
	return false
}

func execOr(c *CPU, in *inst) bool {
	c.GR[in.t&31] = c.GR[in.r1&31] | c.GR[in.r2&31]
	return false
}

func execXor(c *CPU, in *inst) bool {
	c.GR[in.t&31] = c.GR[in.r1&31] ^ c.GR[in.r2&31]
	return false
}

// execLogicCond is and, andcm, or, xor with a condition (in.aux holds the
// operation's ext6 code).
func execLogicCond(c *CPU, in *inst) bool {
	a, b := c.GR[in.r1&31], c.GR[in.r2&31]
	var res uint32
	switch in.aux {
	case 0x00:
		res = a &^ b
	case 0x08:
		res = a & b
	case 0x09:
		res = a | b
	default:
		res = a ^ b
	}
	c.GR[in.t&31] = res
	c.nullify = logicCond(in.cf, res)
	return false
}

func execUxor(c *CPU, in *inst) bool {
	res := c.GR[in.r1&31] ^ c.GR[in.r2&31]
	c.GR[in.t&31] = res
	c.nullify = unitCond(in.cf, res, 0) // the carry tests read as false

	return false
}

// execUaddcm is uaddcm (GR[r1] + ^GR[r2]) and uaddcm,tc.
func execUaddcm(c *CPU, in *inst) bool {
	a, b := c.GR[in.r1&31], ^c.GR[in.r2&31]
	return c.unitAdd(in, a, b, uint64(a)+uint64(b))
}

// execUaddcmFast is uaddcm without condition or trap; with r0 as the
// first operand, it is how compilers complement a register.
func execUaddcmFast(c *CPU, in *inst) bool {
	c.GR[in.t&31] = c.GR[in.r1&31] + ^c.GR[in.r2&31]
	return false
}

// unitAdd finishes a unit operation a+b = s: the unit condition, its
// trap for the ,tc form, the result.
func (c *CPU) unitAdd(in *inst, a, b uint32, s uint64) bool {
	res := uint32(s)
	cond := unitCond(in.cf, res, carriesOf(a, b, s))
	if in.fl&flTrapCond != 0 {
		if cond {
			return c.trap(false)
		}
		cond = false
	}
	c.GR[in.t&31] = res
	c.nullify = cond
	return false
}

// nibbleCarries returns 1 in the lowest bit of every nibble whose carry
// bit is set in the PSW.
func (c *CPU) nibbleCarries() uint32 { return c.carryIn>>4&0x01111111 | c.carryOut<<28 }

// execDcor is decimal correct: subtract 6 from every digit that did not
// carry in the preceding addition.
func execDcor(c *CPU, in *inst) bool {
	a, b := c.GR[in.r1&31], ^(^c.nibbleCarries() & 0x11111111 * 6)
	return c.unitAdd(in, a, b, uint64(a)+uint64(b)+1)
}

// execDcorI is intermediate decimal correct: add 6 to every digit that
// carried.
func execDcorI(c *CPU, in *inst) bool {
	a, b := c.GR[in.r1&31], c.nibbleCarries()*6
	return c.unitAdd(in, a, b, uint64(a)+uint64(b))
}

// execDs is the divide step: shift GR[r1] left one bit, bringing in the
// carry, then subtract GR[r2] when PSW[V] is set and add it when not. V
// becomes the carry out XOR the sign of GR[r2], which tells the next step
// whether the partial remainder went negative.
func execDs(c *CPU, in *inst) bool {
	r1, r2 := c.GR[in.r1&31], c.GR[in.r2&31]
	x, y, s := c.divideStep(r1, r2)
	res := uint32(s)
	cond := false
	if in.cf != 0 {
		overflow := addOverflow(x, y, res) || int32(r1^r1<<1) < 0
		cond = holds(in.cf, sumOutcome(res, s>>32 != 0 || r1>>31 != 0, overflow))
	}
	c.GR[in.t&31] = res
	c.nullify = cond
	return false
}

// divideStep is the arithmetic of ds: the sum s of the operands x and y
// it adds, with the carry bits and V updated.
func (c *CPU) divideStep(r1, r2 uint32) (x, y uint32, s uint64) {
	v := b2u(c.divStep)
	x, y = r1<<1|c.carryOut, r2^-v // -v: all ones when V is set
	s = uint64(x) + uint64(y) + uint64(v)
	c.carryIn, c.carryOut = x^y^uint32(s), uint32(s>>32)
	c.divStep = c.carryOut != r2>>31
	return x, y, s
}

func execLdo(c *CPU, in *inst) bool {
	c.GR[in.t&31] = c.GR[in.r1&31] + in.imm
	return false
}

func execLdil(c *CPU, in *inst) bool {
	c.GR[in.t&31] = in.imm
	return false
}

func execAddil(c *CPU, in *inst) bool {
	c.GR[1] = c.GR[in.r1&31] + in.imm
	return false
}
