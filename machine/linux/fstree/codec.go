package fstree

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/synodvm/synod/machine/canon"
	"github.com/synodvm/synod/machine/linux"
)

// Code codes a tree in both directions (package canon): equal trees encode
// to equal bytes, so the state hash of a machine covers its files. A
// decoded tree is checked whole (Decode's errors name what is wrong), so a
// damaged encoding never yields a tree that breaks its own rules.
func Code(c *canon.Codec, t **Tree) {
	if c.Decoding() {
		*t = &Tree{}
	}
	tr := *t
	canon.Uint64(c, &tr.next)
	canon.Uint64(c, &tr.cwd)
	canon.Int64(c, &tr.used)
	canon.Map(c, &tr.nodes, canon.Uint64[Ino], codeNode)
	canon.Map(c, &tr.opens, canon.Uint64[Ino], canon.Int[int])
	if !c.Decoding() {
		return
	}
	if tr.opens == nil {
		tr.opens = map[Ino]int{}
	}
	if err := tr.check(); err != nil {
		c.Fail("file tree: %v", err)
	}
}

func codeNode(c *canon.Codec, n **node) {
	if c.Decoding() {
		*n = &node{}
	}
	v := *n
	canon.Uint32(c, &v.Mode)
	canon.Uint32(c, &v.UID)
	canon.Uint32(c, &v.GID)
	canon.Uint32(c, &v.Nlink)
	canon.Int64(c, &v.Atime)
	canon.Int64(c, &v.Mtime)
	canon.Int64(c, &v.Ctime)
	canon.Bytes(c, &v.Data)
	canon.String(c, &v.Target)
	canon.Map(c, &v.Entries, canon.String, canon.Uint64[Ino])
	canon.Uint64(c, &v.Parent)
	if c.Decoding() && v.isDir() && v.Entries == nil {
		v.Entries = map[string]Ino{}
	}
}

// CodeFile codes an open file; CheckOpen verifies it against its tree.
func CodeFile(c *canon.Codec, f *File) {
	canon.Uint64(c, &f.Ino)
	canon.Uint32(c, &f.Flags)
	canon.Int64(c, &f.Pos)
}

// CheckOpen verifies that files are exactly the open Files the tree
// counts, as they must be when a snapshot restores both.
func (t *Tree) CheckOpen(files []*File) error {
	count := map[Ino]int{}
	for _, f := range files {
		switch {
		case t.nodes[f.Ino] == nil:
			return fmt.Errorf("open file %d is not in the tree", f.Ino)
		case f.Flags&^uint32(linux.O_ACCMODE|linux.O_APPEND) != 0 || f.Flags&linux.O_ACCMODE == linux.O_ACCMODE:
			return fmt.Errorf("open file %d with flags %#x", f.Ino, f.Flags)
		case f.Pos < 0:
			return fmt.Errorf("open file %d at %d", f.Ino, f.Pos)
		}
		count[f.Ino]++
	}
	if !maps.Equal(count, t.opens) {
		return fmt.Errorf("open files %v, the tree counts %v", count, t.opens)
	}
	return nil
}

// Encode returns the tree's canonical encoding.
func (t *Tree) Encode() []byte {
	c := canon.NewEncoder(nil)
	Code(c, &t)
	return c.Bytes()
}

// Decode rebuilds a tree from its encoding.
func Decode(b []byte) (*Tree, error) {
	var t *Tree
	c := canon.NewDecoder(b)
	Code(c, &t)
	if err := c.Finish(); err != nil {
		return nil, fmt.Errorf("decode file tree: %w", err)
	}
	return t, nil
}

// Digest is the SHA-256 of the tree's encoding: what a Boot entry carries
// so that every replica starts from the same files.
func (t *Tree) Digest() [32]byte { return sha256.Sum256(t.Encode()) }

// check verifies the rules every operation keeps: names lead to files,
// directories have one name and a live parent, link counts count names,
// a file without a name is open or the working directory, and the limits
// hold.
func (t *Tree) check() error {
	root := t.nodes[rootIno]
	switch {
	case root == nil || !root.isDir() || root.Parent != rootIno:
		return errors.New("no root directory")
	case len(t.nodes) > MaxFiles:
		return fmt.Errorf("%d files, more than %d", len(t.nodes), MaxFiles)
	case t.used < 0 || t.used > Capacity:
		return fmt.Errorf("%d bytes of data, capacity %d", t.used, Capacity)
	}
	names := map[Ino]uint32{rootIno: 1}
	subdirs := map[Ino]uint32{}
	var used int64
	for ino, n := range t.nodes {
		if ino >= t.next || ino < rootIno {
			return fmt.Errorf("file %d outside 1..%d", ino, t.next-1)
		}
		if err := n.checkShape(); err != nil {
			return fmt.Errorf("file %d: %w", ino, err)
		}
		used += int64(len(n.Data))
		if !n.isDir() || n.Nlink == 0 {
			continue // a removed working directory names nothing
		}
		if p := t.nodes[n.Parent]; p == nil || !p.isDir() {
			return fmt.Errorf("directory %d: parent %d is no directory", ino, n.Parent)
		}
		for name, child := range n.Entries {
			c := t.nodes[child]
			switch {
			case !validName(name):
				return fmt.Errorf("directory %d: bad name %q", ino, name)
			case c == nil:
				return fmt.Errorf("directory %d: %q names missing file %d", ino, name, child)
			case c.isDir() && c.Parent != ino:
				return fmt.Errorf("directory %d: %q names directory %d of parent %d", ino, name, child, c.Parent)
			}
			names[child]++
			if c.isDir() {
				subdirs[ino]++
			}
		}
	}
	if used != t.used {
		return fmt.Errorf("%d bytes of data counted as %d", used, t.used)
	}
	for ino, n := range t.nodes {
		want := names[ino]
		if n.isDir() && want > 0 {
			if want > 1 {
				return fmt.Errorf("directory %d has %d names", ino, want)
			}
			want = 2 + subdirs[ino]
		}
		switch {
		case n.Nlink != want:
			return fmt.Errorf("file %d: link count %d, %d names", ino, n.Nlink, want)
		case n.Nlink == 0 && t.opens[ino] == 0 && ino != t.cwd:
			return fmt.Errorf("file %d has no name and is not in use", ino)
		}
	}
	for ino, count := range t.opens {
		if t.nodes[ino] == nil || count <= 0 {
			return fmt.Errorf("open count %d for file %d", count, ino)
		}
	}
	if c := t.nodes[t.cwd]; c == nil || !c.isDir() {
		return fmt.Errorf("working directory %d is no directory", t.cwd)
	}
	return t.checkReachable()
}

// checkReachable verifies that every named file can be reached from the
// root: directories naming each other in a ring apart from it cannot.
func (t *Tree) checkReachable() error {
	seen := map[Ino]bool{rootIno: true}
	queue := []Ino{rootIno}
	for len(queue) > 0 {
		d := t.nodes[queue[0]]
		queue = queue[1:]
		for _, child := range d.Entries {
			if !seen[child] {
				seen[child] = true
				queue = append(queue, child)
			}
		}
	}
	for ino, n := range t.nodes {
		if n.Nlink > 0 && !seen[ino] {
			return fmt.Errorf("file %d cannot be reached from the root", ino)
		}
	}
	return nil
}

// checkShape verifies that n holds only what its type allows.
func (n *node) checkShape() error {
	switch {
	case n.Mode&^uint32(linux.S_IFMT|0o7777) != 0:
		return fmt.Errorf("mode %#o", n.Mode)
	case !n.isDir() && !n.isReg() && !n.isLink():
		return fmt.Errorf("type %#o", n.Mode&linux.S_IFMT)
	case !n.isReg() && len(n.Data) > 0:
		return errors.New("data in a file that is not regular")
	case !n.isLink() && n.Target != "":
		return errors.New("target in a file that is no link")
	case n.isLink() && n.Target == "":
		return errors.New("link without a target")
	case !n.isDir() && (len(n.Entries) > 0 || n.Parent != 0):
		return errors.New("names in a file that is no directory")
	}
	return nil
}

func validName(name string) bool {
	return name != "" && name != "." && name != ".." && len(name) <= maxName && !strings.ContainsAny(name, "/\x00")
}
