// Package fstree is a file tree held in memory: the file system of a
// replicated machine. Every replica starts from the same tree (packed from
// a directory, see Pack) and changes it only through the guest's system
// calls, so it is replicated state like guest memory: it has a canonical
// encoding (Code) that snapshots carry and the state hash covers, and it
// never consults the host, a clock or a random source. Times come from the
// caller, which passes the guest's replicated clock.
//
// The guest runs as root, so there are no permission checks beyond what
// the kernel does itself (execve's x bit). Capacity and the number of
// files are bounded: a guest that fills the tree gets ENOSPC, not the
// host's memory.
package fstree

import (
	"strings"

	"github.com/synodvm/synod/machine/linux"
)

// Ino numbers a file. Numbers are handed out in order and never reused,
// so every replica gives the same file the same number.
type Ino uint64

// rootIno is the root directory, its own parent.
const rootIno Ino = 1

// Limits of one tree. They are part of the program, not of the tree's
// encoding: replicas of one cluster run one synod version.
const (
	// Capacity bounds the bytes of file data. The tree lives in every
	// replica's memory and in every snapshot, so it is kept well below a
	// guest's address space.
	Capacity = 256 << 20
	// MaxFiles bounds the number of files, directories and links.
	MaxFiles = 1 << 16
	// maxSymlinks is how many symbolic links one lookup follows before
	// ELOOP, as Linux's 40.
	maxSymlinks = 40
	// maxName is the longest name in a directory, as Linux's NAME_MAX.
	maxName = 255
)

// node is one file: a regular file, a directory or a symbolic link.
type node struct {
	Mode                uint32 // file type and permission bits, as st_mode
	UID, GID            uint32
	Nlink               uint32
	Atime, Mtime, Ctime int64          // guest nanoseconds since the Unix epoch
	Data                []byte         // a regular file's contents
	Target              string         // a symbolic link's target
	Entries             map[string]Ino // a directory's names, "." and ".." not among them
	Parent              Ino            // a directory's parent; the root's is itself
}

func (n *node) isDir() bool  { return n.Mode&linux.S_IFMT == linux.S_IFDIR }
func (n *node) isLink() bool { return n.Mode&linux.S_IFMT == linux.S_IFLNK }
func (n *node) isReg() bool  { return n.Mode&linux.S_IFMT == linux.S_IFREG }

// Tree is a file tree and its working directory.
type Tree struct {
	nodes map[Ino]*node
	next  Ino         // the next file's number
	cwd   Ino         // the working directory
	opens map[Ino]int // open Files per file: an unlinked file lives on while open
	used  int64       // bytes of file data, at most Capacity
}

// New returns a tree that holds only an empty root directory.
func New() *Tree {
	t := &Tree{nodes: map[Ino]*node{}, next: rootIno + 1, cwd: rootIno, opens: map[Ino]int{}}
	t.nodes[rootIno] = &node{Mode: linux.S_IFDIR | 0o755, Nlink: 2, Entries: map[string]Ino{}, Parent: rootIno}
	return t
}

// Touch sets every file's times to now: a tree packed without times takes
// the guest's boot time.
func (t *Tree) Touch(now int64) {
	for _, n := range t.nodes {
		n.Atime, n.Mtime, n.Ctime = now, now, now
	}
}

// add makes a new file of mode in directory dir under name.
func (t *Tree) add(dir Ino, name string, n *node, now int64) (Ino, linux.Errno) {
	if len(t.nodes) >= MaxFiles {
		return 0, linux.ENOSPC
	}
	ino := t.next
	t.next++
	n.Nlink = 1
	n.Atime, n.Mtime, n.Ctime = now, now, now
	if n.isDir() {
		n.Nlink = 2
		n.Entries = map[string]Ino{}
		n.Parent = dir
		t.nodes[dir].Nlink++
	}
	t.nodes[ino] = n
	t.link(dir, name, ino, now)
	return ino, 0
}

// link names ino in dir.
func (t *Tree) link(dir Ino, name string, ino Ino, now int64) {
	d := t.nodes[dir]
	d.Entries[name] = ino
	d.Mtime, d.Ctime = now, now
}

// unlinkName removes name from dir and drops the file once nothing names
// it and nothing has it open.
func (t *Tree) unlinkName(dir Ino, name string, now int64) {
	d := t.nodes[dir]
	ino := d.Entries[name]
	delete(d.Entries, name)
	d.Mtime, d.Ctime = now, now
	n := t.nodes[ino]
	n.Ctime = now
	if n.isDir() {
		n.Nlink = 0
		d.Nlink--
	} else {
		n.Nlink--
	}
	t.release(ino)
}

// release drops ino when no name, no open File and the working directory
// do not keep it.
func (t *Tree) release(ino Ino) {
	n := t.nodes[ino]
	if n.Nlink > 0 || t.opens[ino] > 0 || ino == t.cwd {
		return
	}
	t.used -= int64(len(n.Data))
	delete(t.nodes, ino)
}

// start is where a lookup of p begins: the root for an absolute path,
// else dir.
func start(p string, dir Ino) Ino {
	if strings.HasPrefix(p, "/") {
		return rootIno
	}
	return dir
}

// Lookup finds the file at p, relative to the working directory; follow
// says whether a final symbolic link is followed.
func (t *Tree) Lookup(p string, follow bool) (Ino, linux.Errno) {
	if p == "" {
		return 0, linux.ENOENT
	}
	budget := maxSymlinks
	return t.walk(start(p, t.cwd), p, follow, &budget)
}

// walk resolves p from dir, following symbolic links on the way (and the
// last one when followLast) while budget lasts. A trailing slash asks for
// a directory.
func (t *Tree) walk(dir Ino, p string, followLast bool, budget *int) (Ino, linux.Errno) {
	mustBeDir := strings.HasSuffix(p, "/")
	followLast = followLast || mustBeDir
	names := components(p)
	cur := dir
	for i, name := range names {
		d, e := t.dir(cur)
		if e != 0 {
			return 0, e
		}
		if len(name) > maxName {
			return 0, linux.ENAMETOOLONG
		}
		switch name {
		case ".":
			continue
		case "..":
			cur = d.Parent
			continue
		}
		child, ok := d.Entries[name]
		if !ok {
			return 0, linux.ENOENT
		}
		if c := t.nodes[child]; c.isLink() && (i < len(names)-1 || followLast) {
			if *budget == 0 {
				return 0, linux.ELOOP
			}
			*budget--
			next, e := t.walk(start(c.Target, cur), c.Target, true, budget)
			if e != 0 {
				return 0, e
			}
			child = next
		}
		cur = child
	}
	if mustBeDir && !t.nodes[cur].isDir() {
		return 0, linux.ENOTDIR
	}
	return cur, 0
}

// components splits p into its names, dropping empty ones.
func components(p string) []string {
	return strings.FieldsFunc(p, func(r rune) bool { return r == '/' })
}

// parent finds the directory that holds p's last name, and that name.
// The name is empty for "/", and may be "." or "..": callers that make or
// remove names refuse those.
func (t *Tree) parent(p string) (Ino, string, linux.Errno) {
	if p == "" {
		return 0, "", linux.ENOENT
	}
	names := components(p)
	if len(names) == 0 {
		return rootIno, "", 0
	}
	last := names[len(names)-1]
	if len(last) > maxName {
		return 0, "", linux.ENAMETOOLONG
	}
	dirPath := strings.Join(names[:len(names)-1], "/")
	if strings.HasPrefix(p, "/") {
		dirPath = "/" + dirPath
	}
	dir := start(p, t.cwd)
	if dirPath != "" {
		budget := maxSymlinks
		var e linux.Errno
		if dir, e = t.walk(dir, dirPath, true, &budget); e != 0 {
			return 0, "", e
		}
	}
	if _, e := t.dir(dir); e != 0 {
		return 0, "", e
	}
	return dir, last, 0
}

// dir returns the directory ino: ENOTDIR when it is another file, ENOENT
// when it was removed (a working directory outlives its name).
func (t *Tree) dir(ino Ino) (*node, linux.Errno) {
	d := t.nodes[ino]
	switch {
	case !d.isDir():
		return nil, linux.ENOTDIR
	case d.Nlink == 0:
		return nil, linux.ENOENT
	}
	return d, 0
}

// newName finds where p would be made: its directory and a name that is
// not taken (EEXIST otherwise).
func (t *Tree) newName(p string) (Ino, string, linux.Errno) {
	dir, name, e := t.parent(p)
	switch {
	case e != 0:
		return 0, "", e
	case name == "" || name == "." || name == "..":
		return 0, "", linux.EEXIST
	}
	if _, taken := t.nodes[dir].Entries[name]; taken {
		return 0, "", linux.EEXIST
	}
	return dir, name, 0
}
