package jit

import "golang.org/x/sys/cpu"

// HasBMI2 says whether the host has BMI2, whose Rorx32 rotates into
// another register without a copy first.
var HasBMI2 = cpu.X86.HasBMI2
