package p2p

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// A frame is one message on the wire: a 4-byte big-endian length, then
// that many bytes. The length is checked against the receiver's limit
// before anything is allocated, so a peer cannot make us reserve more than
// MaxMessageSize for one frame.
const frameHeaderSize = 4

// errFrameTooLarge marks a frame whose announced length exceeds the limit:
// the stream is out of sync or the peer misbehaves, so it is closed.
var errFrameTooLarge = errors.New("frame larger than the message size limit")

// writeFrame appends one frame to w (the caller flushes).
func writeFrame(w *bufio.Writer, msg []byte) error {
	var hdr [frameHeaderSize]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(msg)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(msg)
	return err
}

// readFrame reads one frame. It returns io.EOF only on a clean end between
// frames; a stream that ends inside a frame is io.ErrUnexpectedEOF.
func readFrame(r *bufio.Reader, limit int) ([]byte, error) {
	var hdr [frameHeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if uint64(n) > uint64(limit) {
		return nil, fmt.Errorf("%w: %d > %d bytes", errFrameTooLarge, n, limit)
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(r, msg); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return msg, nil
}
