package fstree

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/synodvm/synod/machine/linux"
)

// Pack reads the directory dir of the host into a new tree: its regular
// files, directories and symbolic links with their permission bits, owned
// by root, every time zero (Touch gives them the guest's boot time).
// Nothing else of the host is kept, so the same directory packs to the
// same tree, and the same Digest, on every host. Other kinds of file
// (devices, sockets, pipes) are refused by name, as is a directory that
// does not fit the tree's limits.
func Pack(dir string) (*Tree, error) {
	t := New()
	root, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", dir, err)
	}
	if !root.IsDir() {
		return nil, fmt.Errorf("pack %s: not a directory", dir)
	}
	t.nodes[rootIno].Mode = linux.S_IFDIR | permBits(root.Mode())
	if err := t.packDir(dir, rootIno); err != nil {
		return nil, fmt.Errorf("pack %s: %w", dir, err)
	}
	return t, nil
}

// packDir adds the entries of the host directory dir under ino, in name
// order.
func (t *Tree) packDir(dir string, ino Ino) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		info, err := os.Lstat(path)
		if err != nil {
			return err
		}
		n := &node{Mode: permBits(info.Mode())}
		switch info.Mode().Type() {
		case 0:
			n.Mode |= linux.S_IFREG
			if info.Size() > Capacity-t.used {
				return fmt.Errorf("%s: the files pass the tree's %d MiB", path, Capacity>>20)
			}
			if n.Data, err = os.ReadFile(path); err != nil {
				return err
			}
		case fs.ModeDir:
			n.Mode |= linux.S_IFDIR
		case fs.ModeSymlink:
			n.Mode = linux.S_IFLNK | 0o777
			if n.Target, err = os.Readlink(path); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: a %v cannot be packed (regular files, directories and symbolic links only)", path, info.Mode().Type())
		}
		child, errno := t.add(ino, e.Name(), n, 0)
		if errno != 0 {
			return fmt.Errorf("%s: more than %d files", path, MaxFiles)
		}
		t.used += int64(len(n.Data))
		if n.isDir() {
			if err := t.packDir(path, child); err != nil {
				return err
			}
		}
	}
	return nil
}

// permBits turns a host file mode into st_mode permission bits.
func permBits(m fs.FileMode) uint32 {
	bits := uint32(m.Perm())
	for _, b := range []struct {
		host  fs.FileMode
		guest uint32
	}{{fs.ModeSetuid, 0o4000}, {fs.ModeSetgid, 0o2000}, {fs.ModeSticky, 0o1000}} {
		if m&b.host != 0 {
			bits |= b.guest
		}
	}
	return bits
}
