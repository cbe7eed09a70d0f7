package machine

import "encoding/binary"

// The interpreter's loads and stores. Their fast path is one comparison
// against an access cache, which checks mapping, rights and natural
// alignment at once; on a miss the page table is walked and the cache
// filled. An access that still fails takes the handler's slow path
// (readSlow, writeSlow), which performs a misaligned access or stops the
// CPU with the fault.
//
// The processor traps misaligned accesses, but PA-RISC Linux's handler
// (arch/parisc/kernel/unaligned.c) completes them for user programs, and
// so does qemu-hppa's user mode: a misaligned load or store reads or
// writes its bytes one at a time, all or none, and faults at the first
// byte whose page refuses the access. Only ldcw must be aligned.

// accessCacheSize is the number of pages an accessCache translates.
const accessCacheSize = 64

// accessCache is a direct-mapped cache of page translations, indexed by
// the low bits of the page number. Memory keeps one for loads, holding
// only readable pages, and one for stores, holding only writable pages
// whose contents exist and that hold no decoded code (so a cached store
// needs neither to allocate nor to re-decode). Entering the store cache
// counts as writing the page for the state hash. Whatever changes a
// mapping or its rights empties both caches; a page's first write and its
// first execution drop it from the cache that would then be wrong.
type accessCache [accessCacheSize]cachedPage

type cachedPage struct {
	addr uint32 // the page's address, or notAPage
	data *pageData
}

// notAPage is an address no page has: its low bits are set, and no access
// compares its address with them set (see lookup).
const notAPage = pageMask

func (a *accessCache) clear() {
	for i := range a {
		a[i] = cachedPage{addr: notAPage}
	}
}

func (a *accessCache) slot(addr uint32) *cachedPage {
	return &a[addr>>PageShift%accessCacheSize]
}

// drop removes the page at pageAddr.
func (a *accessCache) drop(pageAddr uint32) {
	if e := a.slot(pageAddr); e.addr == pageAddr {
		*e = cachedPage{addr: notAPage}
	}
}

// lookup returns the contents of addr's page if the cache holds it and
// addr is a multiple of size (1, 2, 4 or 8), or nil. Both tests are one
// comparison: the address with its in-page bits cleared, but for those
// that must be zero for alignment, against the cached page address.
func (a *accessCache) lookup(addr, size uint32) *pageData {
	if e := a.slot(addr); e.addr == addr&^(pageMask&^(size-1)) {
		return e.data
	}
	return nil
}

// loadable returns the contents of addr's page for an aligned load of
// size bytes, or nil when the page refuses reads or addr is misaligned.
func (m *Memory) loadable(addr, size uint32) *pageData {
	if d := m.loads.lookup(addr, size); d != nil {
		return d
	}
	return m.fillLoads(addr, size)
}

// fillLoads is loadable for a page the load cache does not hold.
func (m *Memory) fillLoads(addr, size uint32) *pageData {
	p := m.pageAt(addr)
	if p == nil || p.prot&ProtRead == 0 || addr&(size-1) != 0 {
		return nil
	}
	d := p.contents()
	*m.loads.slot(addr) = cachedPage{addr &^ pageMask, d}
	return d
}

// storable returns the contents of addr's page for an aligned store of
// size bytes, creating them if need be, and the page's decoded code (nil
// when there is none), which the caller must refresh; or nil when the page
// refuses writes or addr is misaligned.
func (m *Memory) storable(addr, size uint32) (*pageData, *codePage) {
	if d := m.stores.lookup(addr, size); d != nil {
		return d, nil
	}
	return m.fillStores(addr, size)
}

// fillStores is storable for a page the store cache does not hold.
func (m *Memory) fillStores(addr, size uint32) (*pageData, *codePage) {
	p := m.pageAt(addr)
	if p == nil || p.prot&ProtWrite == 0 || addr&(size-1) != 0 {
		return nil, nil
	}
	d := m.write(addr>>PageShift, p)
	if p.code == nil {
		*m.stores.slot(addr) = cachedPage{addr &^ pageMask, d}
	}
	return d, p.code
}

func (m *Memory) read8(addr uint32) (uint32, bool) {
	d := m.loadable(addr, 1)
	if d == nil {
		return 0, false
	}
	return uint32(d[addr&pageMask]), true
}

func (m *Memory) read16(addr uint32) (uint32, bool) {
	d := m.loadable(addr, 2)
	if d == nil {
		return 0, false
	}
	return uint32(binary.BigEndian.Uint16(d[addr&(pageMask&^1):])), true
}

func (m *Memory) read32(addr uint32) (uint32, bool) {
	d := m.loadable(addr, 4)
	if d == nil {
		return 0, false
	}
	return binary.BigEndian.Uint32(d[addr&(pageMask&^3):]), true
}

func (m *Memory) read64(addr uint32) (uint64, bool) {
	d := m.loadable(addr, 8)
	if d == nil {
		return 0, false
	}
	return binary.BigEndian.Uint64(d[addr&(pageMask&^7):]), true
}

func (m *Memory) write8(addr, v uint32) bool {
	d, code := m.storable(addr, 1)
	if d == nil {
		return false
	}
	off := addr & pageMask
	d[off] = byte(v)
	if code != nil {
		code.redecode(d, off, 1)
	}
	return true
}

func (m *Memory) write16(addr, v uint32) bool {
	d, code := m.storable(addr, 2)
	if d == nil {
		return false
	}
	off := addr & (pageMask &^ 1)
	binary.BigEndian.PutUint16(d[off:], uint16(v))
	if code != nil {
		code.redecode(d, off, 2)
	}
	return true
}

func (m *Memory) write32(addr, v uint32) bool {
	d, code := m.storable(addr, 4)
	if d == nil {
		return false
	}
	off := addr & (pageMask &^ 3)
	binary.BigEndian.PutUint32(d[off:], v)
	if code != nil {
		code.redecode(d, off, 4)
	}
	return true
}

func (m *Memory) write64(addr uint32, v uint64) bool {
	d, code := m.storable(addr, 8)
	if d == nil {
		return false
	}
	off := addr & (pageMask &^ 7)
	binary.BigEndian.PutUint64(d[off:], v)
	if code != nil {
		code.redecode(d, off, 8)
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
	if p := m.pageAt(addr); p == nil || p.prot&right == 0 {
		return addr, true
	}
	lastPage := (addr + size - 1) &^ pageMask
	if p := m.pageAt(lastPage); p == nil || p.prot&right == 0 {
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
	f := &Fault{Addr: at, Write: write, Unmapped: c.Mem.pageAt(at) == nil}
	c.stop = Stop{Reason: StopFault, Fault: f}
	return true
}
