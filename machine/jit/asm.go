package jit

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// Reg is an amd64 general-purpose register, numbered as the encoding does.
type Reg uint8

const (
	RAX Reg = iota
	RCX
	RDX
	RBX
	RSP
	RBP
	RSI
	RDI
	R8
	R9
	R10
	R11
	R12
	R13
	R14
	R15
)

// noIndex marks a memory operand without an index register (the encoding
// of RSP as an index means none).
const noIndex = RSP

// Mem is a memory operand: [Base + Index*Scale + Disp].
type Mem struct {
	Base  Reg
	Index Reg // noIndex unless set with Indexed
	Scale uint8
	Disp  int32
}

// At is [base+disp].
func At(base Reg, disp int32) Mem { return Mem{Base: base, Index: noIndex, Scale: 1, Disp: disp} }

// Indexed is [base+index*scale+disp]; scale is 1, 2, 4 or 8.
func Indexed(base, index Reg, scale uint8, disp int32) Mem {
	return Mem{Base: base, Index: index, Scale: scale, Disp: disp}
}

// Cond is an amd64 condition code (the low nibble of Jcc, SETcc, CMOVcc).
type Cond uint8

const (
	CondO  Cond = 0x0 // overflow
	CondNO Cond = 0x1
	CondB  Cond = 0x2 // unsigned below (carry)
	CondAE Cond = 0x3 // unsigned above or equal (no carry)
	CondE  Cond = 0x4 // equal (zero)
	CondNE Cond = 0x5
	CondBE Cond = 0x6 // unsigned below or equal
	CondA  Cond = 0x7
	CondS  Cond = 0x8 // sign
	CondNS Cond = 0x9
	CondP  Cond = 0xa // parity (unordered, after ucomisd)
	CondL  Cond = 0xc // signed less
	CondGE Cond = 0xd
	CondLE Cond = 0xe // signed less or equal
	CondG  Cond = 0xf
)

// Not is the negated condition.
func (c Cond) Not() Cond { return c ^ 1 }

// ALU operations of the 0x81 /digit and r/m,r forms.
type ALU uint8

const (
	ADD ALU = 0
	OR  ALU = 1
	ADC ALU = 2
	SBB ALU = 3
	AND ALU = 4
	SUB ALU = 5
	XOR ALU = 6
	CMP ALU = 7
)

// Shift operations of the 0xC1 /digit and 0xD3 /digit forms.
type Shift uint8

const (
	ROL Shift = 0
	SHL Shift = 4
	SHR Shift = 5
	SAR Shift = 7
)

// Label is a position in the code, bound once, that jumps may name before
// it is bound.
type Label int

type fixup struct {
	at    int // offset of the rel32 field
	label Label
}

// Asm accumulates machine code. Jumps are always rel32, so that the code
// needs one pass; Finish resolves them.
type Asm struct {
	buf    []byte
	labels []int // offset of each label, -1 while unbound
	fixups []fixup
}

// Len is the size of the code so far.
func (a *Asm) Len() int { return len(a.buf) }

// NewLabel returns an unbound label.
func (a *Asm) NewLabel() Label {
	a.labels = append(a.labels, -1)
	return Label(len(a.labels) - 1)
}

// Bind places l at the current position.
func (a *Asm) Bind(l Label) { a.labels[l] = len(a.buf) }

// Finish resolves the jumps and returns the code, which is valid until the
// next use of a.
func (a *Asm) Finish() ([]byte, error) {
	for _, f := range a.fixups {
		to := a.labels[f.label]
		if to < 0 {
			return nil, fmt.Errorf("jump at %d to unbound label %d", f.at, f.label)
		}
		binary.LittleEndian.PutUint32(a.buf[f.at:], uint32(int32(to-(f.at+4))))
	}
	return a.buf, nil
}

// Reset empties a for new code, keeping its buffers.
func (a *Asm) Reset() {
	a.buf, a.labels, a.fixups = a.buf[:0], a.labels[:0], a.fixups[:0]
}

func (a *Asm) byte1(b ...byte) { copy(a.extend(len(b)), b) }

func (a *Asm) imm32(v int32) { binary.LittleEndian.PutUint32(a.extend(4), uint32(v)) }

// extend lengthens the code by n bytes and returns them. Reslicing a.buf
// in place writes only its length; an append writes the pointer too,
// with the collector's write barrier while it marks, which in a short
// run is much of the time: the barriers were a third of the time a
// block took to translate.
func (a *Asm) extend(n int) []byte {
	at := len(a.buf)
	if cap(a.buf)-at < n {
		a.buf = append(a.buf, make([]byte, n)...)[:at]
	}
	a.buf = a.buf[:at+n]
	return a.buf[at:]
}

// rex emits a REX prefix when one is needed: for 64-bit operands, for
// registers 8-15, or (force) for the byte registers SPL-DIL.
func (a *Asm) rex(w bool, reg, index, base Reg, force bool) {
	v := byte(0x40)
	if w {
		v |= 8
	}
	v |= byte(reg>>3&1)<<2 | byte(index>>3&1)<<1 | byte(base>>3&1)
	if v != 0x40 || force {
		a.byte1(v)
	}
}

// opRR emits opcode with a register-direct ModRM: reg field reg, r/m rm.
func (a *Asm) opRR(w bool, opcode []byte, reg, rm Reg, byteRegs bool) {
	a.rex(w, reg, 0, rm, byteRegs && (reg >= RSP || rm >= RSP))
	a.byte1(opcode...)
	a.byte1(0xc0 | byte(reg&7)<<3 | byte(rm&7))
}

// opRM emits opcode with a memory ModRM: reg field reg, operand m.
func (a *Asm) opRM(w bool, opcode []byte, reg Reg, m Mem, byteReg bool) {
	a.rex(w, reg, m.Index, m.Base, byteReg && reg >= RSP && reg < R8)
	a.byte1(opcode...)
	mod := byte(0x80)
	short := m.Disp >= -128 && m.Disp < 128
	switch {
	case m.Disp == 0 && m.Base&7 != RBP:
		mod = 0
	case short:
		mod = 0x40
	}
	if m.Index == noIndex && m.Base&7 != RSP {
		a.byte1(mod | byte(reg&7)<<3 | byte(m.Base&7))
	} else {
		// The SIB scale field is log2 of the scale. (A map literal here,
		// built anew on every indexed operand, was a fifth of the time
		// a block took to translate.)
		scale := byte(bits.TrailingZeros8(m.Scale)) & 3
		a.byte1(mod|byte(reg&7)<<3|4, scale<<6|byte(m.Index&7)<<3|byte(m.Base&7))
	}
	switch mod {
	case 0x40:
		a.byte1(byte(int8(m.Disp)))
	case 0x80:
		a.imm32(m.Disp)
	}
}
