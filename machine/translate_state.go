//go:build linux && amd64

package machine

import "unsafe"

// guestState is the guest state generated code works on, kept in memory
// outside the Go heap (jit.Data) at fixed offsets (the st constants,
// which TestStateLayout checks against the struct). runTranslated copies a CPU's state
// in before entering generated code and out after; between entries the
// CPU struct holds it, so the interpreter and everything else see one
// state.
type guestState struct {
	gr       [32]uint32
	sar      uint32 // CR11, five bits
	carryIn  uint32
	carryOut uint32
	divStep  uint32 // PSW[V], 0 or 1
	front    uint32 // the IAOQ on entry and exit
	back     uint32
	nullify  uint32 // PSW[N], 0 or 1
	_        uint32
	budget   uint64  // instructions the code may still retire
	loads    uintptr // &Memory.loads
	stores   uintptr // &Memory.stores
	table    uintptr // the dispatch table
	fr       [32]uint64
	// The host's R14 and R15 while generated code runs.
	savedR14, savedR15 uint64
	// reusePage is the data of the page a load or store of the block
	// running found in the access caches, for the accesses after it in
	// the same page (see reusablePage).
	reusePage uintptr
	// CR26 and CR27, which user code reads (mfctl: the thread pointer)
	// and only the kernel writes.
	threadCR [2]uint32
}

// Offsets of guestState's fields, as generated code addresses them.
const (
	stGR        = 0
	stSAR       = 128
	stCarryIn   = 132
	stCarryOut  = 136
	stDivStep   = 140
	stFront     = 144
	stBack      = 148
	stNullify   = 152
	stBudget    = 160
	stLoads     = 168
	stStores    = 176
	stTable     = 184
	stFR        = 192
	stSavedR14  = 448
	stSavedR15  = 456
	stReusePage = 464
	stThreadCR  = 472
)

// The access caches' layout, which generated code reads.
const (
	cachedPageShift = 4
	cachedPageSize  = 1 << cachedPageShift
	cachedPageData  = 8
)

// load copies c's state in.
func (s *guestState) load(c *CPU) {
	s.gr, s.fr = c.GR, c.FP.R
	s.sar = c.CR[crSAR]
	s.threadCR = [2]uint32{c.CR[26], c.CR[27]}
	s.carryIn, s.carryOut, s.divStep = c.carryIn, c.carryOut, b2u(c.divStep)
	s.front, s.back, s.nullify = c.IAOQFront, c.IAOQBack, b2u(c.nullify)
	s.loads = uintptr(unsafe.Pointer(&c.Mem.loads))
	s.stores = uintptr(unsafe.Pointer(&c.Mem.stores))
}

// save copies the state out to c.
func (s *guestState) save(c *CPU) {
	c.GR, c.FP.R = s.gr, s.fr
	c.CR[crSAR] = s.sar
	c.carryIn, c.carryOut, c.divStep = s.carryIn, s.carryOut, s.divStep != 0
	c.IAOQFront, c.IAOQBack, c.nullify = s.front, s.back, s.nullify != 0
}
