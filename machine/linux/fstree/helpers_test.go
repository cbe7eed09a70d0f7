package fstree

import (
	"syscall"
	"time"
)

var time0 = time.Unix(1_000_000, 0)

func mkfifo(path string) error { return syscall.Mkfifo(path, 0o600) }
