//go:build !linux

package durable

import "os"

// Datasync makes f's data durable (fsync where fdatasync is missing).
func Datasync(f *os.File) error { return f.Sync() }

// DatasyncAppend is Datasync for a log that syncs each small append.
func DatasyncAppend(f *os.File) error { return Datasync(f) }

// WriteAppend is f.WriteAt for a log's small append.
func WriteAppend(f *os.File, b []byte, off int64) error {
	_, err := f.WriteAt(b, off)
	return err
}
