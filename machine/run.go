package machine

// Run executes instructions until budget instructions have retired or an
// event stops the CPU. Nullified instructions count as retired; the
// instruction that stops the CPU does not.
func (c *CPU) Run(budget uint64) Stop {
	if c.Trace != nil {
		return c.runTraced(budget)
	}
	return c.run(budget)
}

// noPage is a fetchBase no page address equals (pages are aligned).
const noPage = 1

func (c *CPU) run(budget uint64) Stop {
	c.fetchBase, c.fetchCode = noPage, nil
	end := c.Instructions + budget
	for c.Instructions != end {
		pc := c.IAOQFront
		if pc&^pageMask != c.fetchBase && c.fetchSlow(pc) {
			return c.stop
		}
		in := &c.fetchCode.insts[pc>>2&(wordsPerPage-1)]
		back := c.IAOQBack
		c.IAOQFront, c.IAOQBack = back, back+4
		if c.nullify {
			c.nullify = false
		} else if in.exec(c, in) {
			c.IAOQFront, c.IAOQBack = pc, back
			c.stop.PC, c.stop.Word = pc, in.word
			return c.stop
		}
		c.GR[0] = 0
		c.Instructions++
	}
	return Stop{Reason: StopBudget, PC: c.IAOQFront}
}

// fetchSlow makes the page of pc the current fetch page, decoding it on
// its first use, or stops the CPU: at the gateway page, or when the page
// is missing or not executable.
func (c *CPU) fetchSlow(pc uint32) bool {
	addr := pc &^ 3
	if addr < PageSize {
		c.stop = Stop{Reason: StopGateway, PC: pc}
		if c.nullify {
			// The gateway's first instruction would be skipped; the
			// kernel's entry code cannot work that way.
			c.stop.Reason = StopIllegal
		}
		return true
	}
	code := c.Mem.code(addr)
	if code == nil {
		c.stop = Stop{Reason: StopFault, PC: pc, Fault: &Fault{Addr: addr, Unmapped: c.Mem.pageAt(addr) == nil}}
		return true
	}
	c.fetchBase, c.fetchCode = addr&^pageMask, code
	return false
}

// runTraced runs one instruction at a time, reporting each to c.Trace.
func (c *CPU) runTraced(budget uint64) Stop {
	for range budget {
		pc := c.IAOQFront
		word, err := c.Mem.LoadWord(pc &^ 3)
		if err == nil && pc >= PageSize {
			c.Trace(pc, word, c.nullify)
		}
		if stop := c.run(1); stop.Reason != StopBudget {
			return stop
		}
	}
	return Stop{Reason: StopBudget, PC: c.IAOQFront}
}

// PSW bits user code and signal frames see.
const (
	pswN         = 1 << 21 // nullify the next instruction
	pswV         = 1 << 17 // divide step correction
	pswCarryBits = 8       // PSW[C/B]: bit 8+k is the carry out of nibble k
)

// PSW returns the processor status word as user code and signal frames see
// it: the carry/borrow bits, V and N.
func (c *CPU) PSW() uint32 {
	var psw uint32
	for k := range 7 {
		psw |= c.carryIn >> (4*k + 4) & 1 << (pswCarryBits + k)
	}
	psw |= c.carryOut << (pswCarryBits + 7)
	if c.divStep {
		psw |= pswV
	}
	if c.nullify {
		psw |= pswN
	}
	return psw
}

// SetPSW restores the user-visible PSW bits, as rt_sigreturn does.
func (c *CPU) SetPSW(v uint32) {
	c.carryIn = 0
	for k := range 7 {
		c.carryIn |= v >> (pswCarryBits + k) & 1 << (4*k + 4)
	}
	c.carryOut = v >> (pswCarryBits + 7) & 1
	c.divStep = v&pswV != 0
	c.nullify = v&pswN != 0
}
