package machine

import "fmt"

// Pages can be one between memories, as a MAP_SHARED mapping is between a
// process and the children it forks: a write through either memory is
// the other's too. Such a page (page.common) always has contents, is
// written in place (never copied on write), is hashed anew every time
// (another memory may have written it since), is copied into a snapshot
// image rather than shared with it, and stays one with the others across
// Clone and a snapshot of the group. Each memory keeps its own mapping of
// it: rights, unmapping and decoded code are its own. A page of code
// written through one memory is not re-decoded in the others.

// ShareWith makes the pages of [addr, addr+length), mapped in m and in
// other, one: other's become m's, as they are in m now.
func (m *Memory) ShareWith(other *Memory, addr, length uint32) error {
	first, last, err := pageRange(addr, length)
	if err != nil {
		return fmt.Errorf("share: %w", err)
	}
	for n := first; ; n++ {
		if m.page(n) == nil || other.page(n) == nil {
			return fmt.Errorf("share: %w", &Fault{Addr: n << PageShift, Unmapped: true})
		}
		if n == last {
			break
		}
	}
	m.forget(first, last)
	other.forget(first, last)
	for n := first; ; n++ {
		p, q := m.page(n), other.page(n)
		if !p.common {
			// A copy of its own: an image or a clone may hold the
			// contents as they are, which must not change under them.
			d := new(pageData)
			*d = *p.contents()
			p.data, p.shared, p.common = d, false, true
			m.changed(n, p)
		}
		q.data, q.shared, q.common, q.code = p.data, false, true, nil
		other.changed(n, q)
		if n == last {
			return nil
		}
	}
}
