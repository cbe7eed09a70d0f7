//go:build !linux

package bft

import "os"

func datasync(f *os.File) error { return f.Sync() }
