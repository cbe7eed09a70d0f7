//go:build linux && amd64

package machine

import "github.com/synodvm/synod/machine/jit"

// branch emits the block's last two instructions: in, its i-th, and the
// delay slot after it. The code chooses where the queue goes and whether
// the slot is nullified; each way out then has the slot's code of its
// own, with the nullify bit known, and continues through dispatch.
func (b *blockBuilder) branch(in *inst, i int) {
	a := b.a
	after := nextSpec{addr: b.addr(i + 2)}
	if b.null == nullSet {
		b.slotThenLeave(i+1, false, after)
		return
	}
	if b.null == nullInReg {
		// A nullified branch changes nothing: the slot runs next.
		run := a.NewLabel()
		atBranch := b.fork()
		a.Test32(rNull, rNull)
		a.Jcc(jit.CondE, run)
		b.slotThenLeave(i+1, false, after)
		a.Bind(run)
		b.resume(atBranch)
	}
	pl := b.entry & 3
	indirect := nextSpec{inNext: true}
	switch in.op {
	case opBl:
		b.link(in.t, after.addr)
		b.slotThenLeave(i+1, in.fl&flNullify != 0, nextSpec{addr: in.imm | pl})
	case opBlr:
		b.loadGR(rNext, in.r2)
		a.ShiftImm32(jit.SHL, rNext, 3)
		a.ALUImm32(jit.ADD, rNext, in.imm|pl)
		b.link(in.t, after.addr)
		b.slotThenLeave(i+1, in.fl&flNullify != 0, indirect)
	case opBv:
		b.loadGR(rNext, in.r1)
		b.loadGR(jit.RAX, in.r2)
		a.ShiftImm32(jit.SHL, jit.RAX, 3)
		a.ALU32(jit.ADD, rNext, jit.RAX)
		a.ALUImm32(jit.OR, rNext, 3) // user code: indirect branches stay at level 3
		b.slotThenLeave(i+1, in.fl&flNullify != 0, indirect)
	case opBve, opBe:
		b.loadGR(rNext, in.r1)
		if in.op == opBe {
			a.ALUImm32(jit.ADD, rNext, in.imm)
		}
		a.ALUImm32(jit.OR, rNext, 3)
		b.link(in.t, after.addr)
		b.slotThenLeave(i+1, in.fl&flNullify != 0, indirect)
	default:
		taken, untaken := nextSpec{addr: in.imm | pl}, after
		cond := b.branchCondition(in)
		if cond.known {
			if cond.value {
				b.slotThenLeave(i+1, in.fl&flNullifyTaken != 0, taken)
			} else {
				b.slotThenLeave(i+1, in.fl&flNullifyUntaken != 0, untaken)
			}
			return
		}
		takenCode := a.NewLabel()
		atBranch := b.fork()
		a.Jcc(cond.cc, takenCode)
		b.slotThenLeave(i+1, in.fl&flNullifyUntaken != 0, untaken)
		a.Bind(takenCode)
		b.resume(atBranch)
		b.slotThenLeave(i+1, in.fl&flNullifyTaken != 0, taken)
	}
}

// link sets GR[t] to the return address.
func (b *blockBuilder) link(t uint8, ret uint32) {
	b.storeGRImm(t, ret)
}

// branchCondition emits the register update of a conditional branch and
// evaluates whether it is taken.
func (b *blockBuilder) branchCondition(in *inst) condition {
	a := b.a
	switch in.op {
	case opCmpb, opCmpib:
		b.loadBranchOperand(in)
		return b.subCond(in.cf, jit.RAX, b.sourceGR(jit.RCX, in.r2))
	case opAddb, opAddib:
		b.loadBranchOperand(in)
		b.loadGR(jit.RCX, in.r2)
		a.ALU32(jit.ADD, jit.RCX, jit.RAX)
		b.storeGR(in.r2, jit.RCX) // a store leaves the flags alone
		return b.addCond(in.cf, jit.RCX)
	case opMovb, opMovib:
		b.loadBranchOperand(in)
		b.storeGR(in.r2, jit.RAX)
		return b.sedCondition(in.cf, jit.RAX)
	case opBb:
		b.loadGR(jit.RAX, in.r1)
		a.TestImm32(jit.RAX, 1<<(in.pos&31))
		return flagCondition(jit.CondNE, in.cf != 0)
	default: // opBvb
		b.loadGR(jit.RAX, in.r1)
		b.loadSAR()
		a.ShiftCL32(jit.SHL, jit.RAX)
		a.Test32(jit.RAX, jit.RAX)
		return flagCondition(jit.CondS, in.cf != 0)
	}
}

// loadBranchOperand sets EAX to the first operand of a compare-, add- or
// move-and-branch: GR[r1], or the immediate of the immediate forms.
func (b *blockBuilder) loadBranchOperand(in *inst) {
	switch in.op {
	case opCmpb, opAddb, opMovb:
		b.loadGR(jit.RAX, in.r1)
	default:
		b.a.MovImm32(jit.RAX, in.im5())
	}
}

// slotThenLeave emits the delay slot, the j-th instruction, nullified or
// not, and continues at next.
func (b *blockBuilder) slotThenLeave(j int, nullified bool, next nextSpec) {
	b.null = nullClear
	if nullified {
		b.null = nullSet
	}
	// A nullified slot is skipped, whatever it holds.
	if in := b.inst(j); !nullified && (isBranch(in.op) || !translatable(in)) {
		b.a.Jmp(b.exit(j, next, b.null, exitStep))
		return
	}
	b.instruction(j, next)
	b.leave(next)
}
