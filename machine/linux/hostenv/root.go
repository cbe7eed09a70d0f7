package hostenv

import (
	"path/filepath"
	"strings"
	"syscall"
)

// SetRoot gives the guest a root of its own, as qemu-hppa's -L does: an
// absolute path the guest names is looked up under dir first, and on the
// host as it is when dir has nothing there. So a guest /bin/sh can be a
// program built for the guest while /tmp and the rest stay the host's.
// Call it before the guest runs; "" turns it off.
func (e *Env) SetRoot(dir string) { e.root = dir }

// host is the host path of the guest's path.
func (e *Env) host(path string) string {
	if e.root == "" || !strings.HasPrefix(path, "/") {
		return path
	}
	under := filepath.Join(e.root, path)
	var st syscall.Stat_t
	if syscall.Lstat(under, &st) == nil {
		return under
	}
	return path
}
