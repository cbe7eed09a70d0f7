package canon_test

import (
	"bytes"
	"encoding/gob"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/machine/canon"
	"github.com/synodvm/synod/machine/canon/canontest"
)

type handle uint32

// sample has a field of every kind the package codes.
type sample struct {
	Small    uint8
	Port     uint16
	Handle   handle
	Big      uint64
	Signed32 int32
	Signed64 int64
	Int      int
	Flag     bool
	Name     string
	Data     []byte
	Sum      [4]byte
	Items    []item
	Counts   map[string]uint64
	Next     *item
}

type item struct {
	ID   uint32
	Tags []string
}

func codeSample(c *canon.Codec, s *sample) {
	canon.Uint8(c, &s.Small)
	canon.Uint16(c, &s.Port)
	canon.Uint32(c, &s.Handle)
	canon.Uint64(c, &s.Big)
	canon.Int32(c, &s.Signed32)
	canon.Int64(c, &s.Signed64)
	canon.Int(c, &s.Int)
	canon.Bool(c, &s.Flag)
	canon.String(c, &s.Name)
	canon.Bytes(c, &s.Data)
	canon.Fixed(c, s.Sum[:])
	canon.Slice(c, &s.Items, codeItem)
	canon.Map(c, &s.Counts, canon.String, canon.Uint64)
	canon.Optional(c, &s.Next, codeItem)
}

func codeItem(c *canon.Codec, it *item) {
	canon.Uint32(c, &it.ID)
	canon.Slice(c, &it.Tags, canon.String)
}

func filledSample() *sample {
	return &sample{
		Small: 1, Port: 6379, Handle: 7, Big: 1 << 60, Signed32: -2, Signed64: -1 << 40, Int: -3, Flag: true,
		Name: "kvd", Data: []byte{0, 1, 2}, Sum: [4]byte{9, 8, 7, 6},
		Items:  []item{{ID: 1, Tags: []string{"a", ""}}, {ID: 2, Tags: []string{"b"}}},
		Counts: map[string]uint64{"z": 1, "a": 2, "m": 3},
		Next:   &item{ID: 3, Tags: []string{"c"}},
	}
}

func encode(s *sample) []byte {
	c := canon.NewEncoder(nil)
	codeSample(c, s)
	return c.Bytes()
}

func decode(b []byte) (*sample, error) {
	var s sample
	c := canon.NewDecoder(b)
	codeSample(c, &s)
	return &s, c.Finish()
}

func TestRoundTrip(t *testing.T) {
	enc := canontest.RoundTrip(t, filledSample(), codeSample)
	require.Equal(t, []byte{1, 0x18, 0xeb, 0, 0, 0, 7}, enc[:7], "big-endian at the Go width")

	// Empty and nil encode alike, and decode as nil.
	empty := &sample{Data: []byte{}, Items: []item{}, Counts: map[string]uint64{}}
	require.Equal(t, encode(&sample{}), encode(empty))
	got, err := decode(encode(empty))
	require.NoError(t, err)
	require.Equal(t, &sample{}, got)
}

// A map's entries are in key order whatever the map's iteration order.
func TestMapBytesAreInKeyOrder(t *testing.T) {
	want := encode(filledSample())
	for range 20 {
		require.Equal(t, want, encode(filledSample()))
	}
}

// Decoded bytes are copies: changing the input afterwards changes
// nothing decoded.
func TestDecodedBytesAreCopies(t *testing.T) {
	enc := encode(filledSample())
	got, err := decode(enc)
	require.NoError(t, err)
	clear(enc)
	require.Equal(t, filledSample(), got)
}

// The bytes depend on the values only, not on what the process encoded
// before (unlike encoding/gob's, whose type ids are numbered in the order
// the process first encodes each type).
func TestBytesIgnoreEarlierEncodings(t *testing.T) {
	before := encode(filledSample())
	require.NoError(t, gob.NewEncoder(io.Discard).Encode(struct{ A, B []string }{}))
	require.Equal(t, before, encode(filledSample()))
}

func TestDamageIsAnError(t *testing.T) {
	enc := encode(filledSample())
	for n := range len(enc) {
		_, err := decode(enc[:n])
		require.Error(t, err, "cut at %d", n)
	}
	_, err := decode(append(bytes.Clone(enc), 0))
	require.ErrorIs(t, err, canon.ErrTrailing)

	boolAt := 1 + 2 + 4 + 8 + 4 + 8 + 8
	require.Equal(t, byte(1), enc[boolAt])
	for name, c := range map[string]struct {
		damage func([]byte) []byte
		err    string
	}{
		"bool neither 0 nor 1": {func(b []byte) []byte { b[boolAt] = 2; return b }, "bool byte 2"},
		"length past the end":  {func(b []byte) []byte { b[boolAt+1] = 100; return b }, "length 100"},
		"length not minimal": {func(b []byte) []byte {
			return append(append(b[:boolAt+1:boolAt+1], 0x83, 0x00), b[boolAt+2:]...)
		}, "not minimally encoded"},
		"map keys out of order": {func(b []byte) []byte {
			i := bytes.Index(b, []byte{1, 'a'})
			j := bytes.Index(b, []byte{1, 'm'})
			b[i+1], b[j+1] = 'm', 'a'
			return b
		}, "map key"},
		"presence byte 2": {func(b []byte) []byte { b[bytes.LastIndex(b, []byte{1, 0, 0, 0, 3})] = 2; return b }, "bool byte 2"},
	} {
		_, err := decode(c.damage(bytes.Clone(enc)))
		require.ErrorContains(t, err, c.err, name)
	}
}

// A length claims no more elements than there are bytes left, so a
// damaged length cannot make the decoder allocate much.
func TestLengthBoundsAllocation(t *testing.T) {
	var items []item
	c := canon.NewDecoder([]byte{0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3})
	canon.Slice(c, &items, codeItem)
	require.ErrorContains(t, c.Finish(), "length 4294967295, 3 bytes left")
	require.Nil(t, items)
}

func TestFailKeepsTheFirstError(t *testing.T) {
	c := canon.NewDecoder([]byte{1, 2, 3})
	c.Fail("first %d", 1)
	var v uint8
	canon.Uint8(c, &v)
	c.Fail("second")
	require.EqualError(t, c.Finish(), "first 1")
	require.True(t, c.Decoding())
}

func TestZeroFields(t *testing.T) {
	require.Empty(t, canontest.ZeroFields(filledSample()))
	s := filledSample()
	s.Items[1].Tags = nil
	s.Next.ID = 0
	s.Flag = false
	require.Equal(t, []string{".Flag", ".Items[1].Tags", ".Next.ID"}, canontest.ZeroFields(s))
}

// FuzzDecode: decoding any bytes returns a value or an error, never
// panics, and a value decoded encodes to the bytes it came from.
func FuzzDecode(f *testing.F) {
	f.Add(encode(filledSample()))
	f.Add(encode(&sample{}))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decode(b)
		if err == nil {
			require.Equal(t, b, encode(s))
		}
	})
}
