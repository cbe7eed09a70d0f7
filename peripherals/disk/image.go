package disk

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/synodvm/synod/internal/durable"
)

// Image is the disk image as the server uses it. An image file is one;
// tests put failing ones in its place.
type Image interface {
	io.ReaderAt
	io.WriterAt
	// Sync makes what was written durable.
	Sync() error
	Close() error
}

// MinSize is the smallest image the server serves, and Sector divides
// every image's size: a disk is whole sectors.
const (
	MinSize = 4096
	Sector  = 512
)

// imageFile is an image file, synced with fdatasync: the image's size
// never changes, so its data is all there is to make durable.
type imageFile struct{ *os.File }

func (f imageFile) Sync() error { return durable.Datasync(f.File) }

// checkSize says what is wrong with size as an image's size.
func checkSize(size int64) error {
	switch {
	case size < MinSize:
		return fmt.Errorf("a disk image of %d bytes is too small: the smallest is %d bytes", size, MinSize)
	case size%Sector != 0:
		return fmt.Errorf("a disk image of %d bytes is not whole %d-byte sectors", size, Sector)
	}
	return nil
}

// openImage opens the image at path, which must be size bytes, or
// creates it sparse, and says which. It holds an exclusive lock on the
// file, so that two servers never serve one image.
func openImage(path string, size int64) (f *os.File, created bool, err error) {
	if err := checkSize(size); err != nil {
		return nil, false, err
	}
	f, err = os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		created = true
	}
	if err != nil {
		return nil, false, fmt.Errorf("open disk image: %w", err)
	}
	if err := lockImage(f, path); err != nil {
		f.Close()
		return nil, false, err
	}
	if created {
		err = createSparse(f, path, size)
	} else {
		err = checkExisting(f, path, size)
	}
	if err != nil {
		f.Close()
		return nil, false, err
	}
	return f, created, nil
}

func lockImage(f *os.File, path string) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return fmt.Errorf("disk image %s is served by another disk server already", path)
	}
	if err != nil {
		return fmt.Errorf("lock disk image %s: %w", path, err)
	}
	return nil
}

func createSparse(f *os.File, path string, size int64) error {
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("create disk image %s of %d bytes: %w", path, size, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("create disk image %s: sync: %w", path, err)
	}
	return durable.SyncDir(filepath.Dir(path))
}

func checkExisting(f *os.File, path string, size int64) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("disk image %s: %w", path, err)
	}
	switch {
	case !st.Mode().IsRegular():
		return fmt.Errorf("disk image %s is not a regular file (%s)", path, st.Mode().Type())
	case st.Size() < MinSize:
		return fmt.Errorf("disk image %s is %d bytes, too small to be a disk (the smallest is %d bytes)", path, st.Size(), MinSize)
	case st.Size() != size:
		return fmt.Errorf("disk image %s is %d bytes, not %d: serve it at its own size, or name another image",
			path, st.Size(), size)
	}
	return nil
}
