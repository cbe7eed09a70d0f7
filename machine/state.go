package machine

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Architectural state in a fixed binary form, for snapshots and for the
// state hashes replicas compare. Everything is big-endian. The decode
// cache and the fetch cache are not state: they are rebuilt on demand.
//
// CPU:    version byte, GR[32], SR[8], CR[32], IAOQFront, IAOQBack, PSW
//         (carry bits, V, N) as uint32; FP R[32] as uint64; Instructions.
// Memory: version byte, page count (uint32), then per mapped page in
//         address order: page number (uint32), rights (byte), and either
//         0 (all zero) or 1 followed by its 4096 bytes.

const (
	cpuStateVersion    = 1
	memoryStateVersion = 1
	cpuStateSize       = 1 + (32+8+32+3)*4 + 32*8 + 8
)

var errStateTruncated = errors.New("state truncated")

// AppendState appends the CPU's architectural state to b.
func (c *CPU) AppendState(b []byte) []byte {
	b = append(b, cpuStateVersion)
	for _, regs := range [][]uint32{c.GR[:], c.SR[:], c.CR[:], {c.IAOQFront, c.IAOQBack, c.PSW()}} {
		for _, v := range regs {
			b = binary.BigEndian.AppendUint32(b, v)
		}
	}
	for _, v := range c.FP.R {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	return binary.BigEndian.AppendUint64(b, c.Instructions)
}

// RestoreState sets the CPU's architectural state from the front of b (as
// AppendState wrote it) and returns the rest of b. Mem and Trace are left
// as they are.
func (c *CPU) RestoreState(b []byte) ([]byte, error) {
	if len(b) < cpuStateSize {
		return nil, fmt.Errorf("restore cpu: %w", errStateTruncated)
	}
	if b[0] != cpuStateVersion {
		return nil, fmt.Errorf("restore cpu: unknown state version %d", b[0])
	}
	r := b[1:]
	u32 := func() uint32 { v := binary.BigEndian.Uint32(r); r = r[4:]; return v }
	for _, regs := range [][]uint32{c.GR[:], c.SR[:], c.CR[:]} {
		for i := range regs {
			regs[i] = u32()
		}
	}
	c.IAOQFront, c.IAOQBack = u32(), u32()
	c.SetPSW(u32())
	for i := range c.FP.R {
		c.FP.R[i] = binary.BigEndian.Uint64(r)
		r = r[8:]
	}
	c.Instructions = binary.BigEndian.Uint64(r)
	c.fetchBase, c.fetchCode = noPage, nil
	return r[8:], nil
}

// Hash is the SHA-256 of the CPU's state (without memory).
func (c *CPU) Hash() [32]byte {
	var buf [cpuStateSize]byte
	return sha256.Sum256(c.AppendState(buf[:0]))
}

// encodeState hands the memory state to emit piece by piece; a piece is
// only valid during the call.
func (m *Memory) encodeState(emit func([]byte)) { m.image(nil).encodeState(emit) }

// AppendState appends every mapped page, with its rights, to b.
func (m *Memory) AppendState(b []byte) []byte {
	m.encodeState(func(piece []byte) { b = append(b, piece...) })
	return b
}

// WriteState writes the same bytes as AppendState to w, without holding
// them all in memory.
func (m *Memory) WriteState(w io.Writer) error {
	var err error
	m.encodeState(func(piece []byte) {
		if err == nil {
			_, err = w.Write(piece)
		}
	})
	return err
}

// RestoreMemory rebuilds a Memory from the front of b (as AppendState
// wrote it) and returns the rest of b. The memory refers to the contents
// of b's pages in place, copy on write, rather than copying them: a
// restore costs no fresh memory, which on some machines costs seconds of
// CPU per 500 MiB, and a page is copied when the guest first writes it.
// So b must not change afterwards; in the Go heap, it stays as long as a
// page refers to it.
func RestoreMemory(b []byte) (*Memory, []byte, error) {
	return restoreMemory(b, nil, nil)
}

// Page kinds in the state format: a page never written (or all zeros), a
// page with its contents, and (in a group, memgroup.go) a page whose
// contents an earlier memory of the group holds. protCommon, beside the
// rights, marks a page one with other memories' (memshare.go): never of
// the first kind, so that it is one with them again when restored.
const (
	pageKindZero = iota
	pageKindData
	pageKindShared

	protCommon = 0x80
)

// restoreMemory is RestoreMemory for a memory of a group whose earlier
// memories are earlier: pageKindShared pages share their contents copy on
// write. The memory keeps keep (RestoreGroup).
func restoreMemory(b []byte, earlier []*Memory, keep any) (*Memory, []byte, error) {
	if len(b) < 5 {
		return nil, nil, fmt.Errorf("restore memory: %w", errStateTruncated)
	}
	if b[0] != memoryStateVersion {
		return nil, nil, fmt.Errorf("restore memory: unknown state version %d", b[0])
	}
	count := binary.BigEndian.Uint32(b[1:])
	r := b[5:]
	m := NewMemory()
	m.keep = keep
	last := -1
	for range count {
		if len(r) < 6 {
			return nil, nil, fmt.Errorf("restore memory: %w", errStateTruncated)
		}
		n := binary.BigEndian.Uint32(r)
		prot, kind, common := Prot(r[4]&^protCommon), r[5], r[4]&protCommon != 0
		r = r[6:]
		if int(n) <= last || n >= numPages {
			return nil, nil, fmt.Errorf("restore memory: page %#x out of order", n)
		}
		if prot&^(ProtRead|ProtWrite|ProtExec) != 0 || kind > pageKindShared || (kind == pageKindShared && earlier == nil) ||
			(common && kind == pageKindZero) {
			return nil, nil, fmt.Errorf("restore memory: bad page header at %#x", n<<PageShift)
		}
		last = int(n)
		p := &page{prot: prot, common: common}
		switch kind {
		case pageKindData:
			if len(r) < PageSize {
				return nil, nil, fmt.Errorf("restore memory: %w", errStateTruncated)
			}
			if common {
				// Written in place by every memory it is one with.
				p.data = new(pageData)
				copy(p.data[:], r)
			} else {
				p.data, p.shared = (*pageData)(r[:PageSize]), true
			}
			r = r[PageSize:]
		case pageKindShared:
			from, rest, err := sharedFrom(r, earlier)
			if err == nil && from.common != common {
				err = errBadReference
			}
			if err != nil {
				return nil, nil, fmt.Errorf("restore memory: page %#x: %w", n<<PageShift, err)
			}
			p.data = from.data
			if !common {
				p.shared, from.shared = true, true
			}
			r = rest
		}
		m.setPage(n, p)
	}
	return m, r, nil
}
