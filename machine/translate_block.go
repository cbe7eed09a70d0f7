//go:build linux && amd64

package machine

import "github.com/synodvm/synod/machine/jit"

// maxBlockLength bounds the instructions of a block.
const maxBlockLength = 64

// nullState is what translation knows of PSW[N] before an instruction.
type nullState uint8

const (
	nullClear nullState = iota // the instruction runs
	nullSet                    // the instruction is nullified
	nullInReg                  // rNull says
)

// A block is straight-line code from its entry: it ends after the delay
// slot of its first branch, before an instruction it does not translate,
// at the end of its page, or after maxBlockLength instructions. Its
// length is what it retires when it runs to its end, so that one
// comparison with the budget, on entry, decides whether it may run.
type blockBuilder struct {
	t     *translator
	a     *jit.Asm
	code  *codePage
	base  uintptr // where the code will be placed
	entry uint32  // the front the block starts at, privilege bits included
	// length is the number of instructions the block retires when it
	// runs to its end.
	length int
	null   nullState
	exits  []blockExit
	sites  []chainSite
	regs   regCache
	page   reusablePage
	// outOfLine is code emitted after the block's, off its straight
	// path: the access caches' lookups that a reused page spares.
	outOfLine []func()
	// guarded is set while an instruction that rNull may nullify is
	// emitted without a branch around it (see guardedOp).
	guarded bool
}

// nextSpec is where the queue goes: a known address or, after an
// indirect branch, rNext.
type nextSpec struct {
	addr   uint32
	inNext bool
}

// blockExit is a return to runTranslated from within a block, emitted
// out of line after the block's code.
type blockExit struct {
	at     jit.Label
	front  uint32
	back   nextSpec
	null   nullState
	refund int // instructions of the block's length not retired
	reason uint32
	dirty  []pendingWrite // what the register cache must write back first
}

// addr is the address of the block's i-th instruction.
func (b *blockBuilder) addr(i int) uint32 { return b.entry + 4*uint32(i) }

// inst is the decoded i-th instruction, or nil when it lies on another page.
func (b *blockBuilder) inst(i int) *inst {
	a := b.addr(i)
	if a&^pageMask != b.code.base || a < b.entry {
		return nil
	}
	return &b.code.insts[a>>2%wordsPerPage]
}

// plan sets the block's length and returns how many of its instructions
// precede the one it ends with: a branch (with its delay slot), or one it
// does not translate (then i == length).
func (b *blockBuilder) plan(nullified bool) (end int) {
	if b.entry&3 != 3 {
		return 0 // only user code is translated
	}
	for i := range maxBlockLength {
		in := b.inst(i)
		switch {
		case in == nil:
			b.length = i
			return i
		case i == 0 && nullified:
			continue // skipped, whatever it is
		case isBranch(in.op):
			if b.inst(i+1) == nil || !translatable(in) {
				b.length = i
				return i
			}
			b.length = i + 2
			return i
		case !translatable(in):
			b.length = i
			return i
		}
	}
	b.length = maxBlockLength
	return maxBlockLength
}

// build emits the block for the given entry nullify bit.
func (b *blockBuilder) build(nullified bool) {
	if nullified {
		b.null = nullSet
	}
	end := b.plan(nullified)
	if b.length > 0 {
		b.exits = append(b.exits, blockExit{at: b.a.NewLabel(), front: b.entry, back: nextSpec{addr: b.entry + 4},
			null: b.null, refund: b.length, reason: exitBudget})
		b.a.ALUImm64(jit.SUB, rBudget, int32(b.length))
		b.a.Jcc(jit.CondL, b.exits[0].at)
	}
	for i := range end {
		b.instruction(i, nextSpec{addr: b.addr(i) + 4})
	}
	switch in := b.inst(end); {
	case end == b.length && end == maxBlockLength, in == nil:
		b.leave(nextSpec{addr: b.addr(end)})
	case end == b.length:
		b.a.Jmp(b.exit(end, nextSpec{addr: b.addr(end) + 4}, b.null, exitStep))
	default:
		b.branch(in, end)
	}
	for _, emit := range b.outOfLine {
		emit()
	}
	for _, e := range b.exits {
		b.emitExit(e)
	}
}

// instruction emits the i-th instruction, a non-branch, honouring the
// nullify bit: back is the back of the queue while it executes.
func (b *blockBuilder) instruction(i int, back nextSpec) {
	in := b.inst(i)
	switch b.null {
	case nullSet:
		b.null = nullClear
	case nullClear:
		b.null = b.op(in, i, back).after()
	case nullInReg:
		b.null = nullClear
		if guardedOp(in) {
			b.guarded = true
			b.op(in, i, back)
			b.guarded = false
			b.a.MovImm32(rNull, 0)
			return
		}
		// Both paths reach the skip label with nothing dirty, so that
		// what either wrote is in the state memory after it.
		b.writeBack()
		skip := b.a.NewLabel()
		skipped, page := b.regs, b.page
		b.a.Test32(rNull, rNull)
		b.a.MovImm32(rNull, 0) // leaves the flags alone
		b.a.Jcc(jit.CondNE, skip)
		r := b.op(in, i, back)
		b.writeBack()
		if r == resultAlways {
			b.a.MovImm32(rNull, 1)
		}
		b.a.Bind(skip)
		b.regs.meet(skipped)
		if b.page != page {
			b.page = reusablePage{} // found on one path only
		}
		if r == resultInReg || r == resultAlways {
			b.null = nullInReg
		}
	}
}

// pathState is what translation knows at a point two paths of code
// start from: what the register cache holds and the reusable page.
type pathState struct {
	regs regCache
	page reusablePage
}

// fork returns what translation knows here, for resume to start the
// second of two paths from.
func (b *blockBuilder) fork() pathState { return pathState{regs: b.regs, page: b.page} }

// resume starts emitting a path from s, what was known where it starts.
func (b *blockBuilder) resume(s pathState) { b.regs, b.page = s.regs, s.page }

// leave continues at next with the current nullify bit: through a jump
// that chaining can point at the next block when both are known, else
// through dispatch.
func (b *blockBuilder) leave(next nextSpec) {
	b.writeBack()
	if !next.inNext && b.null != nullInReg {
		b.sites = append(b.sites, chainSite{offset: b.a.JmpNext(), target: blockKey(next.addr, b.null == nullSet)})
	}
	if !next.inNext {
		b.a.MovImm32(rNext, next.addr)
	}
	switch b.null {
	case nullClear:
		b.a.MovImm32(rNull, 0)
	case nullSet:
		b.a.MovImm32(rNull, 1)
	}
	b.a.JmpAbs(b.base, b.t.dispatch)
}

// exit returns a label to jump to for leaving to runTranslated before the
// i-th instruction, with the queue at (its address, back), from a point
// where the register cache holds what it holds now: the exit writes back
// what is dirty.
func (b *blockBuilder) exit(i int, back nextSpec, null nullState, reason uint32) jit.Label {
	e := blockExit{at: b.a.NewLabel(), front: b.addr(i), back: back, null: null, refund: b.length - i, reason: reason,
		dirty: b.regs.pendingWrites()}
	b.exits = append(b.exits, e)
	return e.at
}

func (b *blockBuilder) emitExit(e blockExit) {
	a := b.a
	a.Bind(e.at)
	for _, w := range e.dirty {
		a.Store32(gr(w.guest), w.host)
	}
	if e.refund != 0 {
		a.ALUImm64(jit.ADD, rBudget, int32(e.refund))
	}
	if e.back.inNext {
		a.Mov32(rBack, rNext)
	} else {
		a.MovImm32(rBack, e.back.addr)
	}
	a.MovImm32(rNext, e.front)
	switch e.null {
	case nullClear:
		a.MovImm32(rNull, 0)
	case nullSet:
		a.MovImm32(rNull, 1)
	}
	a.MovImm32(jit.RAX, e.reason)
	a.JmpAbs(b.base, b.t.leave)
}
