package machine

// The interpreter's loads and stores. Each checks mapping, rights and
// natural alignment in one test on its fast path and reports failure
// with false; the handler then asks accessFault for the reason.

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

// writable returns the page holding addr if it may be written.
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

// accessFault fills c.stop for a failed access of size bytes at addr and
// returns true, so a handler can end with `return c.accessFault(…)`.
// Misalignment is reported first, as the hardware checks it first.
func (c *CPU) accessFault(addr, size uint32, write bool) bool {
	f := &Fault{Addr: addr, Write: write}
	reason := StopFault
	if p := c.Mem.pages[addr>>PageShift]; addr&(size-1) != 0 {
		reason = StopUnaligned
	} else if p == nil {
		f.Unmapped = true
	}
	c.stop = Stop{Reason: reason, Fault: f}
	return true
}
