//go:build linux && amd64

package machine

import "github.com/synodvm/synod/machine/jit"

// The arithmetic and logical instructions without condition or trap.

// logic emits the two-register forms that leave the carry bits alone.
func (b *blockBuilder) logic(in *inst) {
	if in.t&31 == 0 {
		return
	}
	a := b.a
	b.loadGR(jit.RAX, in.r1)
	switch in.op {
	case opAddL, opOr, opXor:
		if in.r2&31 != 0 { // else a copy
			a.ALU32(logicALU(in.op), jit.RAX, b.sourceGR(jit.RCX, in.r2))
		}
	case opShAddL:
		a.ShiftImm32(jit.SHL, jit.RAX, in.aux&3)
		a.ALU32(jit.ADD, jit.RAX, b.sourceGR(jit.RCX, in.r2))
	case opAnd:
		a.ALU32(jit.AND, jit.RAX, b.sourceGR(jit.RCX, in.r2))
	default: // uaddcm, andcm: the complement of GR[r2]
		b.loadGR(jit.RCX, in.r2)
		a.Not32(jit.RCX)
		a.ALU32(logicALU(in.op), jit.RAX, jit.RCX)
	}
	b.storeGR(in.t, jit.RAX)
}

// logicALU is the host operation of a logic form.
func logicALU(op opcode) jit.ALU {
	switch op {
	case opAnd, opAndcm:
		return jit.AND
	case opOr:
		return jit.OR
	case opXor:
		return jit.XOR
	}
	return jit.ADD
}

// sum sets GR[t] to EAX + ECX (+ the carry out, with carryIn) and the
// carry bits to those of the sum, as setSum and execAddcFast do.
func (b *blockBuilder) sum(t uint8, carryIn bool) {
	a := b.a
	a.Mov32(jit.RDX, jit.RAX)
	if carryIn {
		// CF = carryOut (0 or 1): adding all ones carries unless it is 0.
		a.Load32(jit.R8, jit.At(rState, stCarryOut))
		a.ALUImm32(jit.ADD, jit.R8, ^uint32(0))
		a.ALU32(jit.ADC, jit.RDX, jit.RCX)
	} else {
		a.ALU32(jit.ADD, jit.RDX, jit.RCX)
	}
	b.storeCarries(jit.CondB)
	b.storeGR(t, jit.RDX)
}

// difference sets GR[t] to EAX - ECX and the carry bits to those of
// EAX + ^ECX + 1, as setDifference does.
func (b *blockBuilder) difference(t uint8) {
	a := b.a
	a.Mov32(jit.RDX, jit.RAX)
	a.ALU32(jit.SUB, jit.RDX, jit.RCX)
	a.Not32(jit.RCX)
	b.storeCarries(jit.CondAE) // no borrow is a carry
	b.storeGR(t, jit.RDX)
}

// storeCarries stores the carry bits of EDX = EAX + ECX (+ carry): the
// carry out from the flags (condition carry), the carries into each bit
// as EAX ^ ECX ^ EDX. It keeps EDX and ECX.
func (b *blockBuilder) storeCarries(carry jit.Cond) {
	b.a.Setcc(carry, jit.R8)
	b.a.Movzx8(jit.R8, jit.R8)
	b.storeCarryBits()
}

// storeCarryBits stores the carry out in R8 (0 or 1) and the carries into
// each bit of EDX = EAX + ECX (+ carry). It keeps EDX and ECX.
func (b *blockBuilder) storeCarryBits() {
	a := b.a
	a.Store32(jit.At(rState, stCarryOut), jit.R8)
	a.ALU32(jit.XOR, jit.RAX, jit.RCX)
	a.ALU32(jit.XOR, jit.RAX, jit.RDX)
	a.Store32(jit.At(rState, stCarryIn), jit.RAX)
}

// divideStep is ds without condition: see CPU.divideStep.
func (b *blockBuilder) divideStep(in *inst) {
	a := b.a
	b.loadGR(jit.RAX, in.r1)
	b.loadGR(jit.R10, in.r2)
	a.ShiftImm32(jit.SHL, jit.RAX, 1)
	a.ALUMem32(jit.OR, jit.RAX, jit.At(rState, stCarryOut)) // x
	a.Load32(jit.R9, jit.At(rState, stDivStep))             // v
	a.MovImm32(jit.RCX, 0)
	a.ALU32(jit.SUB, jit.RCX, jit.R9)
	a.ALU32(jit.XOR, jit.RCX, jit.R10) // y = r2 ^ -v
	a.ALUImm32(jit.ADD, jit.R9, ^uint32(0))
	a.Mov32(jit.RDX, jit.RAX)
	a.ALU32(jit.ADC, jit.RDX, jit.RCX) // x + y + v
	b.storeCarries(jit.CondB)
	a.ShiftImm32(jit.SHR, jit.R10, 31)
	a.ALU32(jit.XOR, jit.R10, jit.R8) // V: the carry out differs from r2's sign
	a.Store32(jit.At(rState, stDivStep), jit.R10)
	b.storeGR(in.t, jit.RDX)
}
