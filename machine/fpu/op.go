package fpu

// Op is a decoded floating-point instruction. The CPU decodes each word
// once and keeps the Op with its decoded-instruction cache.
type Op struct {
	kind   kind
	sf, df format // source and destination formats
	// Register selectors: for 32-bit operands bit 5 picks the right half
	// of double register sel&31; for 64-bit operands sel is the register.
	r1, r2, t uint8
	ra, ta    uint8 // the addends of fmpyadd/fmpysub (ta is also a target) and fmpyfadd
	cond      uint8 // fcmp condition, ftest test
	y         uint8 // fcmp target bit, ftest selector
}

type kind uint8

const (
	kindInvalid kind = iota
	kindIdentify
	kindCopy
	kindAbs
	kindSqrt
	kindRound
	kindNeg
	kindNegAbs
	kindConvert
	kindCompare
	kindTest
	kindAdd
	kindSub
	kindMul
	kindDiv
	kindXmpyu
	kindMpyAdd
	kindMpySub
	kindMpyFAdd  // fused: t = r1*r2 + ra, rounded once
	kindMpyNFAdd // fused: t = -(r1*r2) + ra
)

// format is the representation of an operand or result.
type format uint8

const (
	fmtSingle format = iota
	fmtDouble
	fmtWord   // int32
	fmtDword  // int64
	fmtUWord  // uint32
	fmtUDword // uint64
)

func (f format) wide() bool { return f == fmtDouble || f == fmtDword || f == fmtUDword }

func (f format) float() bool { return f == fmtSingle || f == fmtDouble }

// Result tells the CPU what to do after an operation.
type Result uint8

const (
	// Done: the operation completed.
	Done Result = iota
	// NullifyNext: FTEST found its condition true; skip the next instruction.
	NullifyNext
	// Trap: an enabled IEEE exception occurred (SIGFPE); only the sticky
	// flags in the status register changed.
	Trap
)

// Xmpyu reports whether op is xmpyu, and if so its operands: the 32-bit
// selectors r1 and r2 (bit 5 picks the right half; selector 0 reads as
// zero) and the 64-bit target register t.
func (op *Op) Xmpyu() (r1, r2, t uint8, ok bool) {
	return op.r1, op.r2, op.t, op.kind == kindXmpyu
}
