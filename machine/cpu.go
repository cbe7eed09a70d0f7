package machine

import "github.com/synodvm/synod/machine/fpu"

// CPU is one PA-RISC 1.1 processor context. Guest threads each have a CPU;
// they share one Memory.
type CPU struct {
	GR [32]uint32 // general registers; GR[0] always reads as zero
	SR [8]uint32  // space registers
	CR [32]uint32 // control registers; user code sees SAR (CR11) and the thread pointer (CR27)

	// The instruction address offset queue: the address of the instruction
	// about to execute, and of the one after it (which differs from
	// IAOQFront+4 when IAOQFront is the delay slot of a taken branch).
	IAOQFront, IAOQBack uint32

	FP  fpu.State
	Mem *Memory

	// Instructions counts instructions retired by this CPU, nullified ones
	// included. It is the basis of guest-visible time.
	Instructions uint64
}

// StopReason says why Run returned.
type StopReason uint8

const (
	StopBudget     StopReason = iota // the instruction budget is spent
	StopGateway                      // IAOQFront is in the gateway page (page 0): a system call or light-weight syscall
	StopBreak                        // a BREAK instruction (Stop.Word holds it)
	StopIllegal                      // an instruction that is undefined or not implemented (SIGILL)
	StopPrivileged                   // a privileged instruction or register in user mode (SIGILL)
	StopFault                        // a memory access the page table refused (SIGSEGV; Stop.Fault says which)
	StopUnaligned                    // a misaligned load or store (SIGBUS)
	StopTrap                         // a conditional or overflow trap (SIGFPE)
	StopFPE                          // an enabled floating-point exception (SIGFPE)
)

// Stop reports the event that ended Run. IAOQFront/IAOQBack point at the
// instruction concerned (for StopGateway: the gateway entry address), so the
// caller can emulate the kernel and resume by calling Run again.
type Stop struct {
	Reason StopReason
	PC     uint32 // address of the instruction concerned
	Word   uint32 // its instruction word (zero for StopBudget and StopGateway)
	Fault  *Fault // for StopFault and StopUnaligned
}
