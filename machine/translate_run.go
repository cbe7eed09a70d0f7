//go:build linux && amd64

package machine

import (
	"log/slog"

	"github.com/synodvm/synod/machine/jit"
)

// runTranslated is Run with EngineJIT: generated code runs the blocks it
// has, and this loop translates what it is missing once it is warm and
// has the interpreter execute what is still cold and what generated code
// does not do itself. Either way the count
// is exact: a block runs only when the budget covers all of it, and an
// exit in its middle gives back what it did not retire.
func (c *CPU) runTranslated(budget uint64) Stop {
	if m := c.Mem; m.translator == nil && m.interpreted < interpretFirst {
		n := min(budget, interpretFirst-m.interpreted)
		start := c.Instructions
		stop := c.interpret(n)
		m.interpreted += c.Instructions - start
		if stop.Reason != StopBudget || n == budget {
			return stop
		}
		budget -= n
	}
	t := c.Mem.attachTranslator()
	end := c.Instructions + budget
	for c.Instructions != end {
		if c.IAOQBack != c.IAOQFront+4 || c.GR[0] != 0 {
			// A delay slot entered from outside a block (after a
			// stop, or a branch the interpreter executed), or a
			// state no block expects: one instruction at a time.
			if c.step() {
				return c.stop
			}
			continue
		}
		enterable, err := t.prepare(c.Mem, c.IAOQFront, c.nullify)
		if err != nil {
			slog.Warn("binary translator failed; interpreting", "err", err)
			c.Engine = EngineInterp
			return c.interpret(end - c.Instructions)
		}
		if !enterable {
			if c.stepBlock(end) {
				return c.stop
			}
			continue
		}
		allowed := min(end-c.Instructions, maxEntryInstructions)
		t.state.load(c)
		t.state.budget = allowed
		reason := jit.Enter(t.entry, t.data.Addr())
		t.state.save(c)
		left := t.state.budget
		c.Instructions += allowed - left
		switch reason {
		case exitBudget:
			if stop := c.interpret(left); stop.Reason != StopBudget {
				return stop
			}
		case exitStep:
			// The block before the exit may have spent the budget.
			if c.Instructions != end && c.step() {
				return c.stop
			}
		}
		// After exitLookup, the loop's next turn looks the block up.
	}
	return Stop{Reason: StopBudget, PC: c.IAOQFront}
}

// stepBlock has the interpreter run a cold block (see translator.prepare)
// from the front of the queue to the end of its straight line: the delay
// slot of a branch taken, or the end of the page, but not past end. Each
// line, up to its branch's delay slot, goes through the interpreter's
// inline loop, as it does without the translator: stepping instructions
// one at a time cost three times as much, stepping the branch and its
// delay slot alone made a cold block cost half as much again as the
// interpreter, and most of a short program's instructions are cold. It
// reports whether the CPU stopped.
func (c *CPU) stepBlock(end uint64) bool {
	for range maxBlockLength { // lines, each after a branch not taken
		pc := c.IAOQFront
		if pc&^pageMask != c.fetchBase && c.fetchSlow(pc) {
			return true
		}
		line := uint32(c.fetchCode.straightAt(pc)) + 2 // through the branch and its delay slot
		stop := min(end, c.Instructions+uint64(line))
		for c.Instructions != stop { // each turn retires an instruction at least
			if c.IAOQBack == c.IAOQFront+4 && c.IAOQFront&^pageMask == c.fetchBase {
				if c.runInline(stop - c.Instructions); c.Instructions == stop {
					break
				}
				if c.IAOQFront&^pageMask != c.fetchBase {
					return false // the line ran off its page
				}
			}
			if c.step() {
				return true
			}
		}
		if c.Instructions == end || c.IAOQFront != pc+4*line || c.IAOQBack != c.IAOQFront+4 {
			return false // the branch was taken, or the budget is spent
		}
	}
	return false
}
