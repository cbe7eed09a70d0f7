package p2p

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
)

// A large message (a snapshot, or the answer to a request for one) has no
// size limit, so it is not a frame: the receiver cannot be asked to trust
// a length and allocate it up front. It is a preamble frame, bounded like
// any frame, holding the body's length, a CRC-32C of head and body, and
// the head; then the body's bytes, written and read a chunk at a time
// with a deadline on each chunk. A transfer that keeps moving may take as
// long as it needs; one that stalls for a whole timeout is abandoned. The
// stream's own flow control (yamux windows) paces the sender to the
// receiver, so neither side holds more than a chunk or two in flight, and
// other streams on the same connection, the raft messages among them,
// keep flowing between the chunks.

// largePreambleSize is the body length and checksum in front of the head.
const largePreambleSize = 8 + 4

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errMalformedLarge marks a large message that breaks the format: the
// peer misbehaves or the stream was cut, never a reason to crash.
var errMalformedLarge = errors.New("malformed large message")

// writeLarge writes head and body to s as one large message.
func writeLarge(s network.Stream, head, body []byte, chunk int, timeout time.Duration) error {
	sum := crc32.Update(crc32.Checksum(head, castagnoli), castagnoli, body)
	pre := make([]byte, 0, largePreambleSize+len(head))
	pre = binary.BigEndian.AppendUint64(pre, uint64(len(body)))
	pre = binary.BigEndian.AppendUint32(pre, sum)
	pre = append(pre, head...)
	w := bufio.NewWriterSize(s, 64<<10)
	if err := errors.Join(s.SetWriteDeadline(time.Now().Add(timeout)), writeFrame(w, pre), w.Flush()); err != nil {
		return fmt.Errorf("write preamble: %w", err)
	}
	for off := 0; off < len(body); off += chunk {
		if err := s.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
			return err
		}
		if _, err := s.Write(body[off:min(off+chunk, len(body))]); err != nil {
			return fmt.Errorf("write at byte %d of %d: %w", off, len(body), err)
		}
	}
	return nil
}

// readLarge reads one large message from r (reading s) and returns head
// and body in one slice. maxHead bounds the preamble frame. Memory grows
// with the bytes actually received, never with the length announced, so
// a peer that announces more than it sends costs at most twice what it
// sent. The message must end the stream.
func readLarge(s network.Stream, r *bufio.Reader, maxHead, chunk int, timeout time.Duration) ([]byte, error) {
	if err := s.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	pre, err := readFrame(r, maxHead+largePreambleSize)
	switch {
	case errors.Is(err, errFrameTooLarge):
		return nil, fmt.Errorf("%w: %w", errMalformedLarge, err)
	case err != nil:
		return nil, fmt.Errorf("read preamble: %w", err)
	case len(pre) < largePreambleSize:
		return nil, fmt.Errorf("%w: preamble of %d bytes", errMalformedLarge, len(pre))
	}
	size, sum := binary.BigEndian.Uint64(pre), binary.BigEndian.Uint32(pre[8:])
	head := pre[largePreambleSize:]
	if size > uint64(math.MaxInt-len(head)) {
		return nil, fmt.Errorf("%w: body of %d bytes", errMalformedLarge, size)
	}
	total := len(head) + int(size)
	msg := make([]byte, len(head), min(total, len(head)+chunk))
	copy(msg, head)
	for len(msg) < total {
		n := min(total-len(msg), chunk)
		if cap(msg)-len(msg) < n {
			grown := make([]byte, len(msg), min(total, max(2*cap(msg), len(msg)+n)))
			copy(grown, msg)
			msg = grown
		}
		if err := s.SetReadDeadline(time.Now().Add(timeout)); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(r, msg[len(msg):len(msg)+n]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("%w: the stream ended after %d of %d body bytes", errMalformedLarge, len(msg)-len(head), size)
			}
			return nil, fmt.Errorf("read at byte %d of %d: %w", len(msg)-len(head), size, err)
		}
		msg = msg[:len(msg)+n]
	}
	if err := s.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	switch _, err := r.ReadByte(); {
	case err == nil:
		return nil, fmt.Errorf("%w: bytes after the announced %d", errMalformedLarge, size)
	case !errors.Is(err, io.EOF):
		return nil, fmt.Errorf("read the end of the stream: %w", err)
	}
	if crc32.Checksum(msg, castagnoli) != sum {
		return nil, fmt.Errorf("%w: %d bytes fail their checksum", errMalformedLarge, total)
	}
	return msg, nil
}
