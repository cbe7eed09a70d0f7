package jit

import "golang.org/x/sys/cpu"

// HasBMI2 says whether the host has BMI2, whose Rorx32 rotates into
// another register without a copy first.
var HasBMI2 = cpu.X86.HasBMI2

// HasFMA says whether the host has the fused multiply-add instructions
// (FMA3) that FusedMulAdd231 emits.
var HasFMA = cpu.X86.HasFMA
