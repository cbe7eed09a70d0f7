//go:build linux && amd64

package jit

// Enter calls the generated code at code with state in RDI and returns
// what it leaves in EAX. The code may clobber every register but RSP,
// RBP, R14 and R15, and may push nothing beyond its return address.
//
//go:noescape
func Enter(code, state uintptr) uint32
