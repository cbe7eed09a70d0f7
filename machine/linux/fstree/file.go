package fstree

import (
	"slices"

	"github.com/synodvm/synod/machine/linux"
)

// File is an open file: what an open file description holds. Its fields
// are exported so that the owner of the handles can encode it; Ino names
// a file of the tree that opened it.
type File struct {
	Ino   Ino
	Flags uint32 // the access mode and O_APPEND
	Pos   int64
}

func (f *File) writable() bool { return f.Flags&linux.O_ACCMODE != linux.O_RDONLY }
func (f *File) readable() bool { return f.Flags&linux.O_ACCMODE != linux.O_WRONLY }

// Open opens p as open(2) does with flags (O_NONBLOCK and O_CLOEXEC are the
// kernel's), making a regular file of mode under O_CREAT.
func (t *Tree) Open(p string, flags, mode uint32, now int64) (*File, linux.Errno) {
	ino, e := t.openTarget(p, flags, mode, now)
	if e != 0 {
		return nil, e
	}
	n := t.nodes[ino]
	f := &File{Ino: ino, Flags: flags & (linux.O_ACCMODE | linux.O_APPEND)}
	switch {
	case n.isLink():
		return nil, linux.ELOOP // O_NOFOLLOW on a link
	case n.isDir() && f.writable():
		return nil, linux.EISDIR
	case !n.isDir() && flags&linux.O_DIRECTORY != 0:
		return nil, linux.ENOTDIR
	case n.isReg() && flags&linux.O_TRUNC != 0 && f.writable():
		t.resize(n, 0, now)
	}
	t.opens[ino]++
	return f, 0
}

// openTarget finds or, under O_CREAT, makes the file that Open opens.
func (t *Tree) openTarget(p string, flags, mode uint32, now int64) (Ino, linux.Errno) {
	follow := flags&linux.O_NOFOLLOW == 0
	if flags&linux.O_CREAT == 0 {
		return t.Lookup(p, follow)
	}
	ino, e := t.Lookup(p, follow)
	switch {
	case e == 0 && flags&linux.O_EXCL != 0:
		return 0, linux.EEXIST
	case e == 0:
		return ino, 0
	case e != linux.ENOENT:
		return 0, e
	}
	dir, name, e := t.newName(p)
	if e != 0 {
		return 0, e
	}
	if name == "" || p[len(p)-1] == '/' {
		return 0, linux.EISDIR
	}
	return t.add(dir, name, &node{Mode: linux.S_IFREG | mode&0o7777}, now)
}

// Close ends f; a file unlinked while open goes with its last File.
func (t *Tree) Close(f *File) {
	t.opens[f.Ino]--
	if t.opens[f.Ino] == 0 {
		delete(t.opens, f.Ino)
	}
	t.release(f.Ino)
}

// Read reads up to n bytes at f's position and moves it on.
func (t *Tree) Read(f *File, n int) ([]byte, linux.Errno) {
	b, e := t.Pread(f, n, f.Pos)
	f.Pos += int64(len(b))
	return b, e
}

// Pread reads up to n bytes at offset; none past the end.
func (t *Tree) Pread(f *File, n int, offset int64) ([]byte, linux.Errno) {
	file := t.nodes[f.Ino]
	switch {
	case !f.readable():
		return nil, linux.EBADF
	case file.isDir():
		return nil, linux.EISDIR
	case offset < 0:
		return nil, linux.EINVAL
	case offset >= int64(len(file.Data)) || n <= 0:
		return nil, 0
	}
	end := min(int64(len(file.Data)), offset+int64(n))
	return slices.Clone(file.Data[offset:end]), 0
}

// Write writes data at f's position (at the end under O_APPEND) and moves
// the position past it.
func (t *Tree) Write(f *File, data []byte, now int64) (int, linux.Errno) {
	if f.Flags&linux.O_APPEND != 0 {
		f.Pos = int64(len(t.nodes[f.Ino].Data))
	}
	n, e := t.WriteBack(f, data, f.Pos, now)
	f.Pos += int64(n)
	return n, e
}

// Pwrite writes data at offset, or at the end under O_APPEND, as Linux
// does; the position stays.
func (t *Tree) Pwrite(f *File, data []byte, offset int64, now int64) (int, linux.Errno) {
	if f.Flags&linux.O_APPEND != 0 {
		offset = int64(len(t.nodes[f.Ino].Data))
	}
	return t.WriteBack(f, data, offset, now)
}

// WriteBack writes data at offset whatever f's flags say about appending:
// the pages of a shared mapping reach their file this way. A write that
// does not fit in the tree's capacity writes what fits, or fails with
// ENOSPC when nothing does.
func (t *Tree) WriteBack(f *File, data []byte, offset int64, now int64) (int, linux.Errno) {
	file := t.nodes[f.Ino]
	switch {
	case !f.writable():
		return 0, linux.EBADF
	case offset < 0:
		return 0, linux.EINVAL
	case len(data) == 0:
		return 0, 0
	}
	end := offset + int64(len(data))
	if grow := end - int64(len(file.Data)); grow > 0 && t.used+grow > Capacity {
		end = int64(len(file.Data)) + Capacity - t.used
		if end <= offset {
			return 0, linux.ENOSPC
		}
		data = data[:end-offset]
	}
	if end > int64(len(file.Data)) {
		t.resize(file, end, now)
	}
	copy(file.Data[offset:], data)
	file.Mtime, file.Ctime = now, now
	return len(data), 0
}

// resize makes file size bytes long, zero-filled where it grows.
func (t *Tree) resize(file *node, size int64, now int64) {
	t.used += size - int64(len(file.Data))
	if size <= int64(len(file.Data)) {
		file.Data = slices.Clip(file.Data[:size])
	} else {
		file.Data = append(file.Data, make([]byte, size-int64(len(file.Data)))...)
	}
	file.Mtime, file.Ctime = now, now
}

// Truncate sets the size of the file open as f (ftruncate).
func (t *Tree) Truncate(f *File, size int64, now int64) linux.Errno {
	file := t.nodes[f.Ino]
	switch {
	case !f.writable() || !file.isReg() || size < 0:
		return linux.EINVAL
	case size > int64(len(file.Data)) && t.used+size-int64(len(file.Data)) > Capacity:
		return linux.EFBIG
	}
	t.resize(file, size, now)
	return 0
}

// Seek moves f's position as lseek does.
func (t *Tree) Seek(f *File, offset int64, whence int) (int64, linux.Errno) {
	pos, errno := linux.SeekTarget(f.Pos, int64(len(t.nodes[f.Ino].Data)), offset, whence)
	if errno == 0 {
		f.Pos = pos
	}
	return pos, errno
}

// ReadDir lists the directory open as f, "." and ".." first, then its
// names in byte order.
func (t *Tree) ReadDir(f *File) ([]linux.DirEntry, linux.Errno) {
	d := t.nodes[f.Ino]
	if !d.isDir() {
		return nil, linux.ENOTDIR
	}
	out := []linux.DirEntry{
		{Ino: uint64(f.Ino), Type: linux.DT_DIR, Name: "."},
		{Ino: uint64(d.Parent), Type: linux.DT_DIR, Name: ".."},
	}
	for _, name := range sortedNames(d.Entries) {
		ino := d.Entries[name]
		out = append(out, linux.DirEntry{Ino: uint64(ino), Type: dirType(t.nodes[ino]), Name: name})
	}
	return out, 0
}

func sortedNames(entries map[string]Ino) []string {
	names := make([]string, 0, len(entries))
	for name := range entries {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func dirType(n *node) uint8 {
	switch {
	case n.isDir():
		return linux.DT_DIR
	case n.isLink():
		return linux.DT_LNK
	}
	return linux.DT_REG
}
