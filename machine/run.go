package machine

// Run executes instructions until budget instructions have retired or an
// event stops the CPU. Nullified instructions count as retired; the
// instruction that stops the CPU does not.
//
// A traced run uses the handlers alone; otherwise c.Engine runs it.
func (c *CPU) Run(budget uint64) Stop {
	c.fetchBase, c.fetchCode = noPage, nil
	switch {
	case c.Trace != nil:
		return c.runTraced(budget)
	case c.Engine == EngineJIT:
		return c.runTranslated(budget)
	}
	return c.interpret(budget)
}

// interpret is the interpreter's Run. Most instructions run in runInline,
// which keeps the queue and the count in registers; step runs the
// others, one at a time, with their handlers.
func (c *CPU) interpret(budget uint64) Stop {
	end := c.Instructions + budget
	for c.Instructions != end {
		if c.runInline(end - c.Instructions); c.Instructions == end {
			break
		}
		if c.step() {
			return c.stop
		}
	}
	return Stop{Reason: StopBudget, PC: c.IAOQFront}
}

// noPage is a fetchBase no page address equals (pages are aligned).
const noPage = 1

// step executes the instruction at IAOQFront with its handler, or stops
// the CPU (c.stop says why) and returns true.
func (c *CPU) step() bool {
	pc := c.IAOQFront
	if pc&^pageMask != c.fetchBase && c.fetchSlow(pc) {
		return true
	}
	in := &c.fetchCode.insts[pc>>2%wordsPerPage]
	back := c.IAOQBack
	c.IAOQFront, c.IAOQBack = back, back+4
	if c.nullify {
		c.nullify = false
	} else if handlers[in.op](c, in) {
		c.IAOQFront, c.IAOQBack = pc, back
		c.stop.PC, c.stop.Word = pc, in.word
		return true
	}
	c.GR[0] = 0
	c.Instructions++
	return false
}

// runInline executes instructions of the fetch page for as long as they
// are ones it implements itself. It makes no calls, so that the queue, the
// count and the nullify bit stay in registers: Go keeps no register across
// a call, and a call in any case here makes the compiler keep them in
// memory for all. Its cases call the instructions' own functions, which
// the compiler inlines. Where an operation's handler is a general one (the
// forms of addi, subi and ds without condition, the loads and stores), or
// where an instruction's function is too big for the inliner (conditional
// branches, compare and clear), the case composes the same inlinable parts.
// It returns, with the state up to date, when budget instructions have
// retired, execution leaves the page, or the next instruction needs its
// handler: an operation it does not implement, or a load or store the
// access caches cannot do.
func (c *CPU) runInline(budget uint64) {
	front, back := c.IAOQFront, c.IAOQBack
	page, code, mem := c.fetchBase, c.fetchCode, c.Mem
	nullify := c.nullify
	if code == nil { // no fetch page yet (this test also spares the loop a nil check)
		return
	}
	var n uint64
run:
	for ; n != budget && front&^pageMask == page; n++ {
		in := &code.insts[front>>2%wordsPerPage]
		// A branch runs with the queue advanced (see branch) and
		// replaces next.
		next := back + 4
		if nullify {
			nullify = false
		} else {
			switch in.op {
			case opLdo:
				execLdo(c, in)
			case opLdil:
				execLdil(c, in)
			case opAddil:
				execAddil(c, in)
			case opAddL:
				execAddL(c, in)
			case opShAddL:
				execShAddL(c, in)
			case opAddFast:
				execAddFast(c, in)
			case opAddiFast:
				c.setSum(in, in.imm, c.GR[in.r1&31])
			case opAddcFast:
				execAddcFast(c, in)
			case opSubFast:
				execSubFast(c, in)
			case opSubiFast:
				c.setDifference(in, in.imm, c.GR[in.r1&31])
			case opUaddcmFast:
				execUaddcmFast(c, in)
			case opDsFast:
				_, _, s := c.divideStep(c.GR[in.r1&31], c.GR[in.r2&31])
				c.GR[in.t&31] = uint32(s)
			case opAndcm:
				execAndcm(c, in)
			case opAnd:
				execAnd(c, in)
			case opOr:
				execOr(c, in)
			case opXor:
				execXor(c, in)
			case opCmpclr:
				nullify = c.clearIf(in, holds(in.cf, subOutcome(c.GR[in.r1&31], c.GR[in.r2&31])))
			case opCmpiclr:
				nullify = c.clearIf(in, holds(in.cf, subOutcome(in.imm, c.GR[in.r1&31])))
			case opShd:
				nullify = c.setSed(in, c.shd(in))
			case opVshd:
				nullify = c.setSed(in, c.vshd(in))
			case opExtru:
				nullify = c.setSed(in, c.extru(in))
			case opExtrs:
				nullify = c.setSed(in, c.extrs(in))
			case opVextru:
				nullify = c.setSed(in, c.vextru(in))
			case opVextrs:
				nullify = c.setSed(in, c.vextrs(in))
			case opDep:
				nullify = c.setSed(in, c.dep(in))
			case opDepi:
				nullify = c.setSed(in, c.depi(in))
			case opVdep:
				nullify = c.setSed(in, c.vdep(in))
			case opVdepi:
				nullify = c.setSed(in, c.vdepi(in))
			case opBl:
				next, nullify = c.bl(in, back, next)
			case opBlr:
				next, nullify = c.blr(in, back, next)
			case opBv:
				next, nullify = c.bv(in, back, next)
			case opBve:
				next, nullify = c.bve(in, back, next)
			case opBe:
				next, nullify = c.be(in, back, next)
			case opCmpb:
				next, nullify = branchIf(in, holds(in.cf, subOutcome(c.GR[in.r1&31], c.GR[in.r2&31])), back, next)
			case opCmpib:
				next, nullify = branchIf(in, holds(in.cf, subOutcome(in.im5(), c.GR[in.r2&31])), back, next)
			case opAddb:
				next, nullify = branchIf(in, holds(in.cf, addOutcome(c.addTo(in, c.GR[in.r1&31]))), back, next)
			case opAddib:
				next, nullify = branchIf(in, holds(in.cf, addOutcome(c.addTo(in, in.im5()))), back, next)
			case opMovb:
				next, nullify = branchIf(in, sedCond(in.cf, c.moveTo(in, c.GR[in.r1&31])), back, next)
			case opMovib:
				next, nullify = branchIf(in, sedCond(in.cf, c.moveTo(in, in.im5())), back, next)
			case opBb:
				next, nullify = c.bb(in, back, next)
			case opBvb:
				next, nullify = c.bvb(in, back, next)
			case opLdbDisp:
				v, ok := mem.loads.load8(c.GR[in.r1&31] + in.imm)
				if !ok {
					break run
				}
				c.GR[in.t&31] = v
			case opLdhDisp:
				v, ok := mem.loads.load16(c.GR[in.r1&31] + in.imm)
				if !ok {
					break run
				}
				c.GR[in.t&31] = v
			case opLdwDisp:
				v, ok := mem.loads.load32(c.GR[in.r1&31] + in.imm)
				if !ok {
					break run
				}
				c.GR[in.t&31] = v
			case opLdb, opLdh, opLdw:
				addr, base := c.address(in)
				var v uint32
				var ok bool
				switch in.op {
				case opLdb:
					v, ok = mem.loads.load8(addr)
				case opLdh:
					v, ok = mem.loads.load16(addr)
				default:
					v, ok = mem.loads.load32(addr)
				}
				if !ok {
					break run
				}
				c.GR[in.r1&31] = base
				c.GR[in.t&31] = v
			case opStbDisp:
				if !mem.stores.store8(c.GR[in.r1&31]+in.imm, c.GR[in.t&31]) {
					break run
				}
			case opSthDisp:
				if !mem.stores.store16(c.GR[in.r1&31]+in.imm, c.GR[in.t&31]) {
					break run
				}
			case opStwDisp:
				if !mem.stores.store32(c.GR[in.r1&31]+in.imm, c.GR[in.t&31]) {
					break run
				}
			case opStb, opSth, opStw:
				addr, base := c.address(in)
				v := c.GR[in.t&31]
				var ok bool
				switch in.op {
				case opStb:
					ok = mem.stores.store8(addr, v)
				case opSth:
					ok = mem.stores.store16(addr, v)
				default:
					ok = mem.stores.store32(addr, v)
				}
				if !ok {
					break run
				}
				c.GR[in.r1&31] = base
			case opFldw:
				addr, base := c.address(in)
				v, ok := mem.loads.load32(addr)
				if !ok {
					break run
				}
				c.GR[in.r1&31] = base
				c.setFPWord(in.t, v)
			case opFldd:
				addr, base := c.address(in)
				v, ok := mem.loads.load64(addr)
				if !ok {
					break run
				}
				c.GR[in.r1&31] = base
				c.FP.R[in.t&31] = v
			case opFstw:
				addr, base := c.address(in)
				if !mem.stores.store32(addr, c.fpWord(in.t)) {
					break run
				}
				c.GR[in.r1&31] = base
			case opFstd:
				addr, base := c.address(in)
				if !mem.stores.store64(addr, c.FP.R[in.t&31]) {
					break run
				}
				c.GR[in.r1&31] = base
			case opNop:
			case opMfsar:
				execMfsar(c, in)
			case opMtsar:
				execMtsar(c, in)
			default:
				break run
			}
		}
		c.GR[0] = 0
		front, back = back, next
	}
	c.IAOQFront, c.IAOQBack, c.nullify = front, back, nullify
	c.Instructions += n
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
// It uses only the handlers, so comparing a traced run with an untraced
// one tests runInline.
func (c *CPU) runTraced(budget uint64) Stop {
	for range budget {
		pc := c.IAOQFront
		word, err := c.Mem.LoadWord(pc &^ 3)
		if err == nil && pc >= PageSize {
			c.Trace(pc, word, c.nullify)
		}
		if c.step() {
			return c.stop
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
