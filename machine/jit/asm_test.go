package jit

import (
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The expected bytes are GNU as's encodings of the same instructions
// (where as picks a shorter immediate form, the rel32/imm32 form the
// encoder always uses is written out instead).
func TestEncodings(t *testing.T) {
	tests := []struct {
		name string
		emit func(a *Asm)
		want string
	}{
		{"mov eax,[rdi+8]", func(a *Asm) { a.Load32(RAX, At(RDI, 8)) }, "8b4708"},
		{"mov r13d,[rdi+200]", func(a *Asm) { a.Load32(R13, At(RDI, 200)) }, "448bafc8000000"},
		{"mov rsi,[rdi+152]", func(a *Asm) { a.Load64(RSI, At(RDI, 152)) }, "488bb798000000"},
		{"movzx r8d,byte [rdx+rax]", func(a *Asm) { a.Load8(R8, Indexed(RDX, RAX, 1, 0)) }, "440fb60402"},
		{"movzx ecx,word [r12+rax+4]", func(a *Asm) { a.Load16(RCX, Indexed(R12, RAX, 1, 4)) }, "410fb74c0404"},
		{"mov [rdi+124],r9d", func(a *Asm) { a.Store32(At(RDI, 124), R9) }, "44894f7c"},
		{"mov byte [rdx+rax],sil", func(a *Asm) { a.Store8(Indexed(RDX, RAX, 1, 0), RSI) }, "40883402"},
		{"mov word [rdx+rax],r8w", func(a *Asm) { a.Store16(Indexed(RDX, RAX, 1, 0), R8) }, "6644890402"},
		{"mov dword [rdi+140],imm", func(a *Asm) { a.StoreImm32(At(RDI, 140), 0x12345678) }, "c7878c00000078563412"},
		{"mov r12d,imm", func(a *Asm) { a.MovImm32(R12, 0x10003) }, "41bc03000100"},
		{"mov eax,r13d", func(a *Asm) { a.Mov32(RAX, R13) }, "4489e8"},
		{"add ecx,r8d", func(a *Asm) { a.ALU32(ADD, RCX, R8) }, "4401c1"},
		{"sub rsi,rax", func(a *Asm) { a.ALU64(SUB, RSI, RAX) }, "4829c6"},
		{"sub rsi,7", func(a *Asm) { a.ALUImm64(SUB, RSI, 7) }, "4881ee07000000"},
		{"cmp [rbx+rcx],r8d", func(a *Asm) { a.CmpMem32(Indexed(RBX, RCX, 1, 0), R8) }, "4439040b"},
		{"cmp qword [rbx+rcx],rax", func(a *Asm) { a.CmpMem64(Indexed(RBX, RCX, 1, 0), RAX) }, "4839040b"},
		{"test r13d,r13d", func(a *Asm) { a.Test32(R13, R13) }, "4585ed"},
		{"shl eax,3", func(a *Asm) { a.ShiftImm32(SHL, RAX, 3) }, "c1e003"},
		{"shr rax,cl", func(a *Asm) { a.ShiftCL64(SHR, RAX) }, "48d3e8"},
		{"bswap r9d", func(a *Asm) { a.Bswap32(R9) }, "410fc9"},
		{"lea rax,[r13+rax*2]", func(a *Asm) { a.Lea64(RAX, Indexed(R13, RAX, 2, 0)) }, "498d444500"},
		{"lea eax,[rcx+r8*4-8]", func(a *Asm) { a.Lea32(RAX, Indexed(RCX, R8, 4, -8)) }, "428d4481f8"},
		{"setl r13b", func(a *Asm) { a.Setcc(CondL, R13) }, "410f9cc5"},
		{"setb sil", func(a *Asm) { a.Setcc(CondB, RSI) }, "400f92c6"},
		{"movzx eax,r13b", func(a *Asm) { a.Movzx8(RAX, R13) }, "410fb6c5"},
		{"cmovne r12d,ecx", func(a *Asm) { a.Cmov32(CondNE, R12, RCX) }, "440f45e1"},
		{"jmp [rbx+rcx+8]", func(a *Asm) { a.JmpMem(Indexed(RBX, RCX, 1, 8)) }, "ff640b08"},
		{"and ecx,0xff0", func(a *Asm) { a.ALUImm32(AND, RCX, 0xff0) }, "81e1f00f0000"},
		{"add eax,[rdi+4]", func(a *Asm) { a.ALUMem32(ADD, RAX, At(RDI, 4)) }, "034704"},
		{"ret", func(a *Asm) { a.Ret() }, "c3"},
		{"bswap r8", func(a *Asm) { a.Bswap64(R8) }, "490fc8"},
		{"imul rax,rcx", func(a *Asm) { a.Imul64(RAX, RCX) }, "480fafc1"},
		{"rorx ecx,eax,8", func(a *Asm) { a.Rorx32(RCX, RAX, 8) }, "c4e37bf0c808"},
		{"rorx r8d,r14d,18", func(a *Asm) { a.Rorx32(R8, R14, 18) }, "c4437bf0c612"},
		{"rorx edx,r11d,8", func(a *Asm) { a.Rorx32(RDX, R11, 8) }, "c4c37bf0d308"},
		{"movsd xmm1,[rdi+200]", func(a *Asm) { a.LoadScalar(true, X1, At(RDI, 200)) }, "f20f108fc8000000"},
		{"movss xmm0,[rdi+196]", func(a *Asm) { a.LoadScalar(false, X0, At(RDI, 196)) }, "f30f1087c4000000"},
		{"movsd [rdi+8],xmm2", func(a *Asm) { a.StoreScalar(true, At(RDI, 8), X2) }, "f20f115708"},
		{"movss [rdi+8],xmm0", func(a *Asm) { a.StoreScalar(false, At(RDI, 8), X0) }, "f30f114708"},
		{"addsd xmm0,xmm1", func(a *Asm) { a.Scalar(ADDS, true, X0, X1) }, "f20f58c1"},
		{"subss xmm0,xmm1", func(a *Asm) { a.Scalar(SUBS, false, X0, X1) }, "f30f5cc1"},
		{"mulsd xmm0,xmm1", func(a *Asm) { a.Scalar(MULS, true, X0, X1) }, "f20f59c1"},
		{"divss xmm2,xmm3", func(a *Asm) { a.Scalar(DIVS, false, X2, X3) }, "f30f5ed3"},
		{"sqrtsd xmm0,xmm0", func(a *Asm) { a.Scalar(SQRT, true, X0, X0) }, "f20f51c0"},
		{"ucomisd xmm0,xmm1", func(a *Asm) { a.Ucomis(true, X0, X1) }, "660f2ec1"},
		{"ucomiss xmm0,xmm1", func(a *Asm) { a.Ucomis(false, X0, X1) }, "0f2ec1"},
		{"cvtsd2ss xmm0,xmm1", func(a *Asm) { a.Cvtsd2ss(X0, X1) }, "f20f5ac1"},
		{"cvtsi2sd xmm0,r8d", func(a *Asm) { a.Cvtsi2sd32(X0, R8) }, "f2410f2ac0"},
		{"xorps xmm1,xmm1", func(a *Asm) { a.Xorps(X1, X1) }, "0f57c9"},
		{"movq rax,xmm0", func(a *Asm) { a.MovFromX(true, RAX, X0) }, "66480f7ec0"},
		{"movd r9d,xmm1", func(a *Asm) { a.MovFromX(false, R9, X1) }, "66410f7ec9"},
		{"btc rax,63", func(a *Asm) { a.BitImm64(BTC, RAX, 63) }, "480fbaf83f"},
		{"btr rcx,63", func(a *Asm) { a.BitImm64(BTR, RCX, 63) }, "480fbaf13f"},
		{"vfmadd231sd xmm2,xmm0,xmm1", func(a *Asm) { a.FusedMulAdd231(false, true, X2, X0, X1) }, "c4e2f9b9d1"},
		{"vfnmadd231ss xmm2,xmm0,xmm1", func(a *Asm) { a.FusedMulAdd231(true, false, X2, X0, X1) }, "c4e279bdd1"},
		{"vfmadd231sd xmm0,xmm3,xmm2", func(a *Asm) { a.FusedMulAdd231(false, true, X0, X3, X2) }, "c4e2e1b9c2"},
		{"bts rax,63", func(a *Asm) { a.BitImm64(BTS, RAX, 63) }, "480fbae83f"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a Asm
			tt.emit(&a)
			code, err := a.Finish()
			require.NoError(t, err)
			assert.Equal(t, tt.want, hex.EncodeToString(code))
		})
	}
}

func TestJumpsResolve(t *testing.T) {
	var a Asm
	back, fwd := a.NewLabel(), a.NewLabel()
	a.Bind(back)
	a.Jcc(CondE, fwd) // 6 bytes
	a.Jmp(back)       // 5 bytes
	a.Bind(fwd)
	code, err := a.Finish()
	require.NoError(t, err)
	assert.Equal(t, "0f8405000000"+"e9f5ffffff", hex.EncodeToString(code))
}

func TestUnboundLabelIsAnError(t *testing.T) {
	var a Asm
	a.Jmp(a.NewLabel())
	_, err := a.Finish()
	assert.Error(t, err)
}
