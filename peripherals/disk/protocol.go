package disk

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Version is the protocol version every frame carries; a frame of
// another version closes the connection. (Version 1 had no certificate.)
const Version = 2

// MaxData is the most bytes one READ may ask for and one WRITE may carry.
const MaxData = 1 << 20

// MaxClientID is the longest client identity, in bytes.
const MaxClientID = 255

// MaxCertificate is the longest certificate a WRITE may carry, in bytes:
// room for the f+1 = 26 signatures a Byzantine cluster of 3*25+1 nodes
// gives, each 337 bytes with the longest proof (outputs.AppendCertificate).
const MaxCertificate = 9 << 10

const (
	// maxText bounds a response's error text.
	maxText = 1024
	// minFrame is the length of a frame with no client, text,
	// certificate or data.
	minFrame = 1 + 1 + 1 + 8 + 8 + 4 + 2 + 2 + 4
	// maxFrame is the length of the largest frame that can be valid.
	maxFrame = minFrame + MaxClientID + maxText + MaxCertificate + MaxData
	// drainLimit bounds a frame the server reads through only to answer
	// it TooLarge: a longer length is taken for garbage.
	drainLimit = 64 << 20
)

// Op is what a request asks for.
type Op uint8

// The requests.
const (
	OpRead  Op = 1 // Count bytes at Offset
	OpWrite Op = 2 // the frame's data at Offset, durably
	OpFlush Op = 3 // everything answered before is durable (every write is fsynced before its answer already)
	OpInfo  Op = 4 // the image's size
)

func (o Op) String() string {
	switch o {
	case OpRead:
		return "READ"
	case OpWrite:
		return "WRITE"
	case OpFlush:
		return "FLUSH"
	case OpInfo:
		return "INFO"
	}
	return fmt.Sprintf("op %d", uint8(o))
}

// Status is how the server answered a request.
type Status uint8

// The answers. Every status but OK is definite: the server did not apply
// the request (an I/O error may have left a write partly applied, as a
// failing disk would).
const (
	StatusOK         Status = 0
	StatusIOError    Status = 1 // the image failed; the text says how
	StatusOutOfRange Status = 2 // the request reaches past the image's end
	StatusTooLarge   Status = 3 // more than MaxData bytes
	// StatusForgotten answers a write whose sequence number is older than
	// the answers the server still keeps for its client: it may have been
	// applied, and applying it now could undo later writes.
	StatusForgotten Status = 4
	// StatusConflict answers a sequence number the client used before for
	// a different write (two clients sharing an identity, or a bug).
	StatusConflict   Status = 5
	StatusBadRequest Status = 6 // an unknown op, an empty client identity, a malformed write
	StatusRefused    Status = 7 // the server keeps answers for as many clients as it can
	// StatusUncertified answers a write a server that checks certificates
	// (a Byzantine cluster's) could not check: none, or not f+1 valid
	// signatures over this write.
	StatusUncertified Status = 8
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusIOError:
		return "I/O error"
	case StatusOutOfRange:
		return "out of range"
	case StatusTooLarge:
		return "too large"
	case StatusForgotten:
		return "forgotten"
	case StatusConflict:
		return "conflict"
	case StatusBadRequest:
		return "bad request"
	case StatusRefused:
		return "refused"
	case StatusUncertified:
		return "uncertified"
	}
	return fmt.Sprintf("status %d", uint8(s))
}

// frame is a request or a response. On the wire, big-endian:
//
//	u32  length of what follows
//	u8   version
//	u8   kind: the Op of a request, the Status of a response
//	u8   client identity length, then the identity
//	u64  seq
//	u64  value: a request's offset; a response's image size (INFO) or bytes written (WRITE)
//	u32  count: the bytes a READ asks for
//	u16  text length, then the text (a response's error)
//	u16  certificate length, then the certificate (a Byzantine cluster's WRITE)
//	     data: the rest, up to the checksum (a WRITE's bytes, a READ's answer)
//	u32  CRC-32C (Castagnoli) of everything from the version on
type frame struct {
	kind   uint8
	client string
	seq    uint64
	value  uint64
	count  uint32
	text   string
	// cert is a WRITE's certificate: f+1 replicas' signatures over it
	// (outputs.AppendCertificate), in a Byzantine cluster.
	cert []byte
	data []byte
	// sum is the checksum a frame arrived with: it names a request, since
	// a request sent again is the same bytes.
	sum uint32
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errTooLarge is what readFrame returns, with the frame's fields but not
// its data, for an intact frame whose data exceeds MaxData.
var errTooLarge = errors.New("frame data exceeds the protocol's limit")

// appendFrame encodes f after dst. The caller keeps client within
// MaxClientID and data within MaxData; a longer text is cut.
func appendFrame(dst []byte, f *frame) []byte {
	text := f.text
	if len(text) > maxText {
		text = text[:maxText]
	}
	start := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, uint32(minFrame+len(f.client)+len(text)+len(f.cert)+len(f.data)))
	dst = append(dst, Version, f.kind, uint8(len(f.client)))
	dst = append(dst, f.client...)
	dst = binary.BigEndian.AppendUint64(dst, f.seq)
	dst = binary.BigEndian.AppendUint64(dst, f.value)
	dst = binary.BigEndian.AppendUint32(dst, f.count)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(text)))
	dst = append(dst, text...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(f.cert)))
	dst = append(dst, f.cert...)
	dst = append(dst, f.data...)
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst[start+4:], castagnoli))
}

func truncated(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("truncated frame: %w", err)
}

// readFrame reads one frame. io.EOF means the peer closed between frames;
// errTooLarge comes with an intact frame's fields but not its data; any
// other error means the stream can no longer be trusted, and says why in
// one line.
func readFrame(r *bufio.Reader) (frame, error) {
	var head [4]byte
	if n, err := io.ReadFull(r, head[:]); err != nil {
		if n == 0 && errors.Is(err, io.EOF) {
			return frame{}, io.EOF
		}
		return frame{}, truncated(err)
	}
	length := int(binary.BigEndian.Uint32(head[:]))
	switch {
	case length < minFrame:
		return frame{}, fmt.Errorf("a frame of %d bytes is shorter than any valid frame (%d)", length, minFrame)
	case length > drainLimit:
		return frame{}, fmt.Errorf("a frame of %d bytes is far beyond the %d-byte limit", length, maxFrame)
	}
	if v, err := r.Peek(1); err != nil {
		return frame{}, truncated(err)
	} else if v[0] != Version {
		return frame{}, fmt.Errorf("unknown protocol version %d (this side speaks %d)", v[0], Version)
	}
	// A frame too large to hold is read through for its checksum, keeping
	// only the fields before its data.
	content := length - 4
	kept := min(content, maxFrame-MaxData-4)
	if content <= maxFrame-4 {
		kept = content
	}
	buf := make([]byte, kept)
	if _, err := io.ReadFull(r, buf); err != nil {
		return frame{}, truncated(err)
	}
	sum := crc32.Checksum(buf, castagnoli)
	var scratch []byte
	for skip := content - kept; skip > 0; {
		if scratch == nil {
			scratch = make([]byte, 32<<10)
		}
		chunk := scratch[:min(skip, len(scratch))]
		if _, err := io.ReadFull(r, chunk); err != nil {
			return frame{}, truncated(err)
		}
		sum = crc32.Update(sum, castagnoli, chunk)
		skip -= len(chunk)
	}
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return frame{}, truncated(err)
	}
	if want := binary.BigEndian.Uint32(head[:]); sum != want {
		return frame{}, fmt.Errorf("checksum mismatch (frame says %08x, content sums to %08x)", want, sum)
	}
	c := cursor{b: buf[1:]}
	f := frame{kind: uint8(c.uint(1)), sum: sum}
	f.client = string(c.next(int(c.uint(1))))
	f.seq = c.uint(8)
	f.value = c.uint(8)
	f.count = uint32(c.uint(4))
	textLen := int(c.uint(2))
	if textLen > maxText {
		return frame{}, fmt.Errorf("a text of %d bytes exceeds the %d-byte limit", textLen, maxText)
	}
	f.text = string(c.next(textLen))
	certLen := int(c.uint(2))
	if certLen > MaxCertificate {
		return frame{}, fmt.Errorf("a certificate of %d bytes exceeds the %d-byte limit", certLen, MaxCertificate)
	}
	if certLen > 0 {
		f.cert = c.next(certLen)
	}
	if c.bad {
		return frame{}, fmt.Errorf("fields overrun a frame of %d bytes", length)
	}
	if kept < content || len(c.b) > MaxData {
		return f, errTooLarge
	}
	if len(c.b) > 0 {
		f.data = c.b
	}
	return f, nil
}
