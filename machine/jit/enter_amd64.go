//go:build linux && amd64

package jit

// Enter calls the generated code at code with state in RDI and returns
// what it leaves in EAX. The code may clobber every register but RSP and
// RBP, and must restore R14 and R15 (Go's goroutine register, and the
// global offset table's in dynamically linked code) before it returns;
// it may push nothing beyond its return address.
//
//go:noescape
func Enter(code, state uintptr) uint32
