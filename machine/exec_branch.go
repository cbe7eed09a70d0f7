package machine

// Branches. When a handler runs, the loop has already advanced the queue:
// IAOQFront is the delay slot and IAOQBack the instruction after it, which
// is also the return address a branch-and-link saves. A taken branch
// replaces IAOQBack. Targets keep the privilege level in their low two
// bits; direct branches inherit it, indirect ones can lower it but never
// raise it.

// privilege returns the current privilege level (3 for user code).
func (c *CPU) privilege() uint32 { return c.IAOQFront & 3 }

// indirect returns target with a privilege level no higher than the
// current one.
func (c *CPU) indirect(target uint32) uint32 {
	if pl := c.privilege(); target&3 < pl {
		return target&^3 | pl
	}
	return target
}

// branchIf takes a conditional branch to in.imm and applies the ,n rule:
// a taken forward branch and an untaken backward branch nullify the delay
// slot.
func (c *CPU) branchIf(in *inst, taken bool) bool {
	if taken {
		c.IAOQBack = in.imm | c.privilege()
		c.nullify = in.fl&flNullifyTaken != 0
	} else {
		c.nullify = in.fl&flNullifyUntaken != 0
	}
	return false
}

func execBl(c *CPU, in *inst) bool {
	c.GR[in.t&31] = c.IAOQBack
	c.IAOQBack = in.imm | c.privilege()
	c.nullify = in.fl&flNullify != 0
	return false
}

// execGate is b,gate: a branch that would raise the privilege level on a
// gateway page. User pages are never gateways, so it only records the
// current level in the low bits of GR[t].
func execGate(c *CPU, in *inst) bool {
	c.GR[in.t&31] = c.GR[in.t&31]&^3 | c.privilege()
	c.IAOQBack = in.imm | c.privilege()
	c.nullify = in.fl&flNullify != 0
	return false
}

// execBlr branches to the instruction 8 bytes after the blr plus GR[x]*8.
func execBlr(c *CPU, in *inst) bool {
	target := (in.imm | c.privilege()) + c.GR[in.r2&31]<<3
	c.GR[in.t&31] = c.IAOQBack
	c.IAOQBack = target
	c.nullify = in.fl&flNullify != 0
	return false
}

func execBv(c *CPU, in *inst) bool {
	c.IAOQBack = c.indirect(c.GR[in.r1&31] + c.GR[in.r2&31]<<3)
	c.nullify = in.fl&flNullify != 0
	return false
}

// execBve is bve, and bve,l linking to GR[t] = r2 (for bve, t is r0,
// which the loop clears again): an indirect branch to GR[b].
func execBve(c *CPU, in *inst) bool {
	target := c.indirect(c.GR[in.r1&31])
	c.GR[in.t&31] = c.IAOQBack
	c.IAOQBack = target
	c.nullify = in.fl&flNullify != 0
	return false
}

// execBe is be and be,l (ble). Space registers have no effect on the flat
// address space; be,l links to r31.
func execBe(c *CPU, in *inst) bool {
	target := c.indirect(c.GR[in.r1&31] + in.imm)
	c.GR[in.t&31] = c.IAOQBack
	c.IAOQBack = target
	c.nullify = in.fl&flNullify != 0
	return false
}

func execCmpb(c *CPU, in *inst) bool {
	return c.branchIf(in, subCond(in.cf, c.GR[in.r1&31], c.GR[in.r2&31]))
}

func execCmpib(c *CPU, in *inst) bool {
	return c.branchIf(in, subCond(in.cf, in.im5(), c.GR[in.r2&31]))
}

func execAddb(c *CPU, in *inst) bool { return c.addBranch(in, c.GR[in.r1&31]) }

func execAddib(c *CPU, in *inst) bool { return c.addBranch(in, in.im5()) }

// addBranch adds a to GR[r2] and branches on the condition of the sum.
// The PSW carry bits are left alone.
func (c *CPU) addBranch(in *inst, a uint32) bool {
	b := c.GR[in.r2&31]
	s := uint64(a) + uint64(b)
	res := uint32(s)
	c.GR[in.r2&31] = res
	return c.branchIf(in, arithCond(in.cf, res, s>>32 != 0, addOverflow(a, b, res)))
}

func execMovb(c *CPU, in *inst) bool {
	v := c.GR[in.r1&31]
	c.GR[in.r2&31] = v
	return c.branchIf(in, sedCond(in.cf, v))
}

func execMovib(c *CPU, in *inst) bool {
	v := in.im5()
	c.GR[in.r2&31] = v
	return c.branchIf(in, sedCond(in.cf, v))
}

// execBb branches on bit in.pos (counted from the least significant
// end) of GR[r1]: when it is 1 for bb,< (cf 0), when it is 0 for bb,>=.
func execBb(c *CPU, in *inst) bool {
	set := c.GR[in.r1&31]>>(in.pos&31)&1 != 0
	return c.branchIf(in, set != (in.cf != 0))
}

// execBvb is bb with the bit number (from the most significant end) in SAR.
func execBvb(c *CPU, in *inst) bool {
	set := c.GR[in.r1&31]<<(c.CR[crSAR]&31)>>31 != 0
	return c.branchIf(in, set != (in.cf != 0))
}
