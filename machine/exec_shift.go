package machine

// Shift, extract and deposit. Positions in the instruction and in SAR
// count bits from the most significant end (bit 0 is the sign); the
// decoder converts fixed positions to shift counts.
//
// Each instruction is a function of this form computing the result; the
// condition and the target are the same for all of them (setSed).
type shiftOp func(c *CPU, in *inst) uint32

// shiftHandler adapts a shiftOp to the handler form.
func shiftHandler(f shiftOp) handler {
	return func(c *CPU, in *inst) bool {
		c.nullify = c.setSed(in, f(c, in))
		return false
	}
}

// setSed writes a shift/extract/deposit result and reports whether it
// nullifies the next instruction.
func (c *CPU) setSed(in *inst, res uint32) bool {
	c.GR[in.t&31] = res
	return in.cf != 0 && sedCond(in.cf, res)
}

// shiftPair returns the low word of the 64-bit GR[r1]:GR[r2] shifted right.
func (c *CPU) shiftPair(in *inst, sa uint32) uint32 {
	return uint32((uint64(c.GR[in.r1&31])<<32 | uint64(c.GR[in.r2&31])) >> (sa & 31))
}

// shd is shrpw with a fixed amount (in.aux).
func (c *CPU) shd(in *inst) uint32 { return c.shiftPair(in, uint32(in.aux)) }

// vshd is shrpw by SAR.
func (c *CPU) vshd(in *inst) uint32 { return c.shiftPair(in, c.CR[crSAR]) }

// extru extracts an unsigned field: shift it to the top (in.pos), then
// down to the bottom (in.aux).
func (c *CPU) extru(in *inst) uint32 { return c.GR[in.r1&31] << (in.pos & 31) >> (in.aux & 31) }

func (c *CPU) extrs(in *inst) uint32 {
	return uint32(int32(c.GR[in.r1&31]<<(in.pos&31)) >> (in.aux & 31))
}

// vextru extracts the in.aux-bit field whose rightmost bit is bit SAR.
func (c *CPU) vextru(in *inst) uint32 {
	v := c.GR[in.r1&31] >> (31 - c.CR[crSAR]&31)
	return v & (^uint32(0) >> (32 - in.aux))
}

func (c *CPU) vextrs(in *inst) uint32 {
	v := uint32(int32(c.GR[in.r1&31]) >> (31 - c.CR[crSAR]&31))
	sh := 32 - uint32(in.aux)
	return uint32(int32(v<<sh) >> sh)
}

// deposit puts the low in.aux bits of v at shift (from the least
// significant end) into GR[t], over zeros or, with flKeep, over GR[t].
func (c *CPU) deposit(in *inst, v, shift uint32) uint32 {
	mask := ^uint32(0) >> (32 - uint32(in.aux)) << shift
	res := v << shift & mask
	if in.fl&flKeep != 0 {
		res |= c.GR[in.t&31] &^ mask
	}
	return res
}

// dep is dep/zdep (depw, depw,z) at the fixed position in.pos.
func (c *CPU) dep(in *inst) uint32 { return c.deposit(in, c.GR[in.r1&31], uint32(in.pos)) }

func (c *CPU) depi(in *inst) uint32 { return c.deposit(in, in.imm, uint32(in.pos)) }

// vdep deposits with the field's rightmost bit at bit SAR.
func (c *CPU) vdep(in *inst) uint32 {
	return c.deposit(in, c.GR[in.r1&31], 31-c.CR[crSAR]&31)
}

func (c *CPU) vdepi(in *inst) uint32 { return c.deposit(in, in.imm, 31-c.CR[crSAR]&31) }
