package machine

// Branches. Targets keep the privilege level in their low two bits;
// direct branches inherit it, indirect ones can lower it but never raise
// it.

// indirect returns target with a privilege level no higher than pl, the
// current one.
func indirect(target, pl uint32) uint32 {
	if target&3 < pl {
		return target&^3 | pl
	}
	return target
}

// branch is the form of the branch instructions. It runs with the queue
// already advanced: slot is the address of the delay slot (IAOQFront) and
// next that of the instruction after it (IAOQBack), which is also the
// return address a branch-and-link saves. It returns where the queue goes
// after the delay slot (next, or the target of a taken branch) and whether
// the delay slot is nullified. The current privilege level is slot&3.
type branch func(c *CPU, in *inst, slot, next uint32) (uint32, bool)

// branchHandler adapts a branch to the handler form.
func branchHandler(b branch) handler {
	return func(c *CPU, in *inst) bool {
		c.IAOQBack, c.nullify = b(c, in, c.IAOQFront, c.IAOQBack)
		return false
	}
}

// branchIf takes a conditional branch to in.imm and applies the ,n rule:
// a taken forward branch and an untaken backward branch nullify the delay
// slot.
func branchIf(in *inst, taken bool, slot, next uint32) (uint32, bool) {
	if taken {
		return in.imm | slot&3, in.fl&flNullifyTaken != 0
	}
	return next, in.fl&flNullifyUntaken != 0
}

func (c *CPU) bl(in *inst, slot, next uint32) (uint32, bool) {
	c.GR[in.t&31] = next
	return in.imm | slot&3, in.fl&flNullify != 0
}

// gate is b,gate: a branch that would raise the privilege level on a
// gateway page. User pages are never gateways, so it only records the
// current level in the low bits of GR[t].
func (c *CPU) gate(in *inst, slot, next uint32) (uint32, bool) {
	c.GR[in.t&31] = c.GR[in.t&31]&^3 | slot&3
	return in.imm | slot&3, in.fl&flNullify != 0
}

// blr branches to the instruction 8 bytes after the blr plus GR[x]*8.
func (c *CPU) blr(in *inst, slot, next uint32) (uint32, bool) {
	target := (in.imm | slot&3) + c.GR[in.r2&31]<<3
	c.GR[in.t&31] = next
	return target, in.fl&flNullify != 0
}

func (c *CPU) bv(in *inst, slot, next uint32) (uint32, bool) {
	return indirect(c.GR[in.r1&31]+c.GR[in.r2&31]<<3, slot&3), in.fl&flNullify != 0
}

// bve is bve, and bve,l linking to GR[t] = r2 (for bve, t is r0, which
// the loop clears again): an indirect branch to GR[b].
func (c *CPU) bve(in *inst, slot, next uint32) (uint32, bool) {
	target := indirect(c.GR[in.r1&31], slot&3)
	c.GR[in.t&31] = next
	return target, in.fl&flNullify != 0
}

// be is be and be,l (ble). Space registers have no effect on the flat
// address space; be,l links to r31.
func (c *CPU) be(in *inst, slot, next uint32) (uint32, bool) {
	target := indirect(c.GR[in.r1&31]+in.imm, slot&3)
	c.GR[in.t&31] = next
	return target, in.fl&flNullify != 0
}

func (c *CPU) cmpb(in *inst, slot, next uint32) (uint32, bool) {
	return branchIf(in, holds(in.cf, subOutcome(c.GR[in.r1&31], c.GR[in.r2&31])), slot, next)
}

func (c *CPU) cmpib(in *inst, slot, next uint32) (uint32, bool) {
	return branchIf(in, holds(in.cf, subOutcome(in.im5(), c.GR[in.r2&31])), slot, next)
}

func (c *CPU) addb(in *inst, slot, next uint32) (uint32, bool) {
	return branchIf(in, holds(in.cf, addOutcome(c.addTo(in, c.GR[in.r1&31]))), slot, next)
}

func (c *CPU) addib(in *inst, slot, next uint32) (uint32, bool) {
	return branchIf(in, holds(in.cf, addOutcome(c.addTo(in, in.im5()))), slot, next)
}

// addTo adds a to GR[r2] for add-and-branch, and returns the operands.
// The PSW carry bits are left alone.
func (c *CPU) addTo(in *inst, a uint32) (uint32, uint32) {
	b := c.GR[in.r2&31]
	c.GR[in.r2&31] = a + b
	return a, b
}

func (c *CPU) movb(in *inst, slot, next uint32) (uint32, bool) {
	return branchIf(in, sedCond(in.cf, c.moveTo(in, c.GR[in.r1&31])), slot, next)
}

func (c *CPU) movib(in *inst, slot, next uint32) (uint32, bool) {
	return branchIf(in, sedCond(in.cf, c.moveTo(in, in.im5())), slot, next)
}

// moveTo sets GR[r2] to v for move-and-branch and returns it.
func (c *CPU) moveTo(in *inst, v uint32) uint32 {
	c.GR[in.r2&31] = v
	return v
}

// bb branches on bit in.pos (counted from the least significant end) of
// GR[r1]: when it is 1 for bb,< (cf 0), when it is 0 for bb,>=.
func (c *CPU) bb(in *inst, slot, next uint32) (uint32, bool) {
	set := c.GR[in.r1&31]>>(in.pos&31)&1 != 0
	return branchIf(in, set != (in.cf != 0), slot, next)
}

// bvb is bb with the bit number (from the most significant end) in SAR.
func (c *CPU) bvb(in *inst, slot, next uint32) (uint32, bool) {
	set := c.GR[in.r1&31]<<(c.CR[crSAR]&31)>>31 != 0
	return branchIf(in, set != (in.cf != 0), slot, next)
}
