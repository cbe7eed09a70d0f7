package bft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// errMalformed is the decoder's answer to bytes that are not a message:
// truncated, with trailing bytes, or with a count beyond its limit.
var errMalformed = errors.New("bft: malformed message")

// writer appends the fixed-width big-endian encoding every message uses.
// Lengths are explicit so that a decoder never has to guess where one
// field ends: two different messages never share an encoding, which
// matters because the encoding is what gets signed.
type writer struct{ b []byte }

func (w *writer) u8(v byte)      { w.b = append(w.b, v) }
func (w *writer) u32(v uint32)   { w.b = binary.BigEndian.AppendUint32(w.b, v) }
func (w *writer) u64(v uint64)   { w.b = binary.BigEndian.AppendUint64(w.b, v) }
func (w *writer) raw(v []byte)   { w.b = append(w.b, v...) }
func (w *writer) bytes(v []byte) { w.u32(uint32(len(v))); w.raw(v) }

// list writes a count and then each item length-prefixed. It makes room
// for them all first: a batch's requests, written for its digest, its
// pre-prepare and its records, grew the buffer step by step, and that
// was the largest allocation site in the 64-client profile (14% of the
// bytes the nodes allocated).
func (w *writer) list(items [][]byte) {
	size := 4 + 4*len(items)
	for _, v := range items {
		size += len(v)
	}
	w.b = slices.Grow(w.b, size)
	w.u32(uint32(len(items)))
	for _, v := range items {
		w.bytes(v)
	}
}

// reader decodes what writer wrote. The first failure sticks: every later
// read returns zero values, and err says what was wrong, so decoding code
// reads straight through and checks once.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", errMalformed, fmt.Sprintf(format, args...))
	}
}

func (r *reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail("%s: need %d bytes, %d left", what, n, len(r.b))
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8(what string) byte {
	if v := r.take(1, what); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u32(what string) uint32 {
	if v := r.take(4, what); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *reader) u64(what string) uint64 {
	if v := r.take(8, what); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// bytes reads a length-prefixed field of at most limit bytes.
func (r *reader) bytes(limit int, what string) []byte {
	n := r.u32(what + " length")
	if r.err == nil && uint64(n) > uint64(limit) {
		r.fail("%s: %d bytes, limit %d", what, n, limit)
		return nil
	}
	return r.take(int(n), what)
}

// count reads a number of items that is at most limit.
func (r *reader) count(limit int, what string) int {
	n := r.u32(what + " count")
	if r.err == nil && uint64(n) > uint64(limit) {
		r.fail("%s: %d items, limit %d", what, n, limit)
		return 0
	}
	return int(n)
}

// list reads what writer.list wrote: at most limit items. Each item may
// be as long as what is left; the nested message decoders bound them.
func (r *reader) list(limit int, what string) [][]byte {
	var items [][]byte
	for range r.count(limit, what) {
		items = append(items, r.bytes(len(r.b), what))
	}
	return items
}

func (r *reader) digest(what string) (d Digest) {
	copy(d[:], r.take(len(d), what))
	return d
}

// end checks that nothing is left over.
func (r *reader) end(what string) error {
	if r.err == nil && len(r.b) != 0 {
		r.fail("%s: %d trailing bytes", what, len(r.b))
	}
	return r.err
}
