//go:build !linux

package raftlog

import "os"

// startWriteback does nothing where there is no sync_file_range: the
// pace alone bounds what the final sync has to write.
func startWriteback(*os.File, int64, int64) {}

// awaitWriteback does nothing where there is no sync_file_range.
func awaitWriteback(*os.File, int64, int64) {}
