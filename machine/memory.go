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

type page struct {
	data [PageSize]byte
	prot Prot
	// code holds the decoded instructions of the page once it has been
	// executed from. Every write to the page re-decodes the words it
	// touches, so the decoded copy never goes stale.
	code *codePage
	// sum caches the SHA-256 of data while hashed is set; every write
	// clears hashed, so a state hash rehashes only the pages written
	// since the last one.
	sum    [32]byte
	hashed bool
}

// Memory is a flat 32-bit big-endian address space made of 4 KiB pages.
// The page table is a dense array so that a lookup is one index and so that
// walking it (for hashing and snapshots) visits pages in address order.
type Memory struct {
	pages [numPages]*page
	// mapped has a bit set for every non-nil entry of pages, so that
	// walks over a sparse address space (state hashes, snapshots) visit
	// 16 Ki words instead of a million pointers.
	mapped [numPages / 64]uint64
}

// setPage installs p (or nil) as page number i, keeping mapped in step.
func (m *Memory) setPage(i uint32, p *page) {
	m.pages[i] = p
	if p != nil {
		m.mapped[i/64] |= 1 << (i % 64)
	} else {
		m.mapped[i/64] &^= 1 << (i % 64)
	}
}

// pageCount is the number of mapped pages.
func (m *Memory) pageCount() uint32 {
	var count int
	for _, set := range m.mapped {
		count += bits.OnesCount64(set)
	}
	return uint32(count)
}

// eachPage calls f for every mapped page in address order.
func (m *Memory) eachPage(f func(n uint32, p *page)) {
	for w, set := range m.mapped {
		for set != 0 {
			b := uint32(bits.TrailingZeros64(set))
			set &^= 1 << b
			n := uint32(w)*64 + b
			f(n, m.pages[n])
		}
	}
}

// NewMemory returns an empty address space.
func NewMemory() *Memory { return &Memory{} }

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
	for i := first; ; i++ {
		m.setPage(i, &page{prot: prot})
		if i == last {
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
	for i := first; ; i++ {
		m.setPage(i, nil)
		if i == last {
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
	for i := first; ; i++ {
		if m.pages[i] == nil {
			return &Fault{Addr: i << PageShift, Unmapped: true}
		}
		if i == last {
			break
		}
	}
	for i := first; ; i++ {
		m.pages[i].prot = prot
		if i == last {
			return nil
		}
	}
}

// Mapped reports whether addr lies in a mapped page, and its rights.
func (m *Memory) Mapped(addr uint32) (Prot, bool) {
	p := m.pages[addr>>PageShift]
	if p == nil {
		return 0, false
	}
	return p.prot, true
}

// ReadBytes copies len(dst) bytes starting at addr, checking read rights the
// way the kernel's copy_from_user does.
func (m *Memory) ReadBytes(addr uint32, dst []byte) error {
	for len(dst) > 0 {
		p := m.pages[addr>>PageShift]
		if p == nil {
			return &Fault{Addr: addr, Unmapped: true}
		}
		if p.prot&ProtRead == 0 {
			return &Fault{Addr: addr}
		}
		n := copy(dst, p.data[addr&pageMask:])
		dst = dst[n:]
		addr += uint32(n)
	}
	return nil
}

// WriteBytes copies src to addr, checking write rights like copy_to_user.
func (m *Memory) WriteBytes(addr uint32, src []byte) error {
	for len(src) > 0 {
		p := m.pages[addr>>PageShift]
		if p == nil {
			return &Fault{Addr: addr, Write: true, Unmapped: true}
		}
		if p.prot&ProtWrite == 0 {
			return &Fault{Addr: addr, Write: true}
		}
		n := copy(p.data[addr&pageMask:], src)
		p.hashed = false
		if p.code != nil {
			p.redecode(addr&pageMask, uint32(n))
		}
		src = src[n:]
		addr += uint32(n)
	}
	return nil
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
