package linux

import (
	"cmp"
	"crypto/sha256"
	"slices"

	"github.com/synodvm/synod/machine"
)

// Shared mappings. Within one process, memory mapped MAP_SHARED is shared
// by all threads already: they have one address space. What the kernel
// keeps here is for the file behind a mapping. Its pages are copies of the
// file's, and what the guest writes into them reaches the file on msync,
// on munmap (or when a new mapping replaces them) and when the process
// ends, as Linux guarantees for MAP_SHARED. Anonymous shared mappings are
// kept too, because madvise(MADV_DONTNEED) leaves their contents alone.
//
// A page is written back only if it differs from what the file last held
// there (the page's SHA-256 when it was last read from or written to the
// file). That way a mapping does not overwrite what write() has put in the
// file since. Bytes past the end of the file are never written: a mapping
// never makes its file longer.

// sharedMapping is a run of pages mapped MAP_SHARED.
type sharedMapping struct {
	addr, length uint32 // page aligned
	// file is nil for an anonymous mapping. The mapping holds a reference
	// to it: on Linux a mapping keeps its file open after close(fd).
	file   *openFile
	offset int64 // the file offset of addr
	// synced holds the SHA-256 of each page as the file last had it
	// (nil for an anonymous mapping).
	synced [][32]byte
}

// end is where m ends; 1<<32 for a mapping at the top of the address space.
func (m *sharedMapping) end() uint64 { return uint64(m.addr) + uint64(m.length) }

// pageSums returns the SHA-256 of each page of n mapped bytes that hold
// data and then zeros.
func pageSums(data []byte, n uint32) [][32]byte {
	sums := make([][32]byte, n/machine.PageSize)
	var page [machine.PageSize]byte
	for i := range sums {
		clear(page[:])
		if start := i * machine.PageSize; start < len(data) {
			copy(page[:], data[start:])
		}
		sums[i] = sha256.Sum256(page[:])
	}
	return sums
}

// addShared records a new shared mapping, keeping p.shared in address
// order.
func (p *Process) addShared(m *sharedMapping) {
	if m.file != nil {
		m.file.refs++
	}
	i, _ := slices.BinarySearchFunc(p.shared, m.addr, func(s *sharedMapping, addr uint32) int { return cmp.Compare(s.addr, addr) })
	p.shared = slices.Insert(p.shared, i, m)
}

// splitShared cuts the shared mapping that straddles the page boundary at
// (if any) in two, so that a range starting or ending there is made of
// whole mappings.
func (p *Process) splitShared(at uint32) {
	for i, m := range p.shared {
		if m.addr < at && uint64(at) < m.end() {
			tail := &sharedMapping{addr: at, length: m.addr + m.length - at, file: m.file, offset: m.offset + int64(at-m.addr)}
			m.length = at - m.addr
			if m.file != nil {
				k := m.length / machine.PageSize
				tail.synced, m.synced = slices.Clone(m.synced[k:]), m.synced[:k:k]
				m.file.refs++
			}
			p.shared = slices.Insert(p.shared, i+1, tail)
			return
		}
	}
}

// sharedRange splits the shared mappings at both ends of [addr, addr+n)
// and returns the index range in p.shared of those inside it.
func (p *Process) sharedRange(addr, n uint32) (first, end int) {
	p.splitShared(addr)
	p.splitShared(addr + n) // wraps to 0, splitting nothing, at the top
	first = len(p.shared)
	if i := slices.IndexFunc(p.shared, func(m *sharedMapping) bool { return m.addr >= addr }); i >= 0 {
		first = i
	}
	end = first
	for end < len(p.shared) && p.shared[end].end() <= uint64(addr)+uint64(n) {
		end++
	}
	return first, end
}

// sharedAt returns the shared mapping holding the page at addr, or nil.
func (p *Process) sharedAt(addr uint32) *sharedMapping {
	for _, m := range p.shared {
		if m.addr <= addr && uint64(addr) < m.end() {
			return m
		}
	}
	return nil
}

// dropShared writes back and forgets the shared mappings in [addr,
// addr+n), whose pages are about to be unmapped or replaced. A failed
// write-back is logged: munmap does not report it, on Linux either.
func (p *Process) dropShared(addr, n uint32) {
	first, end := p.sharedRange(addr, n)
	for _, m := range p.shared[first:end] {
		p.writeBackLogged(m)
		if m.file != nil {
			p.unref(m.file)
		}
	}
	p.shared = slices.Delete(p.shared, first, end)
}

// syncShared writes back the pages of [addr, addr+n) that belong to shared
// file mappings (msync).
func (p *Process) syncShared(addr, n uint32) Errno {
	for _, m := range p.shared {
		lo, hi := max(addr, m.addr), min(uint64(addr)+uint64(n), m.end())
		if uint64(lo) >= hi {
			continue
		}
		if e := p.writeBack(m, (lo-m.addr)/machine.PageSize, uint32(hi-uint64(m.addr))/machine.PageSize); e != 0 {
			return e
		}
	}
	return 0
}

// writeBackAll writes back every shared file mapping, as the process ends.
func (p *Process) writeBackAll() {
	for _, m := range p.shared {
		p.writeBackLogged(m)
	}
}

func (p *Process) writeBackLogged(m *sharedMapping) {
	if e := p.writeBack(m, 0, m.length/machine.PageSize); e != 0 {
		p.log.Warn("writing back a shared mapping failed: its file misses what the guest wrote there",
			"addr", hex32(m.addr), "length", m.length, "errno", int(e))
	}
}

// writeBack writes the changed pages first..last-1 of m to its file.
func (p *Process) writeBack(m *sharedMapping, first, last uint32) Errno {
	if m.file == nil {
		return 0
	}
	size := int64(-1) // the file's, read once a page needs writing
	page := make([]byte, machine.PageSize)
	for i := first; i < last; i++ {
		if err := readPage(p.mem, m.addr+i*machine.PageSize, page); err != nil {
			return EFAULT
		}
		sum := sha256.Sum256(page)
		if sum == m.synced[i] {
			continue
		}
		if size < 0 {
			st, e := p.env.Stat(m.file.handle)
			if e != 0 {
				return e
			}
			size = st.Size
		}
		off := m.offset + int64(i)*machine.PageSize
		if n := min(int64(len(page)), size-off); n > 0 {
			if e := p.writeBackAt(m.file.handle, page[:n], off); e != 0 {
				return e
			}
		}
		m.synced[i] = sum
	}
	return 0
}

// writeBackAt writes all of data at off, however the Env splits it.
func (p *Process) writeBackAt(h Handle, data []byte, off int64) Errno {
	for len(data) > 0 {
		n, e := p.env.WriteBack(h, data, off)
		if e != 0 {
			return e
		}
		if n <= 0 {
			return EIO
		}
		data, off = data[n:], off+int64(n)
	}
	return 0
}

// readFileAt reads up to n bytes of h from off, fewer only at the end of
// the file.
func (p *Process) readFileAt(h Handle, n int, off int64) ([]byte, Errno) {
	var data []byte
	for len(data) < n {
		b, e := p.env.Pread(h, n-len(data), off+int64(len(data)))
		if e != 0 {
			return nil, e
		}
		if len(b) == 0 {
			break
		}
		data = append(data, b...)
	}
	return data, 0
}

// unref drops a mapping's reference to f and releases f with the last
// reference. Closing it then reports nothing, as munmap does not.
func (p *Process) unref(f *openFile) {
	if f.refs--; f.refs == 0 {
		_ = p.releaseFile(f)
	}
}
