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
	t, err := c.Mem.attachTranslator()
	if err != nil {
		slog.Warn("binary translator unavailable; interpreting", "err", err)
		c.Engine = EngineInterp
		return c.interpret(budget)
	}
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

// stepBlock has the interpreter execute the instructions from the front
// of the queue to the end of their straight line (the delay slot of a
// branch taken, or the end of the page), at most maxBlockLength steps
// and not past end: a cold block, run without translating it (see
// translator.prepare). The instructions before a branch go through the
// interpreter's inline loop, as they do without the translator: one
// step at a time cost three times as much, and most of a short
// program's instructions are cold. It reports whether the CPU stopped.
func (c *CPU) stepBlock(end uint64) bool {
	for range maxBlockLength {
		if c.Instructions == end {
			return false
		}
		pc := c.IAOQFront
		if c.IAOQBack == pc+4 && pc&^pageMask == c.fetchBase {
			c.runInline(min(end-c.Instructions, uint64(c.fetchCode.straightAt(pc))))
			if c.Instructions == end || c.IAOQFront&pageMask == 0 {
				return false
			}
			pc = c.IAOQFront // what stopped the inline loop, the branch or an instruction it leaves to step
		}
		if c.step() {
			return true
		}
		if c.IAOQFront != pc+4 || c.IAOQFront&pageMask == 0 {
			return false
		}
	}
	return false
}
