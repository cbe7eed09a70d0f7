package machine

import "github.com/synodvm/synod/machine/fpu"

// inst is one decoded instruction: what it does and the fields it needs,
// extracted once when its page is first executed from. Records live in the
// page's codePage, one per word, so a record always knows its own address
// and pc-relative targets are stored absolute. A record holds no pointers,
// so the collector does not scan code pages.
type inst struct {
	word uint32 // the instruction word as fetched
	// imm is the immediate, the displacement, or the absolute target
	// (without privilege bits) of a pc-relative branch.
	imm uint32
	op  opcode
	r1  uint8 // first source: base register of loads and stores
	r2  uint8 // second source, or the index register of a load or store
	t   uint8 // target register, or the register a store writes to memory
	// cf is the condition: c<<1|f for arithmetic, logical and unit
	// conditions, the 3-bit c field for shift/extract/deposit.
	cf  uint8
	aux uint8 // shift amount, field length, modify mode, … (per handler)
	pos uint8 // bit position of shift/extract/deposit; scale of indexed access
	// straight is 0 until codePage.straightAt measures it, then 1 + the
	// number of instructions from this one to the first branch at or
	// after it on its page (0 for a branch), at most maxStraight: where
	// the translator's run loop has the interpreter run a cold block up
	// to its branch. Counting it there, every time a cold block ran, cost
	// more than running the block; measuring every page at decode added
	// a tenth to decoding, which the interpreter does not use (in the
	// padding before fl, so inst stays 28 bytes).
	straight uint8
	fl       flags
	fp       fpu.Op // the decoded coprocessor operation of opFP
}

// handler executes one instruction. It returns true when the CPU must
// stop before the instruction retires (c.stop says why); it must then
// leave every register as it found it.
type handler func(c *CPU, in *inst) bool

// flags are per-instruction options of the generic handlers.
type flags uint16

const (
	flNullifyTaken   flags = 1 << iota // ,n on a conditional branch that goes forward: nullify when taken
	flNullifyUntaken                   // ,n on a conditional branch that goes backward: nullify when not taken
	flNullify                          // ,n on an unconditional branch
	flCarryIn                          // add/sub with carry/borrow (addc, subb)
	flLogical                          // add,l: PSW carry bits untouched
	flTrapOverflow                     // …o forms: trap on signed overflow
	flTrapCond                         // …t forms: trap when the condition holds
	flIndexed                          // the offset is GR[r2] << pos, not imm
	flKeep                             // dep, depi: keep the target's bits around the field
)

// im5 is the signed 5-bit immediate that compare-, add- and move-and-branch
// instructions keep in pos.
func (in *inst) im5() uint32 { return uint32(int8(in.pos)) }

// Modify modes of loads and stores (inst.aux).
const (
	modNone = iota
	modPost // the access uses GR[b]; then GR[b] += displacement
	modPre  // GR[b] += displacement; the access uses the new GR[b]
)

// wordsPerPage is the number of instruction slots in a page.
const wordsPerPage = PageSize / 4

// codePage is the decoded form of an executed page.
type codePage struct {
	base  uint32 // address of the page
	insts [wordsPerPage]inst
}

// decodeAll decodes every word of data, the contents of the page at base.
func decodeAll(data *pageData, base uint32) *codePage {
	cp := &codePage{base: base}
	for i := range cp.insts {
		a := uint32(i) * 4
		cp.insts[i] = decode(be32(data[a:a+4]), base+a)
	}
	return cp
}

// redecode refreshes the decoded words overlapping [off, off+n) after a
// write to data, the contents of the page.
func (cp *codePage) redecode(data *pageData, off, n uint32) {
	if n == 0 {
		return
	}
	for a := off &^ 3; a < off+n; a += 4 {
		cp.insts[a/4] = decode(be32(data[a:a+4]), cp.base+a)
	}
	// The lines measured through the rewritten words: words measured
	// are measured to the end of their line, so the first one not
	// measured ends the search.
	for i := int(off/4) - 1; i >= 0 && cp.insts[i].straight != 0 && !isBranch(cp.insts[i].op); i-- {
		cp.insts[i].straight = 0
	}
}

// isBranch reports whether op changes the queue (it has a delay slot).
func isBranch(op opcode) bool {
	switch op {
	case opBl, opBlr, opBv, opBve, opBe, opCmpb, opCmpib, opAddb, opAddib, opMovb, opMovib, opBb, opBvb, opGate:
		return true
	}
	return false
}

// maxStraight caps the lengths straightAt measures.
const maxStraight = 1<<8 - 2

// straightAt is the number of instructions from the one at pc to the
// first branch at or after it on its page, at most maxStraight: measured
// on first use, with every word of the line up to a word measured before.
func (cp *codePage) straightAt(pc uint32) int {
	first := int(pc >> 2 % wordsPerPage)
	if s := cp.insts[first].straight; s != 0 {
		return int(s) - 1
	}
	i, rest := first, 0 // rest: the length from i on
	for ; i < wordsPerPage; i++ {
		in := &cp.insts[i]
		if in.straight != 0 {
			rest = int(in.straight) - 1
			break
		}
		if isBranch(in.op) {
			in.straight = 1
			break
		}
	}
	for i--; i >= first; i-- {
		rest = min(rest+1, maxStraight)
		cp.insts[i].straight = uint8(rest + 1)
	}
	return rest
}

func be32(b []byte) uint32 {
	_ = b[3]
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
