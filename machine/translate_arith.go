//go:build linux && amd64

package machine

import "github.com/synodvm/synod/machine/jit"

// The arithmetic and logical forms with a condition, a trap or a carry
// in. A trap exits before the instruction, having changed nothing, and
// the interpreter executes it (and traps).

// arith emits add, addi, sub and subi with any completer (see CPU.add and
// CPU.sub), but shNadd with a condition or an overflow trap, which
// translatable leaves out: the host's flags after the addition or
// subtraction are the guest's outcome.
func (b *blockBuilder) arith(in *inst, i int, back nextSpec) opResult {
	a := b.a
	sub := in.op == opSub || in.op == opSubi
	b.loadOperands(in) // EAX and ECX
	if in.op == opAdd && in.aux&3 != 0 {
		a.ShiftImm32(jit.SHL, jit.RAX, in.aux&3)
	}
	a.Mov32(jit.RDX, jit.RAX)
	switch {
	case in.fl&flCarryIn != 0 && sub:
		// CF = the borrow, 1 - the carry out: a - b - borrow is a + ^b + carry.
		a.Load32(jit.R8, jit.At(rState, stCarryOut))
		a.ALUImm32(jit.CMP, jit.R8, 1)
		a.ALU32(jit.SBB, jit.RDX, jit.RCX)
	case in.fl&flCarryIn != 0:
		a.Load32(jit.R8, jit.At(rState, stCarryOut))
		a.ALUImm32(jit.ADD, jit.R8, ^uint32(0)) // CF = the carry out
		a.ALU32(jit.ADC, jit.RDX, jit.RCX)
	case sub:
		a.ALU32(jit.SUB, jit.RDX, jit.RCX)
	default:
		a.ALU32(jit.ADD, jit.RDX, jit.RCX)
	}
	carry := jit.CondB // an addition's CF is its carry out
	if sub {
		carry = jit.CondAE // a subtraction's is its borrow
	}
	a.Setcc(carry, jit.R10) // before the conditions change the flags
	var trap jit.Label
	if in.fl&(flTrapOverflow|flTrapCond) != 0 {
		trap = b.exit(i, back, nullClear, exitStep)
	}
	if in.fl&flTrapOverflow != 0 {
		a.Jcc(jit.CondO, trap)
	}
	cond := fixedCondition(false)
	switch {
	case in.cf == 0:
	case sub:
		cond = b.subFlagsCondition(in.cf, jit.RDX)
	default:
		cond = b.addCond(in.cf, jit.RDX)
	}
	if in.fl&flTrapCond != 0 {
		if cond.known && cond.value {
			a.Jmp(trap)
		} else if !cond.known {
			a.Jcc(cond.cc, trap)
		}
		cond = fixedCondition(false)
	}
	result := b.nullifyIf(cond) // before the carries change the flags
	if in.fl&flLogical == 0 {
		if sub {
			a.Not32(jit.RCX)
		}
		a.Movzx8(jit.R8, jit.R10)
		b.storeCarryBits()
	}
	b.storeGR(in.t, jit.RDX)
	return result
}

// logicCondition emits and, andcm, or and xor with a condition (see
// execLogicCond).
func (b *blockBuilder) logicCondition(in *inst) opResult {
	a := b.a
	b.loadGR(jit.RAX, in.r1)
	b.loadGR(jit.RCX, in.r2)
	switch in.aux {
	case 0x00:
		a.Not32(jit.RCX)
		a.ALU32(jit.AND, jit.RAX, jit.RCX)
	case 0x08:
		a.ALU32(jit.AND, jit.RAX, jit.RCX)
	case 0x09:
		a.ALU32(jit.OR, jit.RAX, jit.RCX)
	default:
		a.ALU32(jit.XOR, jit.RAX, jit.RCX)
	}
	b.storeGR(in.t, jit.RAX)
	negate := in.cf&1 != 0
	switch in.cf >> 1 {
	case 1:
		a.Test32(jit.RAX, jit.RAX)
		return b.nullifyIf(flagCondition(jit.CondE, negate))
	case 2:
		a.Test32(jit.RAX, jit.RAX)
		return b.nullifyIf(flagCondition(jit.CondS, negate))
	case 3: // TEST clears OF: LE is ZF or SF
		a.Test32(jit.RAX, jit.RAX)
		return b.nullifyIf(flagCondition(jit.CondLE, negate))
	case 7:
		a.TestImm32(jit.RAX, 1)
		return b.nullifyIf(flagCondition(jit.CondNE, negate))
	}
	// The carry and overflow tests read as false.
	return b.nullifyIf(fixedCondition(negate))
}
