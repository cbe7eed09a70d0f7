package machine

import "github.com/synodvm/synod/machine/fpu"

// Floating-point loads and stores, and the hook for the coprocessor's
// arithmetic. fldw/fstw name a single-precision half: register numbers 32
// and up (the instruction's extra bit) are the right halves.

// decodeFPMem decodes fldw/fstw (opcode 0x09) and fldd/fstd (0x0B), in
// their indexed and short-displacement forms.
func decodeFPMem(in *inst, w uint32) {
	double := w>>26 == 0x0B
	if field(w, 7, 2) != 0 || double && w>>6&1 != 0 {
		return // another coprocessor's unit identifier
	}
	scale := uint8(2)
	if double {
		scale = 3
	}
	decodeAccess(in, w, scale)
	in.t = reg(w, 0) | uint8(w>>6&1)<<5
	store := w>>9&1 != 0
	switch {
	case double && store:
		in.op = opFstd
	case double:
		in.op = opFldd
	case store:
		in.op = opFstw
	default:
		in.op = opFldw
	}
}

// fpWord returns single-precision register r (0-63: left halves, then
// right halves).
func (c *CPU) fpWord(r uint8) uint32 {
	if r&32 != 0 {
		return uint32(c.FP.R[r&31])
	}
	return uint32(c.FP.R[r&31] >> 32)
}

func (c *CPU) setFPWord(r uint8, v uint32) {
	d := &c.FP.R[r&31]
	if r&32 != 0 {
		*d = *d&^0xffffffff | uint64(v)
	} else {
		*d = *d&0xffffffff | uint64(v)<<32
	}
}

func execFldw(c *CPU, in *inst) bool {
	addr, base := c.address(in)
	v, ok := c.Mem.read32(addr)
	if !ok {
		slow, ok := c.readSlow(addr, 4)
		if !ok {
			return true
		}
		v = uint32(slow)
	}
	c.GR[in.r1&31] = base
	c.setFPWord(in.t, v)
	return false
}

func execFstw(c *CPU, in *inst) bool {
	addr, base := c.address(in)
	b := in.r1 & 31
	if v := c.fpWord(in.t); !c.Mem.write32(addr, v) && !c.writeSlow(addr, 4, uint64(v)) {
		return true
	}
	c.GR[b] = base
	return false
}

func execFldd(c *CPU, in *inst) bool {
	addr, base := c.address(in)
	v, ok := c.Mem.read64(addr)
	if !ok {
		if v, ok = c.readSlow(addr, 8); !ok {
			return true
		}
	}
	c.GR[in.r1&31] = base
	c.FP.R[in.t&31] = v
	return false
}

func execFstd(c *CPU, in *inst) bool {
	addr, base := c.address(in)
	b := in.r1 & 31
	if v := c.FP.R[in.t&31]; !c.Mem.write64(addr, v) && !c.writeSlow(addr, 8, v) {
		return true
	}
	c.GR[b] = base
	return false
}

// decodeFPOp decodes the coprocessor's arithmetic, comparison and
// conversion instructions (opcodes 0x06, 0x0C, 0x0E, 0x26, and 0x2E from
// PA-RISC 2.0) with package fpu; words it does not know stay illegal.
func decodeFPOp(in *inst, w uint32) {
	if op, ok := fpu.Decode(w); ok {
		in.fp, in.op = op, opFP
	}
}

// execFP runs a coprocessor operation. An enabled IEEE exception stops
// the CPU (SIGFPE) with the operation not retired.
func execFP(c *CPU, in *inst) bool {
	switch c.FP.Exec(&in.fp) {
	case fpu.NullifyNext:
		c.nullify = true
	case fpu.Trap:
		c.stop = Stop{Reason: StopFPE}
		return true
	}
	return false
}
