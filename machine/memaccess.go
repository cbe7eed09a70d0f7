package machine

import "encoding/binary"

// The interpreter's loads and stores. Their fast path is one comparison
// against an access cache, which checks mapping, rights and natural
// alignment at once; runInline does only that. The handlers' accesses
// walk the page table on a miss and fill the cache; an access that still
// fails takes the handler's slow path (readSlow, writeSlow), which
// performs a misaligned access or stops the CPU with the fault.
//
// The processor traps misaligned accesses, but PA-RISC Linux's handler
// (arch/parisc/kernel/unaligned.c) completes them for user programs, and
// so does qemu-hppa's user mode: a misaligned load or store reads or
// writes its bytes one at a time, all or none, and faults at the first
// byte whose page refuses the access. Only ldcw must be aligned.

// accessCacheSize is the number of pages an accessCache translates, and
// accessCacheFold how far the page number is shifted to be folded onto
// its low bits for the index.
const (
	accessCacheSize = 1024
	accessCacheFold = 10
)

// accessCache is a direct-mapped cache of page translations, indexed by
// the low bits of the page number folded with the next ones (so that
// regions at round distances, such as a stack and a heap, do not share
// entries). Memory keeps one for loads, holding only readable pages, and
// one for stores, holding only writable pages whose contents exist and
// that hold no decoded code (so a cached store needs neither to allocate
// nor to re-decode). Entering the store cache counts as writing the page
// for the state hash. A page leaves both caches when its mapping or its
// rights change, and the one that would then be wrong when it is first
// written (the load cache) or executed (the store cache).
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
	return &a[(addr>>PageShift^addr>>(PageShift+accessCacheFold))%accessCacheSize]
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

// The cached accesses of each size: they fail, changing nothing, when the
// cache does not hold addr's page or addr is misaligned.

func (a *accessCache) load8(addr uint32) (uint32, bool) {
	if d := a.lookup(addr, 1); d != nil {
		return uint32(d[addr&pageMask]), true
	}
	return 0, false
}

func (a *accessCache) load16(addr uint32) (uint32, bool) {
	if d := a.lookup(addr, 2); d != nil {
		return uint32(binary.BigEndian.Uint16(d[addr&(pageMask&^1):])), true
	}
	return 0, false
}

func (a *accessCache) load32(addr uint32) (uint32, bool) {
	if d := a.lookup(addr, 4); d != nil {
		return binary.BigEndian.Uint32(d[addr&(pageMask&^3):]), true
	}
	return 0, false
}

func (a *accessCache) load64(addr uint32) (uint64, bool) {
	if d := a.lookup(addr, 8); d != nil {
		return binary.BigEndian.Uint64(d[addr&(pageMask&^7):]), true
	}
	return 0, false
}

func (a *accessCache) store8(addr, v uint32) bool {
	d := a.lookup(addr, 1)
	if d != nil {
		d[addr&pageMask] = byte(v)
	}
	return d != nil
}

func (a *accessCache) store16(addr, v uint32) bool {
	d := a.lookup(addr, 2)
	if d != nil {
		binary.BigEndian.PutUint16(d[addr&(pageMask&^1):], uint16(v))
	}
	return d != nil
}

func (a *accessCache) store32(addr, v uint32) bool {
	d := a.lookup(addr, 4)
	if d != nil {
		binary.BigEndian.PutUint32(d[addr&(pageMask&^3):], v)
	}
	return d != nil
}

func (a *accessCache) store64(addr uint32, v uint64) bool {
	d := a.lookup(addr, 8)
	if d != nil {
		binary.BigEndian.PutUint64(d[addr&(pageMask&^7):], v)
	}
	return d != nil
}

// The handlers' accesses of each size: through the cache, else by the
// page table (filling the cache). They fail when the page refuses the
// access or addr is misaligned.

func (m *Memory) read8(addr uint32) (uint32, bool) {
	return readThrough(m, addr, 1, (*accessCache).load8)
}
func (m *Memory) read16(addr uint32) (uint32, bool) {
	return readThrough(m, addr, 2, (*accessCache).load16)
}
func (m *Memory) read32(addr uint32) (uint32, bool) {
	return readThrough(m, addr, 4, (*accessCache).load32)
}
func (m *Memory) read64(addr uint32) (uint64, bool) {
	return readThrough(m, addr, 8, (*accessCache).load64)
}

// readThrough is a load of size bytes at addr by the load cache's load
// function, which it retries once it has entered the page in the cache.
func readThrough[V uint32 | uint64](m *Memory, addr, size uint32, load func(*accessCache, uint32) (V, bool)) (V, bool) {
	if v, ok := load(&m.loads, addr); ok || !m.cacheLoads(addr, size) {
		return v, ok
	}
	return load(&m.loads, addr)
}

func (m *Memory) write8(addr, v uint32) bool {
	return m.stores.store8(addr, v) || m.writeUncached(addr, []byte{byte(v)})
}

func (m *Memory) write16(addr, v uint32) bool {
	return m.stores.store16(addr, v) || addr&1 == 0 && m.writeUncached(addr, binary.BigEndian.AppendUint16(make([]byte, 0, 2), uint16(v)))
}

func (m *Memory) write32(addr, v uint32) bool {
	return m.stores.store32(addr, v) || addr&3 == 0 && m.writeUncached(addr, binary.BigEndian.AppendUint32(make([]byte, 0, 4), v))
}

func (m *Memory) write64(addr uint32, v uint64) bool {
	return m.stores.store64(addr, v) || addr&7 == 0 && m.writeUncached(addr, binary.BigEndian.AppendUint64(make([]byte, 0, 8), v))
}

// cacheLoads enters the page of an aligned load of size bytes at addr in
// the load cache. It reports false when the page refuses reads or addr is
// misaligned.
func (m *Memory) cacheLoads(addr, size uint32) bool {
	p := m.pageAt(addr)
	if p == nil || p.prot&ProtRead == 0 || addr&(size-1) != 0 {
		return false
	}
	*m.loads.slot(addr) = cachedPage{addr &^ pageMask, p.contents()}
	return true
}

// writeUncached is a store of b, within one page, at addr that missed the
// store cache: it fills the cache for the next one, unless the page holds
// decoded code, which it then refreshes. It reports false when the page
// refuses writes.
func (m *Memory) writeUncached(addr uint32, b []byte) bool {
	p := m.pageAt(addr)
	if p == nil || p.prot&ProtWrite == 0 {
		return false
	}
	d := m.write(addr>>PageShift, p)
	off := addr & pageMask
	copy(d[off:], b)
	if p.code != nil {
		p.code.redecode(d, off, uint32(len(b)))
		m.codeChanged(addr>>PageShift, addr>>PageShift)
	} else {
		*m.stores.slot(addr) = cachedPage{addr &^ pageMask, d}
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
