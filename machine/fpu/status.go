package fpu

// The floating-point status register, the upper half of fr0.
const (
	// Enables (traps) and flags (sticky), one bit per exception in the
	// same order: inexact, underflow, overflow, division by zero, invalid.
	enableShift = 0
	flagShift   = 27

	statusD   = 1 << 5 // denormalized numbers as zero (flush.go)
	rmShift   = 9      // two bits: rounding mode
	statusCQ  = 0x7ff << 11
	statusCQ0 = 1 << 21 // the newest entry of the compare queue
	statusC   = 1 << 26 // the compare bit FTEST tests
	allFlags  = 0x1f
	caShift   = 21 // targeted compare bits CA[y-1] count down from here
)

// Exception bits, as in the enable field.
const (
	excInexact   = 1 << 0
	excUnderflow = 1 << 1
	excOverflow  = 1 << 2
	excDivZero   = 1 << 3
	excInvalid   = 1 << 4
)

// Rounding modes of the RM field.
type roundingMode uint8

const (
	roundNearest roundingMode = iota
	roundZero
	roundUp   // toward +infinity
	roundDown // toward -infinity
)

func (s *State) status() uint32     { return uint32(s.R[0] >> 32) }
func (s *State) setStatus(v uint32) { s.R[0] = uint64(v)<<32 | s.R[0]&0xffffffff }

// raise records the exceptions an operation signalled in the sticky flags.
// If any of them is enabled the operation traps and its result is not
// written. As in QEMU 7.2, the flags of a trapping operation are set as
// well, and neither the T bit nor the exception registers change: QEMU does
// not model how real hardware describes a delayed trap there.
func (s *State) raise(exc uint32) bool {
	if exc == 0 {
		return false
	}
	st := s.status() | exc<<flagShift
	s.setStatus(st)
	return exc&st&allFlags != 0
}
