//go:build linux && amd64

package machine

import "github.com/synodvm/synod/machine/jit"

// shift emits shift, extract and deposit (see exec_shift.go): the result
// goes to GR[t] and its condition to the nullify bit.
func (b *blockBuilder) shift(in *inst) opResult {
	a := b.a
	switch in.op {
	case opShd, opVshd:
		b.loadGR(jit.RAX, in.r1)
		b.loadGR(jit.RDX, in.r2)
		a.ShiftImm64(jit.SHL, jit.RAX, 32)
		a.ALU64(jit.OR, jit.RAX, jit.RDX)
		if in.op == opShd {
			a.ShiftImm64(jit.SHR, jit.RAX, in.aux&31)
		} else {
			b.loadSAR()
			a.ShiftCL64(jit.SHR, jit.RAX)
		}
	case opExtru, opExtrs:
		b.loadGR(jit.RAX, in.r1)
		a.ShiftImm32(jit.SHL, jit.RAX, in.pos&31)
		down := jit.SHR
		if in.op == opExtrs {
			down = jit.SAR
		}
		a.ShiftImm32(down, jit.RAX, in.aux&31)
	case opVextru:
		b.loadGR(jit.RAX, in.r1)
		b.loadSARFromTop()
		a.ShiftCL32(jit.SHR, jit.RAX)
		a.ALUImm32(jit.AND, jit.RAX, ^uint32(0)>>(32-in.aux))
	case opVextrs:
		b.loadGR(jit.RAX, in.r1)
		b.loadSARFromTop()
		a.ShiftCL32(jit.SAR, jit.RAX)
		sh := uint8(32 - uint32(in.aux))
		a.ShiftImm32(jit.SHL, jit.RAX, sh)
		a.ShiftImm32(jit.SAR, jit.RAX, sh)
	default:
		b.deposit(in)
	}
	b.storeGR(in.t, jit.RAX)
	if in.cf == 0 {
		return resultNone
	}
	return b.nullifyIf(b.sedCondition(in.cf, jit.RAX))
}

// loadSAR sets ECX to SAR (five bits).
func (b *blockBuilder) loadSAR() {
	b.a.Load32(jit.RCX, jit.At(rState, stSAR))
	b.a.ALUImm32(jit.AND, jit.RCX, 31)
}

// loadSARFromTop sets ECX to 31 - SAR: the shift that brings bit SAR,
// counted from the most significant end, to the bottom.
func (b *blockBuilder) loadSARFromTop() {
	b.loadSAR()
	b.a.ALUImm32(jit.XOR, jit.RCX, 31)
}

// deposit sets EAX to the dep, depi, vdep or vdepi result (see
// CPU.deposit).
func (b *blockBuilder) deposit(in *inst) {
	a := b.a
	field := ^uint32(0) >> (32 - uint32(in.aux))
	if in.op == opDep || in.op == opVdep {
		b.loadGR(jit.RAX, in.r1)
	} else {
		a.MovImm32(jit.RAX, in.imm)
	}
	if in.op == opDep || in.op == opDepi {
		shift := uint32(in.pos)
		mask := field << shift
		a.ShiftImm32(jit.SHL, jit.RAX, uint8(shift))
		a.ALUImm32(jit.AND, jit.RAX, mask)
		if in.fl&flKeep != 0 {
			b.loadGR(jit.RDX, in.t)
			a.ALUImm32(jit.AND, jit.RDX, ^mask)
			a.ALU32(jit.OR, jit.RAX, jit.RDX)
		}
		return
	}
	b.loadSARFromTop()
	a.MovImm32(jit.R8, field)
	a.ShiftCL32(jit.SHL, jit.R8) // the mask
	a.ShiftCL32(jit.SHL, jit.RAX)
	a.ALU32(jit.AND, jit.RAX, jit.R8)
	if in.fl&flKeep != 0 {
		b.loadGR(jit.RDX, in.t)
		a.Not32(jit.R8)
		a.ALU32(jit.AND, jit.RDX, jit.R8)
		a.ALU32(jit.OR, jit.RAX, jit.RDX)
	}
}
