package fpu

// The floating-point status register, the upper half of fr0.
const (
	// Enables (traps) and flags (sticky), one bit per exception in the
	// same order: inexact, underflow, overflow, division by zero, invalid.
	enableShift = 0
	flagShift   = 27

	statusT     = 1 << 6 // a trapping operation is recorded in the exception registers
	rmShift     = 9      // two bits: rounding mode
	statusCQ    = 0x7ff << 11
	statusCQ0   = 1 << 21 // the newest entry of the compare queue
	statusC     = 1 << 26 // the compare bit FTEST tests
	allFlags    = 0x1f
	caShift     = 21 // targeted compare bits CA[y-1] count down from here
	statusCAAll = 0x7f << 15
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

func (s *State) roundingMode() roundingMode { return roundingMode(s.status() >> rmShift & 3) }

// raise records the exceptions an operation signalled. If any of them is
// enabled the operation traps: its result is not written and the T bit
// and exception register 1 (the lower half of fr0) say what happened, as
// the kernel's SIGFPE handling expects.
func (s *State) raise(exc uint32) bool {
	if exc == 0 {
		return false
	}
	st := s.status() | exc<<flagShift
	if exc&st&allFlags != 0 {
		s.R[0] = uint64(st|statusT)<<32 | uint64(exc<<flagShift)
		return true
	}
	s.setStatus(st)
	return false
}
