//go:build linux && amd64

package machine

import (
	"math/bits"

	"github.com/synodvm/synod/machine/fpu"
	"github.com/synodvm/synod/machine/jit"
)

// Floating-point operations in generated code. The host's scalar SSE2
// arithmetic, rounding to nearest (Go keeps MXCSR at its default), gives
// the IEEE result fpu.State.Exec gives for ordinary operands, and its
// NaNs are not PA-RISC's: so an operation's code first checks that the
// status word is routine (no trap enabled, rounding to nearest, no flush
// to zero, the inexact flag already set: see fpu.StatusRoutine), does the
// operation, and exits before the instruction, having changed nothing,
// when the result is a NaN, an infinity or near the subnormal range,
// where Exec raises flags or picks a NaN of its own. The interpreter
// then executes it. A program's first inexact operation sets the flag,
// so from then on only those results exit.

// fpTranslatable reports whether the translator generates code for op.
func fpTranslatable(op *fpu.Op) bool {
	if _, _, _, xmpyu := op.Xmpyu(); xmpyu {
		return true
	}
	switch s := op.Shape(); s.Kind {
	case fpu.ShapeOther:
		return false
	case fpu.ShapeSign, fpu.ShapeCompare, fpu.ShapeTest:
		return true
	case fpu.ShapeMulAdd, fpu.ShapeNegMulAdd:
		return jit.HasFMA && s.T&31 != 0
	default:
		// A result written to fr0 would change the status word: Exec
		// does that.
		return s.T&31 != 0
	}
}

// fp emits the floating-point operation in, the i-th instruction.
func (b *blockBuilder) fp(in *inst, i int, back nextSpec) opResult {
	if _, _, _, xmpyu := in.fp.Xmpyu(); xmpyu {
		b.xmpyu(in)
		return resultNone
	}
	s := in.fp.Shape()
	switch s.Kind {
	case fpu.ShapeSign:
		b.fpSign(s)
	case fpu.ShapeTest:
		b.a.Load32(jit.RAX, statusWord)
		b.a.TestImm32(jit.RAX, s.Mask)
		return b.nullifyIf(flagCondition(jit.CondE, !s.WhenZero))
	case fpu.ShapeCompare:
		b.fpCompare(s, b.exit(i, back, nullClear, exitStep))
	case fpu.ShapeFromWord:
		b.fpFromWord(s)
	default:
		b.fpArithmetic(s, b.exit(i, back, nullClear, exitStep))
	}
	return resultNone
}

// statusWord is the state memory of the floating-point status word (the
// left half of fr0), exceptionWord that of exception register 1 (its
// right half), which every operation that may signal clears (see
// fpu.State.Exec).
var statusWord, exceptionWord = frWord(0), frWord(32)

// xmpyu multiplies two unsigned words of the floating-point registers
// into a double register, as fpu.State.Exec does.
func (b *blockBuilder) xmpyu(in *inst) {
	a := b.a
	r1, r2, t, _ := in.fp.Xmpyu()
	for _, op := range []struct {
		reg jit.Reg
		sel uint8
	}{{jit.RAX, r1}, {jit.RCX, r2}} {
		if op.sel == 0 { // the status register reads as zero here
			a.MovImm32(op.reg, 0)
		} else {
			a.Load32(op.reg, frWord(op.sel))
		}
	}
	a.Imul64(jit.RAX, jit.RCX) // the operands are below 2^32: no overflow
	a.Store64(fr(t), jit.RAX)
}

// fpSign emits fcpy, fabs, fneg or fnegabs: a change of the sign bit,
// which never signals, not even on a signalling NaN.
func (b *blockBuilder) fpSign(s fpu.Shape) {
	a := b.a
	src, dst, sign := frWord(s.R1), frWord(s.T), uint8(31)
	if s.Double {
		src, dst, sign = fr(s.R1), fr(s.T), 63
	}
	switch {
	case s.R1 == 0:
		a.MovImm32(jit.RAX, 0)
	case s.Double:
		a.Load64(jit.RAX, src)
	default:
		a.Load32(jit.RAX, src)
	}
	switch s.Sign {
	case fpu.SignClear:
		a.BitImm64(jit.BTR, jit.RAX, sign)
	case fpu.SignFlip:
		a.BitImm64(jit.BTC, jit.RAX, sign)
	case fpu.SignSet:
		a.BitImm64(jit.BTS, jit.RAX, sign)
	}
	if s.Double {
		a.Store64(dst, jit.RAX)
	} else {
		a.Store32(dst, jit.RAX)
	}
}

// loadFPOperand sets x to operand sel of an operation that may signal:
// register 0 reads as zero, and so does fr0's right half, which Exec
// clears before it reads the operands.
func (b *blockBuilder) loadFPOperand(x jit.XReg, double bool, sel uint8) {
	switch {
	case sel == 0 || !double && sel == 32:
		b.a.Xorps(x, x)
	case double:
		b.a.LoadScalar(true, x, fr(sel))
	default:
		b.a.LoadScalar(false, x, frWord(sel))
	}
}

// fpArithmetic emits fadd, fsub, fmpy, fdiv, fsqrt, the narrowing
// fcnvff, fmpyfadd or fmpynfadd, exiting to exit (see the top of this file) where Exec's
// outcome could differ from the host's.
func (b *blockBuilder) fpArithmetic(s fpu.Shape, exit jit.Label) {
	a := b.a
	a.Load32(jit.RAX, statusWord)
	a.ALUImm32(jit.AND, jit.RAX, fpu.StatusRoutine)
	a.ALUImm32(jit.CMP, jit.RAX, fpu.StatusRoutineValue)
	a.Jcc(jit.CondNE, exit)
	double := s.Double
	switch s.Kind {
	case fpu.ShapeNarrow:
		b.loadFPOperand(jit.X0, true, s.R1)
		a.Cvtsd2ss(jit.X0, jit.X0)
		double = false
	case fpu.ShapeSqrt:
		b.loadFPOperand(jit.X0, double, s.R1)
		a.Scalar(jit.SQRT, double, jit.X0, jit.X0)
	case fpu.ShapeMulAdd, fpu.ShapeNegMulAdd:
		b.loadFPOperand(jit.X0, double, s.RA)
		b.loadFPOperand(jit.X1, double, s.R1)
		b.loadFPOperand(jit.X2, double, s.R2)
		a.FusedMulAdd231(s.Kind == fpu.ShapeNegMulAdd, double, jit.X0, jit.X1, jit.X2)
	default:
		b.loadFPOperand(jit.X0, double, s.R1)
		b.loadFPOperand(jit.X1, double, s.R2)
		a.Scalar(map[fpu.ShapeKind]jit.SSE{fpu.ShapeAdd: jit.ADDS, fpu.ShapeSub: jit.SUBS, fpu.ShapeMul: jit.MULS,
			fpu.ShapeDiv: jit.DIVS}[s.Kind], double, jit.X0, jit.X1)
	}
	a.MovFromX(double, jit.RAX, jit.X0)
	// Sums and square roots are exact where they are below the normal
	// range or at its edge (every float is a multiple of the smallest
	// subnormal), and Exec raises nothing for them; products, quotients
	// and narrowings there may underflow, and Exec takes its exact path
	// for them.
	exact := s.Kind == fpu.ShapeAdd || s.Kind == fpu.ShapeSub || s.Kind == fpu.ShapeSqrt
	if double {
		// The exponent field: 0x7ff for NaNs and infinities, below 55
		// for magnitudes below 2^-968, where Exec's double
		// multiplication and division leave their fast path.
		const smallest = 1023 - 968
		a.Mov64(jit.RCX, jit.RAX)
		a.ShiftImm64(jit.SHL, jit.RCX, 1)
		a.ShiftImm64(jit.SHR, jit.RCX, 53)
		if exact {
			a.ALUImm32(jit.CMP, jit.RCX, 0x7ff)
			a.Jcc(jit.CondE, exit)
		} else {
			a.ALUImm32(jit.SUB, jit.RCX, smallest)
			a.ALUImm32(jit.CMP, jit.RCX, 0x7ff-smallest)
			a.Jcc(jit.CondAE, exit)
		}
	} else {
		// The magnitude's bits: 0x7f800000 and up for NaNs and
		// infinities, 0x800000 and below for the smallest normal
		// number and what is smaller, where Exec's single-precision
		// products, quotients and narrowings leave their fast path.
		const infinity, smallestNormal = 0x7f800000, 0x800000
		a.Mov32(jit.RCX, jit.RAX)
		a.ALUImm32(jit.AND, jit.RCX, 1<<31-1)
		if exact {
			a.ALUImm32(jit.CMP, jit.RCX, infinity)
			a.Jcc(jit.CondAE, exit)
		} else {
			a.ALUImm32(jit.SUB, jit.RCX, smallestNormal+1)
			a.ALUImm32(jit.CMP, jit.RCX, infinity-(smallestNormal+1))
			a.Jcc(jit.CondAE, exit)
		}
	}
	a.StoreImm32(exceptionWord, 0)
	if double {
		a.Store64(fr(s.T), jit.RAX)
	} else {
		a.Store32(frWord(s.T), jit.RAX)
	}
}

// fpFromWord emits fcnvxf from a signed word to double, which is exact
// and never signals.
func (b *blockBuilder) fpFromWord(s fpu.Shape) {
	a := b.a
	a.StoreImm32(exceptionWord, 0)
	a.Xorps(jit.X0, jit.X0)
	if s.R1 != 0 && s.R1 != 32 { // else the word is zero (see loadFPOperand)
		a.Load32(jit.RAX, frWord(s.R1))
		a.Cvtsi2sd32(jit.X0, jit.RAX)
	}
	a.StoreScalar(true, fr(s.T), jit.X0)
}

// fpCompare emits fcmp, exiting to exit when the status word asks for
// flush to zero or the operands are unordered (Exec decides whether that
// is invalid).
func (b *blockBuilder) fpCompare(s fpu.Shape, exit jit.Label) {
	a := b.a
	a.Load32(jit.RAX, statusWord)
	a.TestImm32(jit.RAX, fpu.StatusFlush)
	a.Jcc(jit.CondNE, exit)
	b.loadFPOperand(jit.X0, s.Double, s.R1)
	b.loadFPOperand(jit.X1, s.Double, s.R2)
	a.Ucomis(s.Double, jit.X0, jit.X1)
	a.Jcc(jit.CondP, exit)
	// EDX: whether the relation is one the condition names. After
	// ucomis of ordered operands, CF is less and ZF equal.
	relation := map[[3]bool]jit.Cond{
		{true, false, false}: jit.CondB, {false, true, false}: jit.CondE, {false, false, true}: jit.CondA,
		{true, true, false}: jit.CondBE, {false, true, true}: jit.CondAE, {true, false, true}: jit.CondNE,
	}
	if cc, ok := relation[[3]bool{s.Less, s.Equal, s.Greater}]; ok {
		a.Setcc(cc, jit.RDX)
		a.Movzx8(jit.RDX, jit.RDX)
	} else {
		a.MovImm32(jit.RDX, b2u(s.Less)) // all three or none
	}
	a.StoreImm32(exceptionWord, 0)
	if s.Y != 0 {
		bit := fpu.CompareTargetBit(s.Y)
		a.ALUImm32(jit.AND, jit.RAX, ^bit)
		a.ShiftImm32(jit.SHL, jit.RDX, uint8(bits.TrailingZeros32(bit)))
	} else {
		// The queue moves one place, its newest entry taking the old C
		// (not the bit above the queue).
		a.Mov32(jit.RCX, jit.RAX)
		a.ShiftImm32(jit.SHR, jit.RCX, 1)
		a.ALUImm32(jit.AND, jit.RCX, fpu.StatusQueue&^fpu.StatusQueueNewest)
		a.Mov32(jit.R8, jit.RAX)
		a.ShiftImm32(jit.SHR, jit.R8, uint8(bits.TrailingZeros32(fpu.StatusC)-bits.TrailingZeros32(fpu.StatusQueueNewest)))
		a.ALUImm32(jit.AND, jit.R8, fpu.StatusQueueNewest)
		a.ALUImm32(jit.AND, jit.RAX, ^uint32(fpu.StatusQueue|fpu.StatusC))
		a.ALU32(jit.OR, jit.RAX, jit.RCX)
		a.ALU32(jit.OR, jit.RAX, jit.R8)
		a.ShiftImm32(jit.SHL, jit.RDX, uint8(bits.TrailingZeros32(fpu.StatusC)))
	}
	a.ALU32(jit.OR, jit.RAX, jit.RDX)
	a.Store32(statusWord, jit.RAX)
}
