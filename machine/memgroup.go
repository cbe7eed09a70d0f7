package machine

import (
	"encoding/binary"
	"errors"
)

// A group of memories that share pages copy on write (a process and the
// ones it forked) is encoded together: a page whose contents an earlier
// memory of the group holds is written as a reference to that memory and
// page, 6 bytes instead of 4 KiB, and restored shared again, so neither a
// snapshot nor a restored guest pays for a page once per process.

// contentIndex finds the contents already written in a group.
type contentIndex struct {
	at    map[*pageData][6]byte // the reference: memory index (u16) and page number (u32)
	image uint16                // the index of the image being encoded
}

// find returns the reference to data if an earlier page of the group held
// it.
func (x *contentIndex) find(data *pageData) ([]byte, bool) {
	if x == nil || data == nil {
		return nil, false
	}
	ref, ok := x.at[data]
	return ref[:], ok
}

func (x *contentIndex) add(data *pageData, n uint32) {
	if x == nil || int(x.image) >= maxReferable {
		return
	}
	var ref [6]byte
	binary.BigEndian.PutUint16(ref[:], x.image)
	binary.BigEndian.PutUint32(ref[2:], n)
	x.at[data] = ref
}

func (x *contentIndex) next() {
	if x != nil && int(x.image) < maxReferable {
		x.image++
	}
}

// maxReferable is how many memories of a group others can refer to:
// references name a memory in 16 bits. The pages of later ones are
// written out.
const maxReferable = 1<<16 - 1

// AppendGroupState appends imgs to b, each in the format of AppendState
// but for the pages whose contents an earlier image of imgs shares, which
// refer to it. RestoreGroup reads them back.
func AppendGroupState(b []byte, imgs []*MemoryImage) []byte {
	seen := &contentIndex{at: map[*pageData][6]byte{}}
	for _, img := range imgs {
		img.encodeShared(func(piece []byte) { b = append(b, piece...) }, seen)
	}
	return b
}

// RestoreGroup rebuilds n memories from the front of b (as
// AppendGroupState wrote them), sharing copy on write the pages they
// shared, and returns the rest of b. Like RestoreMemory, the memories
// refer to b's pages in place; keep, when b is not in the Go heap (a
// mapped file), is an object whose reachability keeps b valid: the
// memories, and every clone and image made of them, keep it reachable.
func RestoreGroup(b []byte, n int, keep any) ([]*Memory, []byte, error) {
	var mems []*Memory
	for range n {
		m, rest, err := restoreMemory(b, mems, keep)
		if err != nil {
			return nil, nil, err
		}
		mems, b = append(mems, m), rest
	}
	return mems, b, nil
}

var errBadReference = errors.New("reference to a page the group does not hold")

// sharedFrom reads a reference from the front of r and returns the page it
// names in earlier, with the rest of r.
func sharedFrom(r []byte, earlier []*Memory) (*page, []byte, error) {
	if len(r) < 6 {
		return nil, nil, errStateTruncated
	}
	image, n := int(binary.BigEndian.Uint16(r)), binary.BigEndian.Uint32(r[2:])
	if image >= len(earlier) || n >= numPages {
		return nil, nil, errBadReference
	}
	p := earlier[image].page(n)
	if p == nil || p.data == nil {
		return nil, nil, errBadReference
	}
	return p, r[6:], nil
}
