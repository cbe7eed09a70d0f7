package disk

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFrameRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    frame
	}{
		{"read request", frame{kind: uint8(OpRead), client: "c1/journal", seq: 7, value: 4096, count: 512}},
		{"write request", frame{kind: uint8(OpWrite), client: "c", seq: 1 << 40, value: 8, data: []byte("hello")}},
		{"info request", frame{kind: uint8(OpInfo), client: "c", seq: 0}},
		{"error answer", frame{kind: uint8(StatusIOError), client: "c", seq: 3, text: "write x at 0: input/output error"}},
		{"read answer at the limit", frame{kind: uint8(StatusOK), client: string(bytes.Repeat([]byte("i"), MaxClientID)),
			seq: 9, value: MaxData, data: bytes.Repeat([]byte{0xa5}, MaxData)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := appendFrame(nil, &tc.f)
			got, err := readFrame(bufio.NewReader(bytes.NewReader(b)))
			require.NoError(t, err)
			want := tc.f
			want.sum = binary.BigEndian.Uint32(b[len(b)-4:])
			assert.Equal(t, want, got)
		})
	}
}

func TestFrameTextIsCut(t *testing.T) {
	f := frame{kind: uint8(StatusIOError), client: "c", text: string(bytes.Repeat([]byte("e"), 3*maxText))}
	got, err := readFrame(bufio.NewReader(bytes.NewReader(appendFrame(nil, &f))))
	require.NoError(t, err)
	assert.Len(t, got.text, maxText)
}

// oversized is a valid frame whose data exceeds MaxData.
func oversized(extra int) []byte {
	return appendFrame(nil, &frame{kind: uint8(OpWrite), client: "big", seq: 5, data: make([]byte, MaxData+extra)})
}

func TestFrameTooLarge(t *testing.T) {
	for _, extra := range []int{1, 3 * MaxData} {
		r := bufio.NewReader(io.MultiReader(bytes.NewReader(oversized(extra)),
			bytes.NewReader(appendFrame(nil, &frame{kind: uint8(OpInfo), client: "big", seq: 6}))))
		f, err := readFrame(r)
		require.ErrorIs(t, err, errTooLarge)
		assert.Equal(t, "big", f.client)
		assert.Equal(t, uint64(5), f.seq)
		assert.Nil(t, f.data)
		next, err := readFrame(r)
		require.NoError(t, err, "the stream goes on after a frame too large")
		assert.Equal(t, uint64(6), next.seq)
	}
}

// garbage are byte streams that are not frames, each with what the
// reader must say of it.
var garbage = []struct {
	name, reason string
	b            []byte
}{
	{"text", "far beyond", []byte("GET / HTTP/1.1\r\n\r\n")},
	{"zeros", "shorter than any valid frame", make([]byte, 64)},
	{"huge length", "far beyond", []byte{0x7f, 0xff, 0xff, 0xff, 1, 2, 3}},
	{"unknown version", "unknown protocol version 9", func() []byte {
		b := appendFrame(nil, &frame{kind: uint8(OpInfo), client: "c"})
		b[4] = 9
		return b
	}()},
	{"flipped bit", "checksum mismatch", func() []byte {
		b := appendFrame(nil, &frame{kind: uint8(OpWrite), client: "c", data: []byte("data")})
		b[len(b)-6] ^= 1
		return b
	}()},
	{"truncated", "truncated frame", func() []byte {
		b := appendFrame(nil, &frame{kind: uint8(OpWrite), client: "c", data: []byte("data")})
		return b[:len(b)-3]
	}()},
	{"truncated length", "truncated frame", []byte{0, 0}},
	{"client overruns", "overrun", func() []byte {
		b := appendFrame(nil, &frame{kind: uint8(OpInfo), client: "c"})
		b[6] = 200
		binary.BigEndian.PutUint32(b[len(b)-4:], crc32c(b[4:len(b)-4]))
		return b
	}()},
}

func TestFrameGarbage(t *testing.T) {
	for _, g := range garbage {
		t.Run(g.name, func(t *testing.T) {
			_, err := readFrame(bufio.NewReader(bytes.NewReader(g.b)))
			require.Error(t, err)
			assert.NotErrorIs(t, err, errTooLarge)
			assert.Contains(t, err.Error(), g.reason)
			assert.NotContains(t, err.Error(), "\n", "a reason fits on one line")
		})
	}
}

// FuzzReadFrame: whatever the bytes, reading them ends in a frame or an
// error, never a panic, and a frame read encodes back to the same bytes.
func FuzzReadFrame(f *testing.F) {
	for _, g := range garbage {
		f.Add(g.b)
	}
	f.Add(appendFrame(nil, &frame{kind: uint8(OpWrite), client: "c", seq: 3, value: 512, data: []byte("x")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bufio.NewReader(bytes.NewReader(b))
		for range 8 {
			fr, err := readFrame(r)
			if err != nil {
				return
			}
			again := appendFrame(nil, &fr)
			assert.Equal(t, fr.sum, binary.BigEndian.Uint32(again[len(again)-4:]))
		}
	})
}

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
