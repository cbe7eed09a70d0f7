package machine

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// PageSize is the unit of mapping and protection, as on hppa Linux.
const (
	PageShift = 12
	PageSize  = 1 << PageShift
	pageMask  = PageSize - 1
	numPages  = 1 << (32 - PageShift)
)

// The page table has two levels: a directory of numTables entries, each
// nil or a table of the pages of one 4 MiB stretch.
const (
	tableShift    = 10
	pagesPerTable = 1 << tableShift
	numTables     = numPages / pagesPerTable
)

// Prot is a page's access rights.
type Prot uint8

const (
	ProtRead Prot = 1 << iota
	ProtWrite
	ProtExec
)

// Fault describes a memory access the page table refused.
type Fault struct {
	Addr     uint32
	Write    bool
	Unmapped bool // no page at Addr (SIGSEGV SEGV_MAPERR), else protection (SEGV_ACCERR)
}

func (f *Fault) Error() string {
	kind := "protection"
	if f.Unmapped {
		kind = "unmapped"
	}
	op := "read"
	if f.Write {
		op = "write"
	}
	return fmt.Sprintf("%s fault on %s at %#08x", kind, op, f.Addr)
}

// pageData is the contents of a page.
type pageData [PageSize]byte

// zeroData is what a page that was never written holds. It is only ever
// read.
var zeroData pageData

type page struct {
	// data is nil until the page is first written: most of a stack, a
	// heap or a bss is mapped but never touched. Reads see zeroData.
	data *pageData
	prot Prot
	// code holds the decoded instructions of the page once it has been
	// executed from. Every write to the page re-decodes the words it
	// touches, so the decoded copy never goes stale.
	code *codePage
	// sum caches the SHA-256 of the contents while hashed is set; every
	// write clears hashed (a page in the store cache counts as written),
	// so a state hash rehashes only the pages written since the last one.
	sum    [32]byte
	hashed bool
	// shared marks data as held by a MemoryImage or by a Clone too, or
	// as the snapshot's the memory was restored from: the next write
	// copies it first (memimage.go, memclone.go, RestoreGroup).
	shared bool
	// common marks data as one with other memories' pages, on purpose
	// (MAP_SHARED across fork): written in place, never shared with an
	// image (memshare.go).
	common bool
}

// contents returns the page's bytes, for reading only.
func (p *page) contents() *pageData {
	if p.data == nil {
		return &zeroData
	}
	return p.data
}

// pageTable holds the pages of one 4 MiB stretch of the address space.
type pageTable struct {
	pages [pagesPerTable]*page
	// mapped has a bit set for every non-nil entry of pages, so that
	// walks (state hashes, snapshots) visit 16 words instead of 1024
	// pointers.
	mapped [pagesPerTable / 64]uint64
	// sum caches the table's part of the state hash while hashed is set
	// (memhash.go); a change to any of its pages clears hashed.
	sum    [32]byte
	hashed bool
}

func (t *pageTable) empty() bool {
	for _, set := range t.mapped {
		if set != 0 {
			return false
		}
	}
	return true
}

// Memory is a flat 32-bit big-endian address space made of 4 KiB pages.
// Only the parts of the page table that hold pages exist, and a page's
// contents only once it is written, so a process costs what it touches
// rather than what it maps.
type Memory struct {
	tables [numTables]*pageTable
	pages  uint32 // mapped pages: what a limit on the process's memory counts
	// loads and stores cache the translation of recently used pages for
	// the interpreter's accesses (see memaccess.go).
	loads, stores accessCache
	// translator holds the blocks translated from this memory's code,
	// once a CPU has run it with EngineJIT for interpretFirst
	// instructions, which interpreted counts.
	translator  *translator
	interpreted uint64
	// keep is what keeps valid the snapshot whose page contents this
	// memory refers to in place (RestoreGroup), while the memory, or a
	// clone or an image of it, may still refer to them.
	keep any
}

// codeChanged tells the translator, if there is one, that the code of
// pages first to last may have changed or gone.
func (m *Memory) codeChanged(first, last uint32) {
	if m.translator != nil {
		m.translator.invalidate(first, last)
	}
}

// page returns page number n, or nil.
func (m *Memory) page(n uint32) *page {
	t := m.tables[n>>tableShift]
	if t == nil {
		return nil
	}
	return t.pages[n%pagesPerTable]
}

// pageAt returns the page holding addr, or nil.
func (m *Memory) pageAt(addr uint32) *page { return m.page(addr >> PageShift) }

// setPage installs p (or nil) as page number n. A table is created for
// its first page and dropped with its last.
func (m *Memory) setPage(n uint32, p *page) {
	t := m.tables[n>>tableShift]
	if t == nil {
		if p == nil {
			return
		}
		t = new(pageTable)
		m.tables[n>>tableShift] = t
	}
	i := n % pagesPerTable
	t.hashed = false
	switch old := t.pages[i]; {
	case old == nil && p != nil:
		m.pages++
	case old != nil && p == nil:
		m.pages--
	}
	t.pages[i] = p
	if p != nil {
		t.mapped[i/64] |= 1 << (i % 64)
		return
	}
	t.mapped[i/64] &^= 1 << (i % 64)
	if t.empty() {
		m.tables[n>>tableShift] = nil
	}
}

// MappedBytes is the size of everything mapped.
func (m *Memory) MappedBytes() uint64 { return uint64(m.pages) * PageSize }

// eachPage calls f for every mapped page in address order.
func (m *Memory) eachPage(f func(n uint32, p *page)) {
	for ti, t := range m.tables {
		if t != nil {
			t.eachPage(uint32(ti), f)
		}
	}
}

// eachPage calls f for every mapped page of table number ti in address
// order.
func (t *pageTable) eachPage(ti uint32, f func(n uint32, p *page)) {
	for w, set := range t.mapped {
		for set != 0 {
			b := uint32(bits.TrailingZeros64(set))
			set &^= 1 << b
			i := uint32(w)*64 + b
			f(ti<<tableShift|i, t.pages[i])
		}
	}
}

// changed marks the contents of page n, p, as changed for the state hash.
func (m *Memory) changed(n uint32, p *page) {
	p.hashed = false
	m.tableChanged(n)
}

// tableChanged marks the table of page n as changed for the state hash:
// the page's rights, or whether it is mapped, or its contents changed.
func (m *Memory) tableChanged(n uint32) {
	if t := m.tables[n>>tableShift]; t != nil {
		t.hashed = false
	}
}

// NewMemory returns an empty address space.
func NewMemory() *Memory {
	m := &Memory{}
	m.loads.clear()
	m.stores.clear()
	return m
}

// forget drops pages first to last from the access caches, after their
// mapping or rights change.
func (m *Memory) forget(first, last uint32) {
	m.codeChanged(first, last)
	if last-first >= accessCacheSize {
		m.loads.clear()
		m.stores.clear()
		return
	}
	for n := first; ; n++ {
		m.loads.drop(n << PageShift)
		m.stores.drop(n << PageShift)
		if n == last {
			return
		}
	}
}

// write makes p's contents writable, creating them on the first write,
// and marks them changed.
func (m *Memory) write(n uint32, p *page) *pageData {
	switch {
	case p.data == nil:
		p.data = new(pageData)
		// The load cache may still translate the page to zeroData.
		m.loads.drop(n << PageShift)
	case p.shared:
		d := new(pageData)
		*d = *p.data
		p.data, p.shared = d, false
		// The load cache may still translate the page to the copy an
		// image holds, which no longer changes.
		m.loads.drop(n << PageShift)
	}
	m.changed(n, p)
	return p.data
}

func pageRange(addr, length uint32) (first, last uint32, err error) {
	if addr&pageMask != 0 {
		return 0, 0, fmt.Errorf("address %#x not page aligned", addr)
	}
	if length == 0 {
		return 0, 0, fmt.Errorf("zero length at %#x", addr)
	}
	end := uint64(addr) + uint64(length) - 1
	if end > 0xffffffff {
		return 0, 0, fmt.Errorf("range %#x+%#x wraps the address space", addr, length)
	}
	return addr >> PageShift, uint32(end) >> PageShift, nil
}

// Map creates zero-filled pages covering [addr, addr+length), replacing any
// pages already there (like mmap with MAP_FIXED).
func (m *Memory) Map(addr, length uint32, prot Prot) error {
	first, last, err := pageRange(addr, length)
	if err != nil {
		return fmt.Errorf("map: %w", err)
	}
	m.forget(first, last)
	pages := make([]page, last-first+1) // one allocation for the whole mapping
	for n := first; ; n++ {
		p := &pages[n-first]
		p.prot = prot
		m.setPage(n, p)
		if n == last {
			return nil
		}
	}
}

// Unmap removes the pages covering [addr, addr+length); holes are ignored.
func (m *Memory) Unmap(addr, length uint32) error {
	first, last, err := pageRange(addr, length)
	if err != nil {
		return fmt.Errorf("unmap: %w", err)
	}
	m.forget(first, last)
	for n := first; ; n++ {
		m.setPage(n, nil)
		if n == last {
			return nil
		}
	}
}

// Protect changes the rights of every page in [addr, addr+length). It fails
// without changing anything if part of the range is unmapped.
func (m *Memory) Protect(addr, length uint32, prot Prot) error {
	first, last, err := pageRange(addr, length)
	if err != nil {
		return fmt.Errorf("protect: %w", err)
	}
	for n := first; ; n++ {
		if m.page(n) == nil {
			return &Fault{Addr: n << PageShift, Unmapped: true}
		}
		if n == last {
			break
		}
	}
	m.forget(first, last)
	for n := first; ; n++ {
		m.page(n).prot = prot
		m.tableChanged(n)
		if n == last {
			return nil
		}
	}
}

// Mapped reports whether addr lies in a mapped page, and its rights.
func (m *Memory) Mapped(addr uint32) (Prot, bool) {
	p := m.pageAt(addr)
	if p == nil {
		return 0, false
	}
	return p.prot, true
}

// ReadBytes copies len(dst) bytes starting at addr, checking read rights the
// way the kernel's copy_from_user does.
func (m *Memory) ReadBytes(addr uint32, dst []byte) error {
	for len(dst) > 0 {
		p := m.pageAt(addr)
		if p == nil {
			return &Fault{Addr: addr, Unmapped: true}
		}
		if p.prot&ProtRead == 0 {
			return &Fault{Addr: addr}
		}
		n := copy(dst, p.contents()[addr&pageMask:])
		dst = dst[n:]
		addr += uint32(n)
	}
	return nil
}

// WriteBytes copies src to addr, checking write rights like copy_to_user.
// Zeros written to a page that was never written leave it that way.
func (m *Memory) WriteBytes(addr uint32, src []byte) error {
	for len(src) > 0 {
		p := m.pageAt(addr)
		if p == nil {
			return &Fault{Addr: addr, Write: true, Unmapped: true}
		}
		if p.prot&ProtWrite == 0 {
			return &Fault{Addr: addr, Write: true}
		}
		off := addr & pageMask
		n := min(uint32(len(src)), PageSize-off)
		if p.data != nil || !allZero(src[:n]) {
			d := m.write(addr>>PageShift, p)
			copy(d[off:], src[:n])
			if p.code != nil {
				p.code.redecode(d, off, n)
				m.codeChanged(addr>>PageShift, addr>>PageShift)
			}
		}
		src = src[n:]
		addr += n
	}
	return nil
}

func allZero(b []byte) bool {
	for _, v := range b {
		if v != 0 {
			return false
		}
	}
	return true
}

// LoadWord reads an aligned big-endian word with read rights checked.
func (m *Memory) LoadWord(addr uint32) (uint32, error) {
	var b [4]byte
	if err := m.ReadBytes(addr, b[:]); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(b[:]), nil
}

// StoreWord writes a big-endian word with write rights checked.
func (m *Memory) StoreWord(addr, v uint32) error {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return m.WriteBytes(addr, b[:])
}

// code returns the decoded instructions of addr's page, decoding it on
// its first use, or nil when the page is missing or not executable.
func (m *Memory) code(addr uint32) *codePage {
	p := m.pageAt(addr)
	if p == nil || p.prot&ProtExec == 0 {
		return nil
	}
	if p.code == nil {
		base := addr &^ pageMask
		p.code = decodeAll(p.contents(), base)
		// Stores to the page must re-decode from now on.
		m.stores.drop(base)
	}
	return p.code
}
