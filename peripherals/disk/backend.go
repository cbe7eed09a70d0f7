package disk

import (
	"context"
	"errors"
	"fmt"

	"github.com/synodvm/synod/peripherals"
)

// Backend is a Client as a node's disk device uses it
// (peripherals.DiskBackend): a definite answer other than OK becomes the
// errno the guest sees, and anything else — no answer, nothing sent — is
// uncertain, so the node does not answer the output and the runtime
// performs it again with the same seq.
type Backend struct{ *Client }

var _ peripherals.DiskBackend = Backend{}

// ReadAt reads length bytes at offset.
func (b Backend) ReadAt(ctx context.Context, seq uint64, offset int64, length int) ([]byte, error) {
	data, err := b.Read(ctx, seq, offset, length)
	return data, deviceError(err)
}

// WriteAt writes data at offset, durably.
func (b Backend) WriteAt(ctx context.Context, seq uint64, offset int64, data []byte) (int, error) {
	n, err := b.Write(ctx, seq, offset, data)
	return n, deviceError(err)
}

// deviceError is err as a node's disk device understands it.
func deviceError(err error) error {
	if err == nil {
		return nil
	}
	var se *StatusError
	if !errors.As(err, &se) {
		return fmt.Errorf("%w: %w", peripherals.ErrDiskUncertain, err)
	}
	errno := uint32(peripherals.ErrnoEIO)
	if se.Status == StatusTooLarge {
		errno = peripherals.ErrnoEINVAL
	}
	return &peripherals.DiskError{Errno: errno, Msg: err.Error()}
}
