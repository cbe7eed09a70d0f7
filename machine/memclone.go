package machine

// Clone returns a copy of the memory for a forked process, made in the
// time it takes to walk the page table: the two share every page's
// contents until either writes it, and that write copies the page first
// (copy on write, as a MemoryImage shares them). Only the page records
// are new, one allocation for all of them. Decoded code is not shared:
// the copy decodes a page again when it first executes from it, because
// a write re-decodes the writer's decoded copy in place.
func (m *Memory) Clone() *Memory {
	// A store through the store cache writes a page in place, shared or
	// not; emptied, the cache fills again through write, which copies.
	m.stores.clear()
	c := NewMemory()
	c.keep = m.keep
	records := make([]page, m.pages)
	i := 0
	m.eachPage(func(n uint32, p *page) {
		r := &records[i]
		i++
		switch {
		case p.common:
			*r = page{data: p.data, prot: p.prot, common: true} // stays one with the others
		default:
			if p.data != nil {
				p.shared = true
			}
			*r = page{data: p.data, prot: p.prot, sum: p.sum, hashed: p.hashed, shared: p.data != nil}
		}
		c.setPage(n, r)
	})
	return c
}
