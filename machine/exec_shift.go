package machine

// Shift, extract and deposit. Positions in the instruction and in SAR
// count bits from the most significant end (bit 0 is the sign); the
// decoder converts fixed positions to shift counts.

// shiftPair returns the low word of the 64-bit GR[r1]:GR[r2] shifted right.
func (c *CPU) shiftPair(in *inst, sa uint32) uint32 {
	return uint32((uint64(c.GR[in.r1&31])<<32 | uint64(c.GR[in.r2&31])) >> (sa & 31))
}

// setSed writes a shift/extract/deposit result and its nullification.
func (c *CPU) setSed(in *inst, res uint32) bool {
	c.GR[in.t&31] = res
	c.nullify = in.cf != 0 && sedCond(in.cf, res)
	return false
}

// execShd is shrpw with a fixed amount (in.aux).
func execShd(c *CPU, in *inst) bool { return c.setSed(in, c.shiftPair(in, uint32(in.aux))) }

// execVshd is shrpw by SAR.
func execVshd(c *CPU, in *inst) bool { return c.setSed(in, c.shiftPair(in, c.CR[crSAR])) }

// execExtru extracts an unsigned field: shift it to the top (in.pos),
// then down to the bottom (in.aux).
func execExtru(c *CPU, in *inst) bool {
	return c.setSed(in, c.GR[in.r1&31]<<(in.pos&31)>>(in.aux&31))
}

func execExtrs(c *CPU, in *inst) bool {
	return c.setSed(in, uint32(int32(c.GR[in.r1&31]<<(in.pos&31))>>(in.aux&31)))
}

// execVextru extracts the in.aux-bit field whose rightmost bit is bit SAR.
func execVextru(c *CPU, in *inst) bool {
	v := c.GR[in.r1&31] >> (31 - c.CR[crSAR]&31)
	return c.setSed(in, v&(^uint32(0)>>(32-in.aux)))
}

func execVextrs(c *CPU, in *inst) bool {
	v := uint32(int32(c.GR[in.r1&31]) >> (31 - c.CR[crSAR]&31))
	sh := 32 - uint32(in.aux)
	return c.setSed(in, uint32(int32(v<<sh)>>sh))
}

// deposit puts the low in.aux bits of v at shift (from the least
// significant end) into GR[t], over zeros or, with flKeep, over GR[t].
func (c *CPU) deposit(in *inst, v, shift uint32) bool {
	mask := ^uint32(0) >> (32 - uint32(in.aux)) << shift
	res := v << shift & mask
	if in.fl&flKeep != 0 {
		res |= c.GR[in.t&31] &^ mask
	}
	return c.setSed(in, res)
}

// execDep is dep/zdep (depw, depw,z) at the fixed position in.pos.
func execDep(c *CPU, in *inst) bool { return c.deposit(in, c.GR[in.r1&31], uint32(in.pos)) }

func execDepi(c *CPU, in *inst) bool { return c.deposit(in, in.imm, uint32(in.pos)) }

// execVdep deposits with the field's rightmost bit at bit SAR.
func execVdep(c *CPU, in *inst) bool {
	return c.deposit(in, c.GR[in.r1&31], 31-c.CR[crSAR]&31)
}

func execVdepi(c *CPU, in *inst) bool { return c.deposit(in, in.imm, 31-c.CR[crSAR]&31) }
