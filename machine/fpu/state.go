// Package fpu is the PA-RISC 1.1 floating-point coprocessor: its register
// file, status register and the arithmetic, comparison and conversion
// operations with PA-RISC semantics (its NaN encodings, rounding modes,
// exception flags and traps). Results never depend on the host CPU.
package fpu

// State is the coprocessor's architectural state.
//
// R[i] holds fr<i> as a 64-bit double register; its more significant half is
// the single-precision register fr<i>L and its less significant half fr<i>R.
// The upper half of R[0] is the status register; the lower half of R[0] and
// R[1]..R[3] are the exception registers.
type State struct {
	R [32]uint64
}
