package bft

import (
	"os"

	"golang.org/x/sys/unix"
)

// datasync makes f's data durable, and of its metadata only what reading
// the data back needs.
func datasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }
