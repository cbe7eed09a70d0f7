package p2p

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"runtime/debug"
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

// writeLarge writes head and body to s as one large message. body may
// be a mapped file (the leader's stored snapshot): it is read only by
// copying it a chunk at a time into a buffer of our own, and a page the
// disk fails to deliver, which faults, fails the transfer instead of
// ending the process.
func writeLarge(s network.Stream, head, body []byte, chunk int, timeout time.Duration) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("reading the message to send faulted: %v", r)
		}
	}()
	sum := crc32.Update(crc32.Checksum(head, castagnoli), castagnoli, body)
	pre := make([]byte, 0, largePreambleSize+len(head))
	pre = binary.BigEndian.AppendUint64(pre, uint64(len(body)))
	pre = binary.BigEndian.AppendUint32(pre, sum)
	pre = append(pre, head...)
	w := bufio.NewWriterSize(s, 64<<10)
	if err := errors.Join(s.SetWriteDeadline(time.Now().Add(timeout)), writeFrame(w, pre), w.Flush()); err != nil {
		return fmt.Errorf("write preamble: %w", err)
	}
	buf := make([]byte, min(chunk, len(body)))
	for off := 0; off < len(body); off += chunk {
		n := copy(buf, body[off:min(off+chunk, len(body))])
		if err := s.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
			return err
		}
		if _, err := s.Write(buf[:n]); err != nil {
			return fmt.Errorf("write at byte %d of %d: %w", off, len(body), err)
		}
	}
	return nil
}

// readLarge reads one large message from r (reading s) into the sink
// newSink makes for its size, and returns head and body in one slice,
// with the function that releases them (nil when the garbage collector
// does). maxHead bounds the preamble frame. The checksum is computed as
// the chunks arrive. The message must end the stream.
func readLarge(s network.Stream, r *bufio.Reader, maxHead, chunk int, timeout time.Duration, newSink func(size int) largeSink) (msg []byte, release func(), err error) {
	if err := s.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return nil, nil, err
	}
	pre, err := readFrame(r, maxHead+largePreambleSize)
	switch {
	case errors.Is(err, errFrameTooLarge):
		return nil, nil, fmt.Errorf("%w: %w", errMalformedLarge, err)
	case err != nil:
		return nil, nil, fmt.Errorf("read preamble: %w", err)
	case len(pre) < largePreambleSize:
		return nil, nil, fmt.Errorf("%w: preamble of %d bytes", errMalformedLarge, len(pre))
	}
	size, want := binary.BigEndian.Uint64(pre), binary.BigEndian.Uint32(pre[8:])
	head := pre[largePreambleSize:]
	if size > uint64(math.MaxInt-len(head)) {
		return nil, nil, fmt.Errorf("%w: body of %d bytes", errMalformedLarge, size)
	}
	body := int(size)
	sink := newSink(len(head) + body)
	defer func() {
		if err != nil {
			sink.discard()
		}
	}()
	if err := sink.write(head); err != nil {
		return nil, nil, err
	}
	sum := crc32.Checksum(head, castagnoli)
	for received := 0; received < body; {
		buf := sink.next(min(body-received, chunk))
		if err := s.SetReadDeadline(time.Now().Add(timeout)); err != nil {
			return nil, nil, err
		}
		if _, err := io.ReadFull(r, buf); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, nil, fmt.Errorf("%w: the stream ended after %d of %d body bytes", errMalformedLarge, received, size)
			}
			return nil, nil, fmt.Errorf("read at byte %d of %d: %w", received, size, err)
		}
		sum = crc32.Update(sum, castagnoli, buf)
		if err := sink.write(buf); err != nil {
			return nil, nil, err
		}
		received += len(buf)
	}
	if err := s.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return nil, nil, err
	}
	switch _, err := r.ReadByte(); {
	case err == nil:
		return nil, nil, fmt.Errorf("%w: bytes after the announced %d", errMalformedLarge, size)
	case !errors.Is(err, io.EOF):
		return nil, nil, fmt.Errorf("read the end of the stream: %w", err)
	}
	if sum != want {
		return nil, nil, fmt.Errorf("%w: %d bytes fail their checksum", errMalformedLarge, len(head)+body)
	}
	return sink.finish()
}
