package machine

import "encoding/binary"

// MemoryImage is the memory as it was at one instant, taken in the time
// it takes to walk the page table rather than to copy the pages: the
// image and the memory share every page until the machine next writes
// it, and that write copies the page first (copy on write). So a
// snapshot of hundreds of megabytes holds up the machine for
// milliseconds, and the image can be encoded on another goroutine while
// the machine runs on. Nothing may write the image's pages.
type MemoryImage struct {
	pages []imagePage
	keep  any // the memory's (Memory.keep)
}

type imagePage struct {
	n      uint32
	prot   Prot
	data   *pageData // nil: never written
	common bool      // one with other memories' pages (memshare.go)
}

// Freeze takes an image of the memory.
func (m *Memory) Freeze() *MemoryImage {
	return FreezeGroup([]*Memory{m})[0]
}

// FreezeGroup takes an image of each memory at the same instant. The
// pages they have in common (memshare.go) are copied once for all of them,
// so that their images still share them.
func FreezeGroup(mems []*Memory) []*MemoryImage {
	copies := map[*pageData]*pageData{}
	imgs := make([]*MemoryImage, len(mems))
	for i, m := range mems {
		// A store through the store cache writes a page in place, shared
		// or not; emptied, the cache fills again through write, which
		// copies.
		m.stores.clear()
		imgs[i] = m.image(copies)
	}
	return imgs
}

// image lists the mapped pages. With copies, it takes an image: the
// contents of ordinary pages are marked shared with it, those of common
// pages, written in place, are copied (once, into copies). Without, it is
// a view for encoding at once.
func (m *Memory) image(copies map[*pageData]*pageData) *MemoryImage {
	img := &MemoryImage{pages: make([]imagePage, 0, m.pages), keep: m.keep}
	m.eachPage(func(n uint32, p *page) {
		data := p.data
		switch {
		case copies == nil:
		case p.common:
			if copies[data] == nil {
				d := new(pageData)
				*d = *data
				copies[data] = d
			}
			data = copies[data]
		case data != nil:
			p.shared = true
		}
		img.pages = append(img.pages, imagePage{n, p.prot, data, p.common})
	})
	return img
}

// StateSizeBound is at least the length of AppendState's output.
func (img *MemoryImage) StateSizeBound() int {
	size := 5
	for _, pg := range img.pages {
		size += 6
		if pg.data != nil {
			size += PageSize
		}
	}
	return size
}

// AppendState appends the image to b in the format of Memory.AppendState,
// which RestoreMemory reads.
func (img *MemoryImage) AppendState(b []byte) []byte {
	img.encodeState(func(piece []byte) { b = append(b, piece...) })
	return b
}

func (img *MemoryImage) encodeState(emit func([]byte)) { img.encodeShared(emit, nil) }

// encodeShared encodes the image; a page whose contents seen already
// holds (a group's earlier image, memgroup.go) is written as a reference
// to it, and one seen is nil for is added to it.
func (img *MemoryImage) encodeShared(emit func([]byte), seen *contentIndex) {
	var head [6]byte
	head[0] = memoryStateVersion
	binary.BigEndian.PutUint32(head[1:], uint32(len(img.pages)))
	emit(head[:5])
	for _, pg := range img.pages {
		binary.BigEndian.PutUint32(head[:], pg.n)
		head[4] = byte(pg.prot)
		if pg.common {
			head[4] |= protCommon
		}
		switch ref, shared := seen.find(pg.data); {
		case !pg.common && (pg.data == nil || allZero(pg.data[:])):
			head[5] = pageKindZero
			emit(head[:6])
		case shared:
			head[5] = pageKindShared
			emit(head[:6])
			emit(ref)
		default:
			head[5] = pageKindData
			emit(head[:6])
			emit(pg.data[:])
			seen.add(pg.data, pg.n)
		}
	}
	seen.next()
}
