package machine

// Run executes instructions until budget instructions have retired or an
// event stops the CPU. The interpreter is not written yet: every
// instruction stops as illegal.
func (c *CPU) Run(budget uint64) Stop {
	return Stop{Reason: StopIllegal, PC: c.IAOQFront}
}

// PSW returns the processor status word as user code and signal frames see
// it (carry/borrow bits, V, N).
func (c *CPU) PSW() uint32 { return 0 }

// SetPSW restores the user-visible PSW bits, as rt_sigreturn does.
func (c *CPU) SetPSW(v uint32) {}
