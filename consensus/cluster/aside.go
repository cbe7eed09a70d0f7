package cluster

import (
	"os"
	"path/filepath"
	"time"
)

// SetAside moves every file of the data directory dir (but directories,
// earlier set-aside ones among them) into a new directory of dir named
// prefix, a dash and the time, and returns its path: what a node's store
// left behind is kept for the operator to inspect, never deleted.
func SetAside(dir, prefix string) (string, error) {
	aside := filepath.Join(dir, prefix+"-"+time.Now().UTC().Format("20060102T150405.000Z"))
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	if err := os.Mkdir(aside, 0o700); err != nil {
		return "", err
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		if err := os.Rename(filepath.Join(dir, e.Name()), filepath.Join(aside, e.Name())); err != nil {
			return "", err
		}
	}
	return aside, nil
}
