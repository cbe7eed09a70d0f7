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

	// Engine says how Run executes instructions.
	Engine Engine

	// Trace, when non-nil, is called before every instruction with its
	// address (privilege bits included), its word, and whether it is
	// nullified. Run takes a separate, slower path while it is set.
	Trace func(pc, word uint32, nullified bool)

	// PSW state, kept in the form the interpreter uses; PSW and SetPSW
	// convert. nullify is PSW[N]: the next instruction is skipped.
	nullify bool
	// divStep is PSW[V], which only the divide step (ds) sets and uses.
	divStep bool
	// The carry/borrow bits of the last instruction that set them: carryIn
	// holds, in bit i, the carry into bit i; carryOut the carry out of
	// bit 31. The PSW's eight nibble carries are derived from them.
	carryIn, carryOut uint32

	stop Stop // filled by a handler that stops the CPU

	// The page instructions were last fetched from, so that the next
	// fetch from it is one comparison. Reset on entry to Run, since the
	// caller may have changed the mappings.
	fetchBase uint32
	fetchCode *codePage
}

// Control register numbers user code may use.
const (
	crIntervalTimer = 16
	crSAR           = 11
)

// StopReason says why Run returned.
type StopReason uint8

const (
	StopBudget             StopReason = iota // the instruction budget is spent
	StopGateway                              // IAOQFront is in the gateway page (page 0): a system call or light-weight syscall
	StopBreak                                // a BREAK instruction (Stop.Word holds it)
	StopIllegal                              // an instruction that is undefined or not implemented (SIGILL)
	StopPrivileged                           // a privileged instruction in user mode (SIGILL ILL_PRVOPC)
	StopFault                                // a memory access the page table refused (SIGSEGV; Stop.Fault says which)
	StopUnaligned                            // a misaligned ldcw (SIGBUS); other misaligned accesses are performed
	StopTrap                                 // a conditional or overflow trap (SIGFPE)
	StopFPE                                  // an enabled floating-point exception (SIGFPE)
	StopPrivilegedRegister                   // a privileged space or control register in user mode (SIGILL ILL_PRVREG)
)

// Stop reports the event that ended Run. IAOQFront/IAOQBack point at the
// instruction concerned (for StopGateway: the gateway entry address), so the
// caller can emulate the kernel and resume by calling Run again. The
// instruction concerned has not retired and is not counted in
// Instructions; reaching the gateway page retires nothing either (the
// branch that got there and its delay slot are counted).
type Stop struct {
	Reason StopReason
	PC     uint32 // address of the instruction concerned
	Word   uint32 // its instruction word (zero for StopBudget and StopGateway)
	Fault  *Fault // for StopFault and StopUnaligned
	// Overflow, for StopTrap, tells a signed-overflow trap (the ,tsv
	// forms: SIGFPE with FPE_INTOVF) from a conditional trap (the ,tc
	// forms: FPE_CONDTRAP).
	Overflow bool
}
