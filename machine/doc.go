// Package machine is the PA-RISC 1.1 processor: decode, execute, registers,
// PSW, space and control registers, memory and instruction counting.
//
// It is pure and deterministic: no goroutines, no clocks, no files, no
// network, and no dependence on map iteration order. Everything that could
// differ between two runs enters through the caller (package machine/linux
// and the replica runtime above it), so two CPUs given the same memory and
// registers execute the same instructions and end in the same state.
//
// The caller drives a CPU with Run, which executes until an instruction
// budget is spent or an event needs the operating system: a branch into the
// gateway page (system calls), a BREAK, an illegal instruction, a memory
// fault or a trap. The CPU then stops with IAOQ pointing at the instruction
// concerned, so the caller can emulate the kernel's response and resume.
package machine
