package jit

// Scalar SSE2 instructions, for the floating-point operations generated
// code does itself. XMM registers are numbered as the encoding does;
// generated code uses X0-X3 only (Go's ABI keeps X15 zero).

// XReg is an XMM register.
type XReg uint8

const (
	X0 XReg = iota
	X1
	X2
	X3
)

// SSE is a scalar SSE arithmetic operation (its opcode after 0F).
type SSE uint8

const (
	SQRT SSE = 0x51
	ADDS SSE = 0x58
	MULS SSE = 0x59
	SUBS SSE = 0x5c
	DIVS SSE = 0x5e
)

// scalarPrefix is the mandatory prefix of the sd (double) or ss form.
func scalarPrefix(double bool) byte {
	if double {
		return 0xf2
	}
	return 0xf3
}

// LoadScalar is movsd x, qword [m] (double) or movss x, dword [m].
func (a *Asm) LoadScalar(double bool, x XReg, m Mem) {
	a.byte1(scalarPrefix(double))
	a.opRM(false, []byte{0x0f, 0x10}, Reg(x), m, false)
}

// StoreScalar is movsd qword [m], x (double) or movss dword [m], x.
func (a *Asm) StoreScalar(double bool, m Mem, x XReg) {
	a.byte1(scalarPrefix(double))
	a.opRM(false, []byte{0x0f, 0x11}, Reg(x), m, false)
}

// Scalar is op dst, src in double (sd) or single (ss) precision.
func (a *Asm) Scalar(op SSE, double bool, dst, src XReg) {
	a.byte1(scalarPrefix(double))
	a.opRR(false, []byte{0x0f, byte(op)}, Reg(dst), Reg(src), false)
}

// Ucomis is ucomisd x, y (double) or ucomiss x, y: ZF, PF and CF all set
// when unordered, else CF for less and ZF for equal.
func (a *Asm) Ucomis(double bool, x, y XReg) {
	if double {
		a.byte1(0x66)
	}
	a.opRR(false, []byte{0x0f, 0x2e}, Reg(x), Reg(y), false)
}

// Cvtsd2ss is cvtsd2ss dst, src: the double in src rounded to single.
func (a *Asm) Cvtsd2ss(dst, src XReg) {
	a.byte1(0xf2)
	a.opRR(false, []byte{0x0f, 0x5a}, Reg(dst), Reg(src), false)
}

// Cvtsi2sd32 is cvtsi2sd dst, src32: the signed word in src as a double.
func (a *Asm) Cvtsi2sd32(dst XReg, src Reg) {
	a.byte1(0xf2)
	a.opRR(false, []byte{0x0f, 0x2a}, Reg(dst), src, false)
}

// Xorps is xorps dst, src (zeroes dst when both are the same).
func (a *Asm) Xorps(dst, src XReg) { a.opRR(false, []byte{0x0f, 0x57}, Reg(dst), Reg(src), false) }

// MovFromX is movq dst, x (double) or movd dst32, x: the bits of x's low
// element.
func (a *Asm) MovFromX(double bool, dst Reg, x XReg) {
	a.byte1(0x66)
	a.opRR(double, []byte{0x0f, 0x7e}, Reg(x), dst, false)
}

// Bit operations of the 0F BA /digit form.
type BitOp uint8

const (
	BTS BitOp = 5 // set
	BTR BitOp = 6 // reset
	BTC BitOp = 7 // complement
)

// BitImm64 is op dst, n on 64 bits.
func (a *Asm) BitImm64(op BitOp, dst Reg, n uint8) {
	a.opRR(true, []byte{0x0f, 0xba}, Reg(op), dst, false)
	a.byte1(n)
}

// FusedMulAdd231 is vfmadd231sd dst, x, y (double) or vfmadd231ss:
// dst = x*y + dst rounded once, or with negate vfnmadd231:
// dst = -(x*y) + dst. It needs FMA3 (HasFMA).
func (a *Asm) FusedMulAdd231(negate, double bool, dst, x, y XReg) {
	// The three-byte VEX prefix: R, X and B inverted, map 0F38; W for
	// double, vvvv the inverted x, L0, prefix 66.
	w, opcode := byte(0), byte(0xb9)
	if double {
		w = 0x80
	}
	if negate {
		opcode = 0xbd
	}
	a.byte1(0xc4, 0xe2^byte(dst>>3&1)<<7^byte(y>>3&1)<<5, w|byte(^x&15)<<3|1, opcode, 0xc0|byte(dst&7)<<3|byte(y&7))
}
