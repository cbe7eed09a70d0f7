// Package durable makes file writes survive a crash: the syncs and the
// atomic replacement every store of synod needs (the raft store and its
// write-ahead log, the Byzantine engine's records, the disk server's
// journal and images, the cluster file). It stands on the standard
// library and golang.org/x/sys only.
package durable

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// SyncDir makes a file created, renamed or removed in dir durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	if err := errors.Join(d.Sync(), d.Close()); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// WriteFile replaces path with data, mode perm: a temporary file in the
// same directory, synced, renamed over path, and the directory synced so
// that the rename itself survives a crash. A crash leaves the old content
// or the new, never a mix; a failed write leaves no temporary file.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = tmp.Write(data)
	err = errors.Join(err, tmp.Chmod(perm), tmp.Sync(), tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return errors.Join(fmt.Errorf("write %s: %w", path, err), os.Remove(tmp.Name()))
	}
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
