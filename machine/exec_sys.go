package machine

// System instructions: what user code may do with space and control
// registers, and the instructions that stop the CPU.

func execIllegal(c *CPU, in *inst) bool {
	c.stop = Stop{Reason: StopIllegal}
	return true
}

func execPrivileged(c *CPU, in *inst) bool {
	c.stop = Stop{Reason: StopPrivileged}
	return true
}

// execPrivilegedRegister is a move to or from a space or control register
// user code may not touch: a trap of its own (privileged register).
func execPrivilegedRegister(c *CPU, in *inst) bool {
	c.stop = Stop{Reason: StopPrivilegedRegister}
	return true
}

func execBreak(c *CPU, in *inst) bool {
	c.stop = Stop{Reason: StopBreak}
	return true
}

func execNop(c *CPU, in *inst) bool { return false }

func execMfsp(c *CPU, in *inst) bool {
	c.GR[in.t&31] = c.SR[in.r1&7]
	return false
}

func execMtsp(c *CPU, in *inst) bool {
	c.SR[in.t&7] = c.GR[in.r1&31]
	return false
}

// execLdsid loads the space identifier of an address: the address space
// is flat, so it is always 0 (as in qemu-hppa).
func execLdsid(c *CPU, in *inst) bool {
	c.GR[in.t&31] = 0
	return false
}

func execMfsar(c *CPU, in *inst) bool {
	c.GR[in.t&31] = c.CR[crSAR] & 31
	return false
}

func execMtsar(c *CPU, in *inst) bool {
	c.CR[crSAR] = c.GR[in.r1&31] & 31
	return false
}

// execMfia reads the address of the mfia itself (PA-RISC 2.0), without
// the privilege level. (QEMU 7.2 leaves the privilege bits in, so GCC's
// PA-RISC 2.0 trampolines for nested functions crash under qemu-hppa;
// later QEMU clears them too.)
func execMfia(c *CPU, in *inst) bool {
	c.GR[in.t&31] = in.imm
	return false
}

// execMtsarcm sets SAR to the complement of GR[r] (PA-RISC 2.0), which
// turns a left shift amount into the right one for shrpw.
func execMtsarcm(c *CPU, in *inst) bool {
	c.CR[crSAR] = ^c.GR[in.r1&31] & 31
	return false
}

// execMfIntervalTimer reads cr16. Its value is the count of instructions
// retired, so that guest timing loops are deterministic.
func execMfIntervalTimer(c *CPU, in *inst) bool {
	c.GR[in.t&31] = uint32(c.Instructions)
	return false
}

// execMfctl reads cr26 or cr27 (the thread pointer).
func execMfctl(c *CPU, in *inst) bool {
	c.GR[in.t&31] = c.CR[in.r1&31]
	return false
}
