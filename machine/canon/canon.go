// Package canon is the canonical binary encoding of replicated state, for
// snapshots and for the state hashes replicas compare: its bytes depend
// on the values encoded and nothing else (not on what the process encoded
// before, nor on whether an empty slice is nil), and every value has
// exactly one encoding, so decoding and encoding again gives back the
// same bytes.
//
// One function per type describes its encoding in both directions: it
// hands each field to a Codec, which either appends the field or reads it
// back, so the encoder and the decoder cannot disagree. Numbers are
// big-endian at their Go width, a bool is one byte 0 or 1, lengths are
// minimal unsigned varints, a string or byte slice is its length and its
// bytes, a slice its length and its elements, a map its length and its
// entries by increasing key, an optional value a presence bool and the
// value. An empty slice or map decodes as nil.
//
// Decoding never panics on damaged input, which may come from the
// network: it stops at the first error, which Finish reports, and
// allocates no more than the input it has read can account for.
package canon

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// Codec encodes (NewEncoder) or decodes (NewDecoder) values field by
// field.
type Codec struct {
	decoding bool
	// buf is the encoding so far, or the input, of which pos bytes are
	// read. (Reads advance pos rather than reslice buf: storing a
	// pointer costs a write barrier whenever the collector runs.)
	buf []byte
	pos int
	err error
}

// NewEncoder returns a Codec that appends encodings to buf.
func NewEncoder(buf []byte) *Codec { return &Codec{buf: buf} }

// NewDecoder returns a Codec that decodes b. Decoded byte slices and
// strings are copies: none refers to b.
func NewDecoder(b []byte) *Codec { return &Codec{buf: b, decoding: true} }

// Decoding reports whether c decodes.
func (c *Codec) Decoding() bool { return c.decoding }

// Bytes is the encoding so far.
func (c *Codec) Bytes() []byte { return c.buf }

// Fail stops decoding with an error; a type's function uses it to refuse
// a value it cannot represent. Only the first error is kept.
func (c *Codec) Fail(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf(format, args...)
	}
	c.buf, c.pos = nil, 0
}

// ErrTrailing is wrapped by Finish's error when the input goes on after
// the value.
var ErrTrailing = errors.New("bytes after the value")

// Finish is the first decoding error, if any, or an error if input is
// left over: a value is the whole input.
func (c *Codec) Finish() error {
	if c.err != nil {
		return c.err
	}
	if c.decoding && c.pos != len(c.buf) {
		return fmt.Errorf("%w: %d", ErrTrailing, len(c.buf)-c.pos)
	}
	return nil
}

// take consumes the next n bytes of input, or fails.
func (c *Codec) take(n int) []byte {
	if n > len(c.buf)-c.pos {
		c.Fail("truncated: %d bytes wanted, %d left", n, len(c.buf)-c.pos)
		return nil
	}
	b := c.buf[c.pos : c.pos+n : c.pos+n]
	c.pos += n
	return b
}

// Uint8 codes a byte-sized unsigned number.
func Uint8[T ~uint8](c *Codec, v *T) {
	if !c.decoding {
		c.buf = append(c.buf, uint8(*v))
	} else if b := c.take(1); b != nil {
		*v = T(b[0])
	}
}

// Uint16 codes a 16-bit unsigned number.
func Uint16[T ~uint16](c *Codec, v *T) {
	if !c.decoding {
		c.buf = binary.BigEndian.AppendUint16(c.buf, uint16(*v))
	} else if b := c.take(2); b != nil {
		*v = T(binary.BigEndian.Uint16(b))
	}
}

// Uint32 codes a 32-bit unsigned number.
func Uint32[T ~uint32](c *Codec, v *T) {
	if !c.decoding {
		c.buf = binary.BigEndian.AppendUint32(c.buf, uint32(*v))
	} else if b := c.take(4); b != nil {
		*v = T(binary.BigEndian.Uint32(b))
	}
}

// Uint64 codes a 64-bit unsigned number.
func Uint64[T ~uint64](c *Codec, v *T) {
	if !c.decoding {
		c.buf = binary.BigEndian.AppendUint64(c.buf, uint64(*v))
	} else if b := c.take(8); b != nil {
		*v = T(binary.BigEndian.Uint64(b))
	}
}

// Int32 codes a 32-bit signed number, in two's complement.
func Int32[T ~int32](c *Codec, v *T) {
	u := uint32(*v)
	Uint32(c, &u)
	*v = T(u)
}

// Int64 codes a 64-bit signed number, in two's complement.
func Int64[T ~int64](c *Codec, v *T) {
	u := uint64(*v)
	Uint64(c, &u)
	*v = T(u)
}

// Int codes an int as 64 bits, so that the encoding does not depend on
// the host's word size; decoding refuses a value the host's int cannot
// hold.
func Int[T ~int](c *Codec, v *T) {
	w := int64(*v)
	Int64(c, &w)
	if int64(T(w)) != w {
		c.Fail("%d does not fit an int", w)
		return
	}
	*v = T(w)
}

// Bool codes a bool as one byte, 0 or 1.
func Bool(c *Codec, v *bool) {
	var b uint8
	if *v {
		b = 1
	}
	Uint8(c, &b)
	if b > 1 {
		c.Fail("bool byte %d", b)
	}
	*v = b == 1
}

// length codes the length of what follows as a minimal uvarint. Decoding
// refuses one greater than the input left: everything this package
// encodes takes at least one byte per element.
func (c *Codec) length(n int) int {
	if !c.decoding {
		c.buf = binary.AppendUvarint(c.buf, uint64(n))
		return n
	}
	in := c.buf[c.pos:]
	v, size := binary.Uvarint(in)
	switch {
	case size <= 0:
		c.Fail("bad length")
		return 0
	case size > 1 && in[size-1] == 0:
		// A last byte of zero adds nothing: another encoding of a
		// shorter varint.
		c.Fail("length not minimally encoded")
		return 0
	}
	c.pos += size
	if left := len(in) - size; v > uint64(left) {
		c.Fail("length %d, %d bytes left", v, left)
		return 0
	}
	return int(v)
}

// Bytes codes a byte slice. It decodes as a copy, nil when empty.
func Bytes(c *Codec, v *[]byte) {
	n := c.length(len(*v))
	if !c.decoding {
		c.buf = append(c.buf, *v...)
		return
	}
	*v = nil
	if b := c.take(n); len(b) > 0 {
		*v = slices.Clone(b)
	}
}

// String codes a string.
func String(c *Codec, v *string) {
	n := c.length(len(*v))
	if !c.decoding {
		c.buf = append(c.buf, *v...)
		return
	}
	*v = string(c.take(n))
}

// Fixed codes b's bytes as they are, without a length: a field whose
// length the type fixes, such as a hash.
func Fixed(c *Codec, b []byte) {
	if !c.decoding {
		c.buf = append(c.buf, b...)
	} else if in := c.take(len(b)); in != nil {
		copy(b, in)
	}
}

// decodeCapacity bounds the capacity a decoded slice or map starts with:
// a length alone, which may be damaged, does not get to allocate much.
const decodeCapacity = 64

// Slice codes a slice, each element with code.
func Slice[T any](c *Codec, v *[]T, code func(*Codec, *T)) {
	n := c.length(len(*v))
	if !c.decoding {
		for i := range *v {
			code(c, &(*v)[i])
		}
		return
	}
	*v = nil
	if n == 0 {
		return
	}
	s := make([]T, 0, min(n, decodeCapacity))
	for range n {
		var e T
		code(c, &e)
		if c.err != nil {
			return
		}
		s = append(s, e)
	}
	*v = s
}

// Map codes a map by increasing key. Decoding refuses keys out of order
// or repeated.
func Map[K cmp.Ordered, V any](c *Codec, m *map[K]V, codeKey func(*Codec, *K), codeValue func(*Codec, *V)) {
	n := c.length(len(*m))
	if !c.decoding {
		for _, k := range slices.Sorted(maps.Keys(*m)) {
			v := (*m)[k]
			codeKey(c, &k)
			codeValue(c, &v)
		}
		return
	}
	*m = nil
	if n == 0 {
		return
	}
	out := make(map[K]V, min(n, decodeCapacity))
	var last K
	for i := range n {
		var k K
		var v V
		codeKey(c, &k)
		codeValue(c, &v)
		if c.err != nil {
			return
		}
		if i > 0 && k <= last {
			c.Fail("map key %v after %v", k, last)
			return
		}
		out[k], last = v, k
	}
	*m = out
}

// Optional codes a value that may be absent (nil).
func Optional[T any](c *Codec, v **T, code func(*Codec, *T)) {
	present := *v != nil
	Bool(c, &present)
	if !present {
		*v = nil
		return
	}
	if c.decoding {
		*v = new(T)
	}
	code(c, *v)
}
