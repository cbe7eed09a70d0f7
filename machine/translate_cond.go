//go:build linux && amd64

package machine

import "github.com/synodvm/synod/machine/jit"

// condition is a guest condition as translated: fixed at translation, or
// the amd64 condition code that holds it in the flags the code just set.
type condition struct {
	known bool
	value bool
	cc    jit.Cond
}

func fixedCondition(v bool) condition { return condition{known: true, value: v} }

// flagCondition is cc, negated when negate is set.
func flagCondition(cc jit.Cond, negate bool) condition {
	if negate {
		cc = cc.Not()
	}
	return condition{cc: cc}
}

// subCodes are the amd64 conditions, after cmp x, y, of the arithmetic
// conditions c = 1..6 of subOutcome(x, y): =, <, <=, << (borrow), <<=, SV.
var subCodes = [7]jit.Cond{1: jit.CondE, 2: jit.CondL, 3: jit.CondLE, 4: jit.CondB, 5: jit.CondBE, 6: jit.CondO}

// subCond evaluates arithmetic condition cf on x - y (see subOutcome). It
// keeps x and y.
func (b *blockBuilder) subCond(cf uint8, x, y jit.Reg) condition {
	switch cf >> 1 & 7 {
	case 0:
	case 7:
		b.a.Mov32(jit.RDX, x)
		b.a.ALU32(jit.SUB, jit.RDX, y)
	default:
		b.a.ALU32(jit.CMP, x, y)
	}
	return b.subFlagsCondition(cf, jit.RDX)
}

// subFlagsCondition evaluates arithmetic condition cf on the difference
// res the flags are those of: a subtraction (see subOutcome), or one with
// borrow (see sumOutcome: its tests give the same codes).
func (b *blockBuilder) subFlagsCondition(cf uint8, res jit.Reg) condition {
	negate := cf&1 != 0
	switch c := cf >> 1 & 7; c {
	case 0:
		return fixedCondition(negate)
	case 7: // OD: the difference is odd
		b.a.TestImm32(res, 1)
		return flagCondition(jit.CondNE, negate)
	default:
		return flagCondition(subCodes[c], negate)
	}
}

// addCodes are the amd64 conditions, after add, of the arithmetic
// conditions c = 1..6 of addOutcome but 5: =, <, <=, NUV, -, SV.
var addCodes = [7]jit.Cond{1: jit.CondE, 2: jit.CondL, 3: jit.CondLE, 4: jit.CondAE, 6: jit.CondO}

// addCond evaluates arithmetic condition cf on the sum res the flags are
// those of (see addOutcome).
func (b *blockBuilder) addCond(cf uint8, res jit.Reg) condition {
	negate := cf&1 != 0
	switch c := cf >> 1 & 7; c {
	case 0:
		return fixedCondition(negate)
	case 5: // ZNV: no carry, or zero
		b.a.Setcc(jit.CondAE, jit.R8)
		b.a.Setcc(jit.CondE, jit.R9)
		b.a.Movzx8(jit.R8, jit.R8)
		b.a.Movzx8(jit.R9, jit.R9)
		b.a.ALU32(jit.OR, jit.R8, jit.R9)
		return flagCondition(jit.CondNE, negate)
	case 7:
		b.a.TestImm32(res, 1)
		return flagCondition(jit.CondNE, negate)
	default:
		return flagCondition(addCodes[c], negate)
	}
}

// sedCondition evaluates the 3-bit condition of shift, extract, deposit
// and move-and-branch on res (see sedCond).
func (b *blockBuilder) sedCondition(c uint8, res jit.Reg) condition {
	negate := c&4 != 0
	switch c & 3 {
	case 1:
		b.a.Test32(res, res)
		return flagCondition(jit.CondE, negate)
	case 2:
		b.a.Test32(res, res)
		return flagCondition(jit.CondS, negate)
	case 3:
		b.a.TestImm32(res, 1)
		return flagCondition(jit.CondNE, negate)
	}
	return fixedCondition(negate)
}

// nullifyIf makes cond the nullify bit of the next instruction.
func (b *blockBuilder) nullifyIf(cond condition) opResult {
	switch {
	case cond.known && cond.value:
		return resultAlways
	case cond.known:
		return resultNone
	}
	b.a.Setcc(cond.cc, rNull)
	b.a.Movzx8(rNull, rNull)
	return resultInReg
}
