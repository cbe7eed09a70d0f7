//go:build linux && amd64

#include "textflag.h"

// func Enter(code, state uintptr) uint32
// The CALL pushes the only word generated code puts on the stack: its
// return address, within the guard a NOSPLIT function may use.
TEXT ·Enter(SB), NOSPLIT, $0-20
	MOVQ code+0(FP), AX
	MOVQ state+8(FP), DI
	CALL AX
	MOVL AX, ret+16(FP)
	RET
