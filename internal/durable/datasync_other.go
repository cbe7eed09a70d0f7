//go:build !linux

package durable

import "os"

// Datasync makes f's data durable (fsync where fdatasync is missing).
func Datasync(f *os.File) error { return f.Sync() }
