package fstree

import (
	"slices"
	"strings"

	"github.com/synodvm/synod/machine/linux"
)

// Mkdir makes the directory p.
func (t *Tree) Mkdir(p string, mode uint32, now int64) linux.Errno {
	dir, name, e := t.newName(p)
	if e != 0 {
		return e
	}
	_, e = t.add(dir, name, &node{Mode: linux.S_IFDIR | mode&0o7777}, now)
	return e
}

// Symlink makes p a symbolic link to target.
func (t *Tree) Symlink(target, p string, now int64) linux.Errno {
	if target == "" {
		return linux.ENOENT
	}
	dir, name, e := t.newName(p)
	if e != 0 {
		return e
	}
	_, e = t.add(dir, name, &node{Mode: linux.S_IFLNK | 0o777, Target: target}, now)
	return e
}

// Link gives the file ino a second name, p.
func (t *Tree) Link(ino Ino, p string, now int64) linux.Errno {
	n := t.nodes[ino]
	if n.isDir() {
		return linux.EPERM
	}
	if n.Nlink == 0 {
		return linux.ENOENT // unlinked while open
	}
	dir, name, e := t.newName(p)
	if e != 0 {
		return e
	}
	n.Nlink++
	n.Ctime = now
	t.link(dir, name, ino, now)
	return 0
}

// Readlink returns the target of the symbolic link p.
func (t *Tree) Readlink(p string) (string, linux.Errno) {
	ino, e := t.Lookup(p, false)
	if e != 0 {
		return "", e
	}
	if n := t.nodes[ino]; n.isLink() {
		return n.Target, 0
	}
	return "", linux.EINVAL
}

// Unlink removes the name p: a directory's when dir (rmdir), which must be
// empty, else any other file's (unlink).
func (t *Tree) Unlink(p string, dir bool, now int64) linux.Errno {
	parent, name, e := t.parent(p)
	switch {
	case e != 0:
		return e
	case name == "" || name == "..":
		return linux.EBUSY
	case name == ".":
		return linux.EINVAL
	}
	ino, ok := t.nodes[parent].Entries[name]
	if !ok {
		return linux.ENOENT
	}
	n := t.nodes[ino]
	switch {
	case dir && !n.isDir():
		return linux.ENOTDIR
	case !dir && n.isDir():
		return linux.EISDIR
	case dir && len(n.Entries) > 0:
		return linux.ENOTEMPTY
	case !dir && strings.HasSuffix(p, "/"):
		return linux.ENOTDIR
	}
	t.unlinkName(parent, name, now)
	return 0
}

// Rename moves the name from to to, replacing what to names as rename(2)
// does: a file by a file, an empty directory by a directory.
func (t *Tree) Rename(from, to string, now int64) linux.Errno {
	fromDir, fromName, e := t.parent(from)
	if e != 0 {
		return e
	}
	toDir, toName, e := t.parent(to)
	if e != 0 {
		return e
	}
	if fromName == "" || fromName == "." || fromName == ".." || toName == "" || toName == "." || toName == ".." {
		return linux.EBUSY
	}
	ino, ok := t.nodes[fromDir].Entries[fromName]
	if !ok {
		return linux.ENOENT
	}
	moving := t.nodes[ino]
	if moving.isDir() && t.within(toDir, ino) {
		return linux.EINVAL
	}
	if old, taken := t.nodes[toDir].Entries[toName]; taken {
		if old == ino {
			return 0
		}
		replaced := t.nodes[old]
		switch {
		case moving.isDir() && !replaced.isDir():
			return linux.ENOTDIR
		case !moving.isDir() && replaced.isDir():
			return linux.EISDIR
		case replaced.isDir() && len(replaced.Entries) > 0:
			return linux.ENOTEMPTY
		}
		t.unlinkName(toDir, toName, now)
	}
	delete(t.nodes[fromDir].Entries, fromName)
	t.nodes[fromDir].Mtime, t.nodes[fromDir].Ctime = now, now
	if moving.isDir() {
		t.nodes[fromDir].Nlink--
		t.nodes[toDir].Nlink++
		moving.Parent = toDir
	}
	moving.Ctime = now
	t.link(toDir, toName, ino, now)
	return 0
}

// within reports whether directory dir is ino or lies below it.
func (t *Tree) within(dir, ino Ino) bool {
	for range MaxFiles {
		if dir == ino {
			return true
		}
		if dir == rootIno {
			return false
		}
		dir = t.nodes[dir].Parent
	}
	return false
}

// Getcwd names the working directory; ENOENT once it has been removed.
func (t *Tree) Getcwd() (string, linux.Errno) {
	var names []string
	dir := t.cwd
	for dir != rootIno {
		n, e := t.dir(dir)
		if e != 0 || len(names) >= MaxFiles {
			return "", linux.ENOENT
		}
		name, found := nameOf(t.nodes[n.Parent], dir)
		if !found {
			return "", linux.ENOENT
		}
		names = append(names, name)
		dir = n.Parent
	}
	slices.Reverse(names)
	return "/" + strings.Join(names, "/"), 0
}

// nameOf finds the name under which dir holds ino.
func nameOf(dir *node, ino Ino) (string, bool) {
	for name, child := range dir.Entries {
		if child == ino {
			return name, true
		}
	}
	return "", false
}

// Chdir makes the directory ino the working directory.
func (t *Tree) Chdir(ino Ino) linux.Errno {
	if _, e := t.dir(ino); e != 0 {
		return e
	}
	old := t.cwd
	t.cwd = ino
	t.release(old)
	return 0
}
