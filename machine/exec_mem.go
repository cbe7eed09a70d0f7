package machine

// Loads and stores. Base-plus-displacement accesses without base
// modification (the bulk of all memory traffic) have their own operations,
// so that runInline computes their address in one addition; their handlers
// are those of the other forms, which go through address().

// address returns the effective address of a load or store and the value
// GR[b] holds afterwards: for ,ma (modPost) the access uses GR[b] and the
// base then moves by the offset; for ,mb (modPre) the base moves first.
func (c *CPU) address(in *inst) (addr, base uint32) {
	base = c.GR[in.r1&31]
	off := in.imm
	if in.fl&flIndexed != 0 {
		off = c.GR[in.r2&31] << (in.pos & 31)
	}
	switch in.aux {
	case modPost:
		return base, base + off
	case modPre:
		return base + off, base + off
	}
	return base + off, base
}

// loadOp chooses the operation of a load of size bytes.
func loadOp(size uint8, in *inst) opcode {
	simple := in.aux == modNone && in.fl&flIndexed == 0
	switch {
	case size == 1 && simple:
		return opLdbDisp
	case size == 2 && simple:
		return opLdhDisp
	case size == 4 && simple:
		return opLdwDisp
	case size == 1:
		return opLdb
	case size == 2:
		return opLdh
	}
	return opLdw
}

// storeOp chooses the operation of a store of size bytes.
func storeOp(size uint8, in *inst) opcode {
	simple := in.aux == modNone
	switch {
	case size == 1 && simple:
		return opStbDisp
	case size == 2 && simple:
		return opSthDisp
	case size == 4 && simple:
		return opStwDisp
	case size == 1:
		return opStb
	case size == 2:
		return opSth
	}
	return opStw
}

func execLdb(c *CPU, in *inst) bool { return c.load(in, 1) }
func execLdh(c *CPU, in *inst) bool { return c.load(in, 2) }
func execLdw(c *CPU, in *inst) bool { return c.load(in, 4) }

// load is the general load of size bytes. When the target is also the
// base register, the loaded value wins over the base modification.
func (c *CPU) load(in *inst, size uint32) bool {
	addr, base := c.address(in)
	var v uint32
	var ok bool
	switch size {
	case 1:
		v, ok = c.Mem.read8(addr)
	case 2:
		v, ok = c.Mem.read16(addr)
	default:
		v, ok = c.Mem.read32(addr)
	}
	if !ok {
		slow, ok := c.readSlow(addr, size)
		if !ok {
			return true
		}
		v = uint32(slow)
	}
	c.GR[in.r1&31] = base
	c.GR[in.t&31] = v
	return false
}

func execStb(c *CPU, in *inst) bool { return c.store(in, 1) }
func execSth(c *CPU, in *inst) bool { return c.store(in, 2) }
func execStw(c *CPU, in *inst) bool { return c.store(in, 4) }

// store is the general store of size bytes. The fields of in are read
// before memory changes, since a store may rewrite its own instruction.
func (c *CPU) store(in *inst, size uint32) bool {
	addr, base := c.address(in)
	b, v := in.r1&31, c.GR[in.t&31]
	var ok bool
	switch size {
	case 1:
		ok = c.Mem.write8(addr, v)
	case 2:
		ok = c.Mem.write16(addr, v)
	default:
		ok = c.Mem.write32(addr, v)
	}
	if !ok && !c.writeSlow(addr, size, uint64(v)) {
		return true
	}
	c.GR[b] = base
	return false
}

// execLdcw is load and clear word, the PA-RISC semaphore primitive. It
// is the one access that must be aligned: the kernel does not complete a
// misaligned ldcw (nor does qemu-hppa), the program gets SIGBUS.
func execLdcw(c *CPU, in *inst) bool {
	addr, base := c.address(in)
	b, t := in.r1&31, in.t&31
	if addr&3 != 0 {
		c.stop = Stop{Reason: StopUnaligned, Fault: &Fault{Addr: addr}}
		return true
	}
	v, ok := c.Mem.read32(addr)
	if !ok {
		return c.accessFault(addr, 4, false)
	}
	if !c.Mem.write32(addr, 0) {
		return c.accessFault(addr, 4, true)
	}
	c.GR[b] = base
	c.GR[t] = v
	return false
}

// execStbyBegin is stby,b: store the bytes of GR[t] from addr to the end
// of its word (the right-hand bytes of the register).
func execStbyBegin(c *CPU, in *inst) bool {
	addr, base := c.address(in)
	b, v, modify := in.r1&31, c.GR[in.t&31], in.aux == modPost
	n := 4 - addr&3
	word := [4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
	if !c.Mem.writeInWord(addr, word[4-n:]) {
		return c.accessFault(addr, 1, true)
	}
	c.setStbyBase(modify, b, base)
	return false
}

// execStbyEnd is stby,e: store the left-hand bytes of GR[t] from the start
// of addr's word up to addr. Nothing is stored when addr is aligned, but
// the rights are still checked.
func execStbyEnd(c *CPU, in *inst) bool {
	addr, base := c.address(in)
	b, v, modify := in.r1&31, c.GR[in.t&31], in.aux == modPost
	n := addr & 3
	word := [4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
	if !c.Mem.writeInWord(addr-n, word[:n]) {
		return c.accessFault(addr, 1, true)
	}
	c.setStbyBase(modify, b, base)
	return false
}

// setStbyBase applies stby's ,m completer: the base moves to the word
// boundary at or below base+displacement.
func (c *CPU) setStbyBase(modify bool, b uint8, base uint32) {
	if modify {
		c.GR[b] = base &^ 3
	}
}

// writeInWord writes src (at most the rest of one aligned word) at addr,
// all or nothing; an empty src only checks the write right.
func (m *Memory) writeInWord(addr uint32, src []byte) bool {
	if len(src) == 0 {
		p := m.pageAt(addr)
		return p != nil && p.prot&ProtWrite != 0
	}
	return m.writeUncached(addr, src)
}

// execProbe sets GR[t] to 1 when the page at GR[b] grants the right in
// in.aux (read or write), else 0. Like qemu-hppa's user mode, it ignores
// the privilege level operand: every access here is at user level.
func execProbe(c *CPU, in *inst) bool {
	prot, ok := c.Mem.Mapped(c.GR[in.r1&31])
	c.GR[in.t&31] = b2u(ok && prot&Prot(in.aux) != 0)
	return false
}

// execCacheModify is a cache flush (fdc, fic, pdc) with ,m: caches are
// invisible here, so only the base register moves by the index.
func execCacheModify(c *CPU, in *inst) bool {
	c.GR[in.r1&31] += c.GR[in.r2&31]
	return false
}
