package raftlog

import (
	"os"

	"golang.org/x/sys/unix"
)

// datasync makes f's data durable, and of its metadata only what reading
// the data back needs (its size), as bbolt does on Linux.
func datasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }

// punchHole gives the disk back the room of n bytes of f at off.
func punchHole(f *os.File, off, n int64) error {
	return unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
}
