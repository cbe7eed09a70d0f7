//go:build linux && amd64

package machine

import (
	"log/slog"

	"github.com/synodvm/synod/machine/jit"
)

// runTranslated is Run with EngineJIT: generated code runs the blocks it
// has, and this loop translates what it is missing and has the
// interpreter execute what it does not do itself. Either way the count
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
		allowed := min(end-c.Instructions, maxEntryInstructions)
		t.state.load(c)
		t.state.budget = allowed
		reason := jit.Enter(t.entry, t.data.Addr())
		t.state.save(c)
		left := t.state.budget
		c.Instructions += allowed - left
		step := reason == exitStep
		switch reason {
		case exitLookup:
			found, err := t.lookup(c.Mem, c.IAOQFront, c.nullify)
			if err != nil {
				slog.Warn("binary translator failed; interpreting", "err", err)
				c.Engine = EngineInterp
				return c.interpret(end - c.Instructions)
			}
			step = !found
		case exitBudget:
			if stop := c.interpret(left); stop.Reason != StopBudget {
				return stop
			}
		}
		// The block before the exit may have spent the budget.
		if step && c.Instructions != end && c.step() {
			return c.stop
		}
	}
	return Stop{Reason: StopBudget, PC: c.IAOQFront}
}
