package replica

import (
	"crypto/sha256"
	"fmt"

	"github.com/synodvm/synod/machine/linux"
	"github.com/synodvm/synod/machine/linux/fstree"
)

// The guest's file system is a file tree (package fstree) held in the
// world: every replica starts it from the same packed root, whose digest
// the Boot entry carries, and only the guest's system calls change it, so
// it is replicated state like guest memory: snapshots carry it and the
// state hash covers it. Paths under /dev/synod name the device files
// (world_disk.go) instead.

// RootDigest is the digest a Boot entry carries for a packed root file
// system (fstree's encoding): zero for none, whose root starts empty.
func RootDigest(root []byte) [32]byte {
	if root == nil {
		return [32]byte{}
	}
	return sha256.Sum256(root)
}

// rootFiles is the file tree the machine starts with: the packed root
// (which notGiven has checked is the one the Boot entry names).
func (r *Replica) rootFiles(index uint64) (*fstree.Tree, error) {
	if r.cfg.Root == nil {
		return fstree.New(), nil
	}
	files, err := fstree.Decode(r.cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("boot entry %d: root file system: %w", index, err)
	}
	return files, nil
}

// now is the time the guest's file changes take: the guest time of the
// last seal, the same on every replica.
func (w *world) now() int64 { return w.timeBase }

func (w *world) openFile(path string, flags, mode uint32) (linux.Handle, linux.Errno) {
	f, e := w.files.Open(path, flags, mode, w.now())
	if e != 0 {
		return 0, e
	}
	return w.newHandle(&object{kind: kindFile, file: f}), 0
}

// file is the open file h, or nil when h is no file of the tree.
func (w *world) file(h linux.Handle) *fstree.File {
	if o := w.objects[h]; o != nil && o.kind == kindFile {
		return o.file
	}
	return nil
}

// fileIno names ref's file in the tree. A handle of another kind (the
// console, a socket, a device file) answers errno.
func (w *world) fileIno(ref linux.FileRef, errno linux.Errno) (fstree.Ino, linux.Errno) {
	if ref.Path != "" {
		return w.files.Lookup(ref.Path, ref.Follow)
	}
	if f := w.file(ref.Handle); f != nil {
		return f.Ino, 0
	}
	if w.objects[ref.Handle] == nil {
		return 0, linux.EBADF
	}
	return 0, errno
}
