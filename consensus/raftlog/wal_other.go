//go:build !linux

package raftlog

import (
	"errors"
	"os"
)

// datasync makes f's data durable (fsync where fdatasync is missing).
func datasync(f *os.File) error { return f.Sync() }

// punchHole is not available here: the room stays taken.
func punchHole(*os.File, int64, int64) error { return errors.ErrUnsupported }
