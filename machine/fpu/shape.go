package fpu

// What the binary translator needs to know of an operation to generate
// code for it itself. Generated code does an operation only where its
// outcome is certain to be Exec's; it leaves everything else (NaNs,
// infinities, results near the subnormal range, rounding modes other
// than to nearest, enabled traps, flush to zero) to Exec.

// ShapeKind is the kind of operation the translator may generate code for.
type ShapeKind uint8

const (
	ShapeOther     ShapeKind = iota // left to Exec
	ShapeSign                       // fcpy, fabs, fneg, fnegabs: Sign says what happens to the sign bit
	ShapeAdd                        // fadd
	ShapeSub                        // fsub
	ShapeMul                        // fmpy
	ShapeDiv                        // fdiv
	ShapeSqrt                       // fsqrt
	ShapeNarrow                     // fcnvff from double to single
	ShapeFromWord                   // fcnvxf from a signed word to double: always exact
	ShapeMulAdd                     // fmpyfadd: R1*R2 + RA, rounded once
	ShapeNegMulAdd                  // fmpynfadd: -(R1*R2) + RA, rounded once
	ShapeCompare                    // fcmp: Less, Equal, Greater and Y
	ShapeTest                       // ftest: Mask and WhenZero
)

// SignChange is what fcpy, fabs, fneg and fnegabs do to the sign bit.
type SignChange uint8

const (
	SignKeep SignChange = iota
	SignClear
	SignFlip
	SignSet
)

// Shape describes an operation for the translator.
type Shape struct {
	Kind ShapeKind
	// Double is set when the operands are doubles (for ShapeNarrow and
	// ShapeFromWord it says nothing: their formats are fixed).
	Double    bool
	R1, R2, T uint8 // register selectors, as Op's
	RA        uint8 // the addend of ShapeMulAdd and ShapeNegMulAdd
	Sign      SignChange
	// A comparison sets the C bit (Y 0, the old C going to the compare
	// queue) or CA[Y-1] to whether the relation is one its condition
	// names; an unordered comparison is left to Exec.
	Less, Equal, Greater bool
	Y                    uint8
	// A test nullifies the next instruction when the status word and
	// Mask is zero (WhenZero) or when it is not.
	Mask     uint32
	WhenZero bool
}

// Shape returns what the translator needs of op, with Kind ShapeOther
// for the operations it leaves to Exec.
func (op *Op) Shape() Shape {
	s := Shape{Double: op.sf == fmtDouble, R1: op.r1, R2: op.r2, T: op.t, RA: op.ra}
	switch op.kind {
	case kindMpyFAdd:
		s.Kind = ShapeMulAdd
	case kindMpyNFAdd:
		s.Kind = ShapeNegMulAdd
	case kindCopy, kindAbs, kindNeg, kindNegAbs:
		s.Kind, s.Sign = ShapeSign, [...]SignChange{kindCopy: SignKeep, kindAbs: SignClear, kindNeg: SignFlip, kindNegAbs: SignSet}[op.kind]
	case kindAdd, kindSub, kindMul, kindDiv, kindSqrt:
		s.Kind = [...]ShapeKind{kindAdd: ShapeAdd, kindSub: ShapeSub, kindMul: ShapeMul, kindDiv: ShapeDiv, kindSqrt: ShapeSqrt}[op.kind]
	case kindConvert:
		switch {
		case op.sf == fmtDouble && op.df == fmtSingle:
			s.Kind = ShapeNarrow
		case op.sf == fmtWord && op.df == fmtDouble:
			s.Kind = ShapeFromWord
		}
	case kindCompare:
		s.Kind, s.Y = ShapeCompare, op.y
		s.Less, s.Equal, s.Greater = op.cond>>relLess&1 != 0, op.cond>>relEqual&1 != 0, op.cond>>relGreater&1 != 0
	case kindTest:
		s.Kind = ShapeTest
		s.Mask, s.WhenZero = testMask(op)
	}
	return s
}

// The status word (the upper half of fr0) as generated code reads and
// writes it.
const (
	// StatusC is the compare bit, StatusQueue the compare queue and
	// StatusQueueNewest its newest entry, where a comparison moves C.
	StatusC           = statusC
	StatusQueue       = statusCQ
	StatusQueueNewest = statusCQ0
	// StatusRoutine is the part of the status word an arithmetic
	// operation's outcome depends on beyond its result, and
	// StatusRoutineValue its value where generated code may do the
	// operation: no trap enabled, rounding to nearest, no flush to zero,
	// and the inexact flag already set, so that an inexact result changes
	// nothing in the status word.
	StatusRoutine      = allFlags<<enableShift | statusD | 3<<rmShift | excInexact<<flagShift
	StatusRoutineValue = excInexact << flagShift
	// StatusFlush is the flush-to-zero bit, which comparisons depend on.
	StatusFlush = statusD
)

// CompareTargetBit is the status bit of CA[y-1], which a targeted
// comparison (y 1 to 6) sets.
func CompareTargetBit(y uint8) uint32 { return 1 << (caShift - uint32(y-1)) }
