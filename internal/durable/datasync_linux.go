package durable

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// Datasync makes f's data durable, and of its metadata only what reading
// the data back needs (its size), not its times.
func Datasync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
