package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/synodvm/synod/internal/durable"
)

// clusterFile is the name of the record synod up writes in its directory
// and synod start keeps up to date.
const clusterFile = "cluster.json"

// readCluster reads <dir>/cluster.json. Writers replace it by rename, so a
// reader sees a whole file, old or new, without taking the lock.
func readCluster(dir string) (upCluster, error) {
	var up upCluster
	path := filepath.Join(dir, clusterFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return up, err
	}
	if err := json.Unmarshal(b, &up); err != nil {
		return up, fmt.Errorf("%s: %w", path, err)
	}
	return up, nil
}

// updateCluster changes <dir>/cluster.json under an exclusive lock on
// <dir>/cluster.json.lock: change gets what the file holds now (nothing
// yet: the zero upCluster), so synod starts of several nodes at once each
// keep the others' changes. The new contents replace the file by rename
// once they are on disk, so that neither a reader nor a crash meets half a
// file.
func updateCluster(dir string, change func(*upCluster) error) error {
	path := filepath.Join(dir, clusterFile)
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	// Closing the file releases the lock.
	defer lock.Close()
	if err := flock(lock, syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	up, err := readCluster(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := change(&up); err != nil {
		return err
	}
	b, err := json.MarshalIndent(up, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// The record is not a secret.
	return durable.WriteFile(path, append(b, '\n'), 0o644)
}

// flock takes a lock on f, waiting for it and retrying when a signal
// interrupts the wait.
func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
