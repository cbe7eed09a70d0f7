//go:build !linux

package durable

import "os"

// Datasync makes f's data durable (fsync where fdatasync is missing).
func Datasync(f *os.File) error { return f.Sync() }

// DatasyncAppend is Datasync for a log that syncs each small append.
func DatasyncAppend(f *os.File) error { return Datasync(f) }
