//go:build linux && amd64

package machine

import "github.com/synodvm/synod/machine/jit"

// opResult is what an instruction's code leaves of the nullify bit of
// the next instruction.
type opResult uint8

const (
	resultNone   opResult = iota // it does not nullify
	resultAlways                 // it always nullifies
	resultInReg                  // rNull holds whether it does
)

// after is the nullify state of the next instruction when this one ran.
func (r opResult) after() nullState {
	switch r {
	case resultAlways:
		return nullSet
	case resultInReg:
		return nullInReg
	}
	return nullClear
}

// translatable reports whether the translator generates code for in.
func translatable(in *inst) bool {
	switch in.op {
	case opLdo, opLdil, opAddil, opAddL, opShAddL, opAddFast, opAddiFast, opAddcFast, opSubFast, opSubiFast,
		opUaddcmFast, opDsFast, opAndcm, opAnd, opOr, opXor, opCmpclr, opCmpiclr, opNop, opMfsar, opMtsar, opMfctl,
		opShd, opVshd, opExtru, opExtrs, opVextru, opVextrs, opDep, opDepi, opVdep, opVdepi,
		opBl, opBlr, opBv, opBve, opBe, opCmpb, opCmpib, opAddb, opAddib, opMovb, opMovib, opBb, opBvb,
		opLdbDisp, opLdhDisp, opLdwDisp, opLdb, opLdh, opLdw, opStbDisp, opSthDisp, opStwDisp, opStb, opSth, opStw,
		opFldw, opFstw, opFldd, opFstd:
		return true
	case opAddi, opSub, opSubi, opLogicCond:
		return true
	case opAdd:
		// shNadd with a condition or an overflow trap would also have to
		// tell the bits shifted out.
		return in.aux&3 == 0 || in.cf == 0 && in.fl&flTrapOverflow == 0
	case opFP:
		return fpTranslatable(&in.fp)
	}
	return false
}

// guardedOp reports whether in, when rNull may nullify it, is emitted
// without a branch: its only effect is one general register, which keeps
// its old value when rNull is set (storeGR's conditional move). A branch
// around it would be as unpredictable to the host as the guest's data
// (compare and clear, then copy, is how GCC writes a conditional move).
func guardedOp(in *inst) bool {
	switch in.op {
	case opLdo, opLdil, opAddil, opAddL, opShAddL, opUaddcmFast, opAnd, opAndcm, opOr, opXor, opMfsar, opMfctl, opNop:
		return true
	case opShd, opVshd, opExtru, opExtrs, opVextru, opVextrs, opDep, opDepi, opVdep, opVdepi:
		return in.cf == 0
	}
	return false
}

// gr is the state memory of GR[r].
func gr(r uint8) jit.Mem { return jit.At(rState, stGR+4*int32(r&31)) }

// fr is the state memory of floating-point register r (64 bits).
func fr(r uint8) jit.Mem { return jit.At(rState, stFR+8*int32(r&31)) }

// frWord is the state memory of the 32-bit half sel selects: the right
// (low) half of register sel&31 when bit 5 is set, else the left.
func frWord(sel uint8) jit.Mem {
	m := fr(sel)
	if sel&32 == 0 {
		m.Disp += 4
	}
	return m
}

// op emits the code of in, the i-th instruction, which runs: neither a
// branch nor nullified. back is the back of the queue while it runs, for
// an exit before it.
func (b *blockBuilder) op(in *inst, i int, back nextSpec) opResult {
	a := b.a
	switch in.op {
	case opLdo:
		b.addImm(in.t, in.r1, in.imm)
	case opAddil:
		b.addImm(1, in.r1, in.imm)
	case opLdil:
		b.storeGRImm(in.t, in.imm)
	case opAddL, opShAddL, opUaddcmFast, opAnd, opAndcm, opOr, opXor:
		b.logic(in)
	case opAddFast, opAddiFast, opAddcFast:
		b.loadOperands(in)
		b.sum(in.t, in.op == opAddcFast)
	case opSubFast, opSubiFast:
		b.loadOperands(in)
		b.difference(in.t)
	case opDsFast:
		b.divideStep(in)
	case opCmpclr, opCmpiclr:
		b.loadOperands(in)
		cond := b.subCond(in.cf, jit.RAX, jit.RCX)
		if in.t&31 != 0 {
			b.a.MovImm32(jit.RDX, 0) // leaves the flags alone
			b.storeGR(in.t, jit.RDX)
		}
		return b.nullifyIf(cond)
	case opMfsar:
		a.Load32(jit.RAX, jit.At(rState, stSAR))
		a.ALUImm32(jit.AND, jit.RAX, 31)
		b.storeGR(in.t, jit.RAX)
	case opMfctl: // of CR26 or CR27
		a.Load32(jit.RAX, jit.At(rState, stThreadCR+4*int32(in.r1-26)))
		b.storeGR(in.t, jit.RAX)
	case opMtsar:
		b.loadGR(jit.RAX, in.r1)
		a.ALUImm32(jit.AND, jit.RAX, 31)
		a.Store32(jit.At(rState, stSAR), jit.RAX)
	case opNop:
	case opFP:
		return b.fp(in, i, back)
	case opShd, opVshd, opExtru, opExtrs, opVextru, opVextrs, opDep, opDepi, opVdep, opVdepi:
		return b.shift(in)
	case opAdd, opAddi, opSub, opSubi:
		return b.arith(in, i, back)
	case opLogicCond:
		return b.logicCondition(in)
	default:
		b.access(in, i, back)
	}
	return resultNone
}

// loadOperands loads the two operands of an arithmetic instruction into
// EAX and ECX: the immediate and GR[r1] for the immediate forms, GR[r1]
// and GR[r2] for the others.
func (b *blockBuilder) loadOperands(in *inst) {
	switch in.op {
	case opAddiFast, opSubiFast, opCmpiclr, opAddi, opSubi:
		b.a.MovImm32(jit.RAX, in.imm)
		b.loadGR(jit.RCX, in.r1)
	default:
		b.loadGR(jit.RAX, in.r1)
		b.loadGR(jit.RCX, in.r2)
	}
}

// addImm sets GR[t] to GR[r] + imm.
func (b *blockBuilder) addImm(t, r uint8, imm uint32) {
	if t&31 == 0 {
		return
	}
	b.loadGR(jit.RAX, r)
	b.a.ALUImm32(jit.ADD, jit.RAX, imm)
	b.storeGR(t, jit.RAX)
}
