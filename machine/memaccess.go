package machine

// The interpreter's loads and stores. Each checks mapping, rights and
// natural alignment in one test on its fast path and reports failure
// with false; the handler then takes the slow path (readSlow, writeSlow),
// which performs a misaligned access or stops the CPU with the fault.
//
// The processor traps misaligned accesses, but PA-RISC Linux's handler
// (arch/parisc/kernel/unaligned.c) completes them for user programs, and
// so does qemu-hppa's user mode: a misaligned load or store reads or
// writes its bytes one at a time, all or none, and faults at the first
// byte whose page refuses the access. Only ldcw must be aligned.

func (m *Memory) read8(addr uint32) (uint32, bool) {
	p := m.pages[addr>>PageShift]
	if p == nil || p.prot&ProtRead == 0 {
		return 0, false
	}
	return uint32(p.data[addr&pageMask]), true
}

func (m *Memory) read16(addr uint32) (uint32, bool) {
	p := m.pages[addr>>PageShift]
	if p == nil || p.prot&ProtRead == 0 || addr&1 != 0 {
		return 0, false
	}
	off := addr & (pageMask &^ 1)
	b := p.data[off : off+2]
	return uint32(b[0])<<8 | uint32(b[1]), true
}

func (m *Memory) read32(addr uint32) (uint32, bool) {
	p := m.pages[addr>>PageShift]
	if p == nil || p.prot&ProtRead == 0 || addr&3 != 0 {
		return 0, false
	}
	off := addr & (pageMask &^ 3)
	b := p.data[off : off+4]
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]), true
}

func (m *Memory) read64(addr uint32) (uint64, bool) {
	p := m.pages[addr>>PageShift]
	if p == nil || p.prot&ProtRead == 0 || addr&7 != 0 {
		return 0, false
	}
	off := addr & (pageMask &^ 7)
	b := p.data[off : off+8]
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7]), true
}

// writable returns the page a store to addr may write, marking its
// contents changed, or nil.
func (m *Memory) writable(addr uint32) *page {
	p := m.pages[addr>>PageShift]
	if p == nil || p.prot&ProtWrite == 0 {
		return nil
	}
	p.hashed = false
	return p
}

func (m *Memory) write8(addr, v uint32) bool {
	p := m.writable(addr)
	if p == nil {
		return false
	}
	off := addr & pageMask
	p.data[off] = byte(v)
	if p.code != nil {
		p.redecode(off, 1)
	}
	return true
}

func (m *Memory) write16(addr, v uint32) bool {
	p := m.writable(addr)
	if p == nil || addr&1 != 0 {
		return false
	}
	off := addr & (pageMask &^ 1)
	b := p.data[off : off+2]
	b[0], b[1] = byte(v>>8), byte(v)
	if p.code != nil {
		p.redecode(off, 2)
	}
	return true
}

func (m *Memory) write32(addr, v uint32) bool {
	p := m.writable(addr)
	if p == nil || addr&3 != 0 {
		return false
	}
	off := addr & (pageMask &^ 3)
	b := p.data[off : off+4]
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	if p.code != nil {
		p.redecode(off, 4)
	}
	return true
}

func (m *Memory) write64(addr uint32, v uint64) bool {
	p := m.writable(addr)
	if p == nil || addr&7 != 0 {
		return false
	}
	off := addr & (pageMask &^ 7)
	b := p.data[off : off+8]
	b[0], b[1], b[2], b[3] = byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32)
	b[4], b[5], b[6], b[7] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	if p.code != nil {
		p.redecode(off, 8)
	}
	return true
}

// readSlow is a load of size bytes at addr that failed its fast path:
// a misaligned access is done a byte at a time; a refused one stops the
// CPU with the fault and returns false.
func (c *CPU) readSlow(addr, size uint32) (uint64, bool) {
	if _, refused := c.Mem.firstRefused(addr, size, ProtRead); refused {
		c.accessFault(addr, size, false)
		return 0, false
	}
	var v uint64
	for i := range size {
		b, _ := c.Mem.read8(addr + i)
		v = v<<8 | uint64(b)
	}
	return v, true
}

// writeSlow is a store of the low size bytes of v at addr that failed its
// fast path, like readSlow: nothing is written when any byte is refused.
func (c *CPU) writeSlow(addr, size uint32, v uint64) bool {
	if _, refused := c.Mem.firstRefused(addr, size, ProtWrite); refused {
		c.accessFault(addr, size, true)
		return false
	}
	for i := range size {
		c.Mem.write8(addr+i, uint32(v>>(8*(size-1-i))))
	}
	return true
}

// firstRefused returns the first of the size bytes at addr whose page
// does not grant right, if there is one. An access of up to 8 bytes
// touches at most two pages: addr's and the one of its last byte.
func (m *Memory) firstRefused(addr, size uint32, right Prot) (uint32, bool) {
	if p := m.pages[addr>>PageShift]; p == nil || p.prot&right == 0 {
		return addr, true
	}
	lastPage := (addr + size - 1) &^ pageMask
	if p := m.pages[lastPage>>PageShift]; p == nil || p.prot&right == 0 {
		return lastPage, true
	}
	return 0, false
}

// accessFault fills c.stop for a refused access of size bytes at addr and
// returns true, so a handler can end with `return c.accessFault(…)`. The
// fault is at the first refused byte.
func (c *CPU) accessFault(addr, size uint32, write bool) bool {
	right := ProtRead
	if write {
		right = ProtWrite
	}
	at, _ := c.Mem.firstRefused(addr, size, right)
	f := &Fault{Addr: at, Write: write, Unmapped: c.Mem.pages[at>>PageShift] == nil}
	c.stop = Stop{Reason: StopFault, Fault: f}
	return true
}
