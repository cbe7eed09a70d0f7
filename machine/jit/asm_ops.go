package jit

// The instructions generated code uses. Names follow the Intel mnemonics;
// a 32 or 64 suffix gives the operand size, and the destination comes
// first.

// Load32 is mov dst, dword [m].
func (a *Asm) Load32(dst Reg, m Mem) { a.opRM(false, []byte{0x8b}, dst, m, false) }

// Load64 is mov dst, qword [m].
func (a *Asm) Load64(dst Reg, m Mem) { a.opRM(true, []byte{0x8b}, dst, m, false) }

// Load8 is movzx dst, byte [m].
func (a *Asm) Load8(dst Reg, m Mem) { a.opRM(false, []byte{0x0f, 0xb6}, dst, m, false) }

// Load16 is movzx dst, word [m].
func (a *Asm) Load16(dst Reg, m Mem) { a.opRM(false, []byte{0x0f, 0xb7}, dst, m, false) }

// Store32 is mov dword [m], src.
func (a *Asm) Store32(m Mem, src Reg) { a.opRM(false, []byte{0x89}, src, m, false) }

// Store64 is mov qword [m], src.
func (a *Asm) Store64(m Mem, src Reg) { a.opRM(true, []byte{0x89}, src, m, false) }

// Store16 is mov word [m], src.
func (a *Asm) Store16(m Mem, src Reg) {
	a.byte1(0x66)
	a.opRM(false, []byte{0x89}, src, m, false)
}

// Store8 is mov byte [m], src.
func (a *Asm) Store8(m Mem, src Reg) { a.opRM(false, []byte{0x88}, src, m, true) }

// StoreImm32 is mov dword [m], v.
func (a *Asm) StoreImm32(m Mem, v uint32) {
	a.opRM(false, []byte{0xc7}, 0, m, false)
	a.imm32(int32(v))
}

// MovImm32 is mov dst, v (zero-extended to 64 bits).
func (a *Asm) MovImm32(dst Reg, v uint32) {
	a.rex(false, 0, 0, dst, false)
	a.byte1(0xb8 + byte(dst&7))
	a.imm32(int32(v))
}

// Mov32 is mov dst, src (zero-extending to 64 bits).
func (a *Asm) Mov32(dst, src Reg) { a.opRR(false, []byte{0x89}, src, dst, false) }

// Mov64 is mov dst, src.
func (a *Asm) Mov64(dst, src Reg) { a.opRR(true, []byte{0x89}, src, dst, false) }

// ALU32 is op dst, src.
func (a *Asm) ALU32(op ALU, dst, src Reg) { a.opRR(false, []byte{byte(op)<<3 | 1}, src, dst, false) }

// ALU64 is op dst, src on 64 bits.
func (a *Asm) ALU64(op ALU, dst, src Reg) { a.opRR(true, []byte{byte(op)<<3 | 1}, src, dst, false) }

// ALUImm32 is op dst, v.
func (a *Asm) ALUImm32(op ALU, dst Reg, v uint32) {
	a.opRR(false, []byte{0x81}, Reg(op), dst, false)
	a.imm32(int32(v))
}

// ALUImm64 is op dst, v (v sign-extended to 64 bits).
func (a *Asm) ALUImm64(op ALU, dst Reg, v int32) {
	a.opRR(true, []byte{0x81}, Reg(op), dst, false)
	a.imm32(v)
}

// ALUMem32 is op dst, dword [m].
func (a *Asm) ALUMem32(op ALU, dst Reg, m Mem) { a.opRM(false, []byte{byte(op)<<3 | 3}, dst, m, false) }

// CmpMem64 is cmp qword [m], src.
func (a *Asm) CmpMem64(m Mem, src Reg) { a.opRM(true, []byte{0x39}, src, m, false) }

// CmpMem32 is cmp dword [m], src.
func (a *Asm) CmpMem32(m Mem, src Reg) { a.opRM(false, []byte{0x39}, src, m, false) }

// Test32 is test dst, src.
func (a *Asm) Test32(dst, src Reg) { a.opRR(false, []byte{0x85}, src, dst, false) }

// TestImm32 is test dst, v.
func (a *Asm) TestImm32(dst Reg, v uint32) {
	a.opRR(false, []byte{0xf7}, 0, dst, false)
	a.imm32(int32(v))
}

// Not32 is not dst.
func (a *Asm) Not32(dst Reg) { a.opRR(false, []byte{0xf7}, 2, dst, false) }

// ShiftImm32 is op dst, n.
func (a *Asm) ShiftImm32(op Shift, dst Reg, n uint8) {
	a.opRR(false, []byte{0xc1}, Reg(op), dst, false)
	a.byte1(n)
}

// ShiftImm64 is op dst, n on 64 bits.
func (a *Asm) ShiftImm64(op Shift, dst Reg, n uint8) {
	a.opRR(true, []byte{0xc1}, Reg(op), dst, false)
	a.byte1(n)
}

// ShiftCL32 is op dst, cl.
func (a *Asm) ShiftCL32(op Shift, dst Reg) { a.opRR(false, []byte{0xd3}, Reg(op), dst, false) }

// ShiftCL64 is op dst, cl on 64 bits.
func (a *Asm) ShiftCL64(op Shift, dst Reg) { a.opRR(true, []byte{0xd3}, Reg(op), dst, false) }

// Bswap32 is bswap dst.
func (a *Asm) Bswap32(dst Reg) {
	a.rex(false, 0, 0, dst, false)
	a.byte1(0x0f, 0xc8+byte(dst&7))
}

// Lea64 is lea dst, [m].
func (a *Asm) Lea64(dst Reg, m Mem) { a.opRM(true, []byte{0x8d}, dst, m, false) }

// Lea32 is lea dst32, [m]: the address truncated to 32 bits.
func (a *Asm) Lea32(dst Reg, m Mem) { a.opRM(false, []byte{0x8d}, dst, m, false) }

// Setcc is setcc dst8; the rest of dst is unchanged.
func (a *Asm) Setcc(cc Cond, dst Reg) { a.opRR(false, []byte{0x0f, 0x90 + byte(cc)}, 0, dst, true) }

// Movzx8 is movzx dst32, src8.
func (a *Asm) Movzx8(dst, src Reg) { a.opRR(false, []byte{0x0f, 0xb6}, dst, src, true) }

// Cmov32 is cmovcc dst, src.
func (a *Asm) Cmov32(cc Cond, dst, src Reg) {
	a.opRR(false, []byte{0x0f, 0x40 + byte(cc)}, dst, src, false)
}

// Jmp is jmp l.
func (a *Asm) Jmp(l Label) {
	a.byte1(0xe9)
	a.fixups = append(a.fixups, fixup{at: len(a.buf), label: l})
	a.imm32(0)
}

// Jcc is jcc l.
func (a *Asm) Jcc(cc Cond, l Label) {
	a.byte1(0x0f, 0x80+byte(cc))
	a.fixups = append(a.fixups, fixup{at: len(a.buf), label: l})
	a.imm32(0)
}

// JmpAbs is a jump to the absolute address of code placed at at: rel32
// from where this jump ends up. It needs to know where the code will be
// placed (base, the address of the code's first byte).
func (a *Asm) JmpAbs(base, target uintptr) {
	a.byte1(0xe9)
	end := base + uintptr(len(a.buf)) + 4
	a.imm32(int32(target - end))
}

// JmpNext is a jump to the instruction after it, whose rel32 field (at
// the returned offset) can be patched later to go elsewhere.
func (a *Asm) JmpNext() (site int) {
	a.byte1(0xe9)
	a.imm32(0)
	return len(a.buf) - 4
}

// JmpMem is jmp qword [m].
func (a *Asm) JmpMem(m Mem) { a.opRM(false, []byte{0xff}, 4, m, false) }

// Ret is ret.
func (a *Asm) Ret() { a.byte1(0xc3) }

// Bswap64 is bswap dst on 64 bits.
func (a *Asm) Bswap64(dst Reg) {
	a.rex(true, 0, 0, dst, false)
	a.byte1(0x0f, 0xc8+byte(dst&7))
}

// Imul64 is imul dst, src on 64 bits (the low 64 bits of the product).
func (a *Asm) Imul64(dst, src Reg) { a.opRR(true, []byte{0x0f, 0xaf}, dst, src, false) }

// Rorx32 is rorx dst, src, n (BMI2): src rotated right by n, flags
// unchanged.
func (a *Asm) Rorx32(dst, src Reg, n uint8) {
	// The three-byte VEX prefix: R and B inverted, map 0F3A; W0, no
	// second source (vvvv all ones), L0, prefix F2.
	a.byte1(0xc4, 0xe3^byte(dst>>3&1)<<7^byte(src>>3&1)<<5, 0x7b, 0xf0, 0xc0|byte(dst&7)<<3|byte(src&7), n)
}
