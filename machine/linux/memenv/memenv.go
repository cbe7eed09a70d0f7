// Package memenv is a deterministic, in-memory linux.Env: a console backed
// by buffers, a file tree from a map (its files can be written, its names
// are fixed), a clock that advances with the instruction count, and seeded
// random bytes. Tests and simulations use
// it where the host must not leak in.
package memenv

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"path"
	"slices"
	"strings"

	"github.com/synodvm/synod/machine/linux"
)

// Env is an in-memory environment. Fill its exported fields before Load.
type Env struct {
	// Stdin is what the guest reads from descriptor 0, then end of file.
	Stdin []byte
	// Stdout and Stderr collect what the guest writes to 1 and 2.
	Stdout, Stderr bytes.Buffer
	// Files are the regular files, by absolute path; writes through the
	// guest land here. Directories exist implicitly as the parents of
	// files. The names are fixed: creating, removing or renaming a file
	// answers EROFS.
	Files map[string][]byte
	// Start is the wall-clock time at instruction zero (ns since the
	// epoch); NanosPerInstruction advances both clocks.
	Start               int64
	NanosPerInstruction int64
	// Cwd is the working directory; empty means "/".
	Cwd string

	elapsed int64               // time passed without instructions (Elapse)
	changed map[string]fileMeta // metadata set by Chmod, Chown and SetTimes
	rng     *rand.ChaCha8
	open    map[linux.Handle]*openFile
	next    linux.Handle
	stdinAt int
}

// fileMeta is what a file's stat says besides its type and size.
type fileMeta struct {
	perm         uint32
	uid, gid     uint32
	atime, mtime int64
}

type openFile struct {
	path  string
	flags uint32 // the access mode and O_APPEND
	pos   int64
	dir   bool
}

func (f *openFile) writable() bool { return f.flags&linux.O_ACCMODE != linux.O_RDONLY }

// New returns an Env whose random bytes come from seed.
func New(seed uint64) *Env {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return &Env{
		Files:               map[string][]byte{},
		Start:               1_700_000_000_000_000_000,
		NanosPerInstruction: 1,
		changed:             map[string]fileMeta{},
		rng:                 rand.NewChaCha8(s),
		open:                map[linux.Handle]*openFile{},
		next:                linux.Stderr + 1,
	}
}

func (e *Env) Clock(instructions uint64) linux.Clock {
	d := int64(instructions)*e.NanosPerInstruction + e.elapsed
	return linux.Clock{Realtime: e.Start + d, Monotonic: d}
}

// Elapse moves both clocks forward by ns, as time passing while the guest
// is idle.
func (e *Env) Elapse(ns int64) { e.elapsed += ns }

func (e *Env) Random(n int) []byte {
	b := make([]byte, n)
	_, _ = e.rng.Read(b)
	return b
}

func (e *Env) abs(p string) string {
	if !strings.HasPrefix(p, "/") {
		cwd := e.Cwd
		if cwd == "" {
			cwd = "/"
		}
		p = cwd + "/" + p
	}
	return path.Clean(p)
}

// isDir reports whether some file lies below p.
func (e *Env) isDir(p string) bool {
	if p == "/" {
		return true
	}
	for name := range e.Files {
		if strings.HasPrefix(name, p+"/") {
			return true
		}
	}
	return false
}

func (e *Env) Open(p string, flags uint32, mode uint32) (linux.Handle, linux.Errno) {
	p = e.abs(p)
	f := &openFile{path: p, flags: flags & (linux.O_ACCMODE | linux.O_APPEND)}
	_, isFile := e.Files[p]
	switch {
	case isFile && flags&(linux.O_CREAT|linux.O_EXCL) == linux.O_CREAT|linux.O_EXCL:
		return 0, linux.EEXIST
	case isFile:
		if flags&linux.O_TRUNC != 0 && f.writable() {
			e.Files[p] = nil
		}
	case e.isDir(p):
		if f.writable() {
			return 0, linux.EISDIR
		}
		f.dir = true
	case flags&linux.O_CREAT != 0:
		return 0, linux.EROFS
	default:
		return 0, linux.ENOENT
	}
	h := e.next
	e.next++
	e.open[h] = f
	return h, 0
}

func (e *Env) Close(h linux.Handle) linux.Errno {
	if h <= linux.Stderr {
		return 0
	}
	if e.open[h] == nil {
		return linux.EBADF
	}
	delete(e.open, h)
	return 0
}

func (e *Env) Read(h linux.Handle, n int) ([]byte, linux.Errno) {
	switch h {
	case linux.Stdin:
		k := min(n, len(e.Stdin)-e.stdinAt)
		b := e.Stdin[e.stdinAt : e.stdinAt+k]
		e.stdinAt += k
		return b, 0
	case linux.Stdout, linux.Stderr:
		return nil, linux.EBADF
	}
	f := e.open[h]
	if f == nil {
		return nil, linux.EBADF
	}
	if f.dir {
		return nil, linux.EISDIR
	}
	b, _ := e.Pread(h, n, f.pos)
	f.pos += int64(len(b))
	return b, 0
}

func (e *Env) Write(h linux.Handle, data []byte) (int, linux.Errno) {
	switch h {
	case linux.Stdout:
		e.Stdout.Write(data)
		return len(data), 0
	case linux.Stderr:
		e.Stderr.Write(data)
		return len(data), 0
	}
	f := e.open[h]
	if f == nil {
		return 0, linux.EBADF
	}
	if f.flags&linux.O_APPEND != 0 {
		f.pos = int64(len(e.Files[f.path]))
	}
	n, errno := e.writeAt(f, data, f.pos)
	f.pos += int64(n)
	return n, errno
}

func (e *Env) Pread(h linux.Handle, n int, offset int64) ([]byte, linux.Errno) {
	f := e.open[h]
	if f == nil {
		return nil, linux.ESPIPE
	}
	data := e.Files[f.path]
	if offset < 0 {
		return nil, linux.EINVAL
	}
	if offset >= int64(len(data)) {
		return nil, 0
	}
	return bytes.Clone(data[offset:min(int64(len(data)), offset+int64(n))]), 0
}

// Pwrite appends on an O_APPEND handle, as Linux's pwrite does.
func (e *Env) Pwrite(h linux.Handle, data []byte, offset int64) (int, linux.Errno) {
	f := e.open[h]
	if f == nil {
		return 0, linux.ESPIPE
	}
	if f.flags&linux.O_APPEND != 0 {
		offset = int64(len(e.Files[f.path]))
	}
	return e.writeAt(f, data, offset)
}

func (e *Env) WriteBack(h linux.Handle, data []byte, offset int64) (int, linux.Errno) {
	f := e.open[h]
	if f == nil {
		return 0, linux.ESPIPE
	}
	return e.writeAt(f, data, offset)
}

// writeAt writes data into f's file at offset; a gap past the end reads as
// zeros.
func (e *Env) writeAt(f *openFile, data []byte, offset int64) (int, linux.Errno) {
	switch {
	case f.dir:
		return 0, linux.EISDIR
	case !f.writable():
		return 0, linux.EBADF
	case offset < 0:
		return 0, linux.EINVAL
	}
	file := e.Files[f.path]
	if end := offset + int64(len(data)); end > int64(len(file)) {
		file = append(file, make([]byte, end-int64(len(file)))...)
	}
	copy(file[offset:], data)
	e.Files[f.path] = file
	return len(data), 0
}

func (e *Env) Seek(h linux.Handle, offset int64, whence int) (int64, linux.Errno) {
	f := e.open[h]
	if f == nil {
		return 0, linux.ESPIPE
	}
	pos, errno := linux.SeekTarget(f.pos, int64(len(e.Files[f.path])), offset, whence)
	if errno == 0 {
		f.pos = pos
	}
	return pos, errno
}

func (e *Env) Truncate(h linux.Handle, size int64) linux.Errno {
	f := e.open[h]
	switch {
	case f == nil:
		return linux.EBADF
	case f.dir:
		return linux.EISDIR
	case !f.writable():
		return linux.EINVAL
	case size < 0:
		return linux.EINVAL
	}
	file := e.Files[f.path]
	if size <= int64(len(file)) {
		e.Files[f.path] = file[:size]
	} else {
		e.Files[f.path] = append(file, make([]byte, size-int64(len(file)))...)
	}
	return 0
}

func (e *Env) statOf(p string, size int64, dir bool) linux.Stat {
	m := e.meta(p, dir)
	st := linux.Stat{Dev: 1, Ino: inode(p), Mode: linux.S_IFREG | m.perm, Nlink: 1, UID: m.uid, GID: m.gid, Size: size, Blksize: 4096,
		Blocks: (size + 511) / 512, Atime: m.atime, Mtime: m.mtime, Ctime: e.Start}
	if dir {
		st.Mode, st.Nlink = linux.S_IFDIR|m.perm, 2
	}
	return st
}

// meta is p's metadata: as last changed, or what every file starts with.
func (e *Env) meta(p string, dir bool) fileMeta {
	if m, found := e.changed[p]; found {
		return m
	}
	if dir {
		return fileMeta{perm: 0o755, atime: e.Start, mtime: e.Start}
	}
	return fileMeta{perm: 0o644, atime: e.Start, mtime: e.Start}
}

// inode derives a stable inode number from a path.
func inode(p string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(p); i++ {
		h = (h ^ uint64(p[i])) * 1099511628211
	}
	return h
}

func (e *Env) Stat(h linux.Handle) (linux.Stat, linux.Errno) {
	if h <= linux.Stderr {
		return linux.Stat{Dev: 2, Ino: uint64(h) + 1, Mode: linux.S_IFIFO | 0o600, Nlink: 1, Blksize: 4096}, 0
	}
	f := e.open[h]
	if f == nil {
		return linux.Stat{}, linux.EBADF
	}
	return e.statOf(f.path, int64(len(e.Files[f.path])), f.dir), 0
}

func (e *Env) StatPath(p string, follow bool) (linux.Stat, linux.Errno) {
	p = e.abs(p)
	if data, found := e.Files[p]; found {
		return e.statOf(p, int64(len(data)), false), 0
	}
	if e.isDir(p) {
		return e.statOf(p, 0, true), 0
	}
	return linux.Stat{}, linux.ENOENT
}

func (e *Env) Readlink(p string) (string, linux.Errno) {
	if _, err := e.StatPath(p, false); err != 0 {
		return "", err
	}
	return "", linux.EINVAL
}

func (e *Env) ReadDir(h linux.Handle) ([]linux.DirEntry, linux.Errno) {
	f := e.open[h]
	if f == nil {
		return nil, linux.EBADF
	}
	if !f.dir {
		return nil, linux.ENOTDIR
	}
	prefix := strings.TrimSuffix(f.path, "/") + "/"
	kinds := map[string]uint8{}
	for name := range e.Files {
		if rest, found := strings.CutPrefix(name, prefix); found {
			first, _, sub := strings.Cut(rest, "/")
			kinds[first] = linux.DT_REG
			if sub {
				kinds[first] = linux.DT_DIR
			}
		}
	}
	out := []linux.DirEntry{{Ino: inode(f.path), Type: linux.DT_DIR, Name: "."}, {Ino: inode(path.Dir(f.path)), Type: linux.DT_DIR, Name: ".."}}
	names := make([]string, 0, len(kinds))
	for n := range kinds {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		out = append(out, linux.DirEntry{Ino: inode(prefix + n), Type: kinds[n], Name: n})
	}
	return out, 0
}

// The tree's names are fixed.

func (e *Env) Unlink(p string, dir bool) linux.Errno   { return linux.EROFS }
func (e *Env) Mkdir(p string, mode uint32) linux.Errno { return linux.EROFS }
func (e *Env) Rename(from, to string) linux.Errno      { return linux.EROFS }

func (e *Env) Getcwd() (string, linux.Errno) {
	if e.Cwd == "" {
		return "/", 0
	}
	return e.Cwd, 0
}

// target resolves f to an absolute path and whether it is a directory.
// The console has no path: its metadata cannot change (EPERM).
func (e *Env) target(f linux.FileRef) (string, bool, linux.Errno) {
	if f.Path == "" {
		if f.Handle <= linux.Stderr {
			return "", false, linux.EPERM
		}
		o := e.open[f.Handle]
		if o == nil {
			return "", false, linux.EBADF
		}
		return o.path, o.dir, 0
	}
	p := e.abs(f.Path)
	if _, isFile := e.Files[p]; isFile {
		return p, false, 0
	}
	if e.isDir(p) {
		return p, true, 0
	}
	return "", false, linux.ENOENT
}

func (e *Env) Chdir(dir linux.FileRef) linux.Errno {
	if dir.Path == "" && dir.Handle <= linux.Stderr {
		return linux.ENOTDIR // the console
	}
	p, isDir, errno := e.target(dir)
	switch {
	case errno != 0:
		return errno
	case !isDir:
		return linux.ENOTDIR
	}
	e.Cwd = p
	return 0
}

// Link and Symlink would add names, which are fixed.
func (e *Env) Link(from linux.FileRef, to string) linux.Errno { return linux.EROFS }
func (e *Env) Symlink(target, path string) linux.Errno        { return linux.EROFS }

// change applies edit to the metadata of f.
func (e *Env) change(f linux.FileRef, edit func(*fileMeta)) linux.Errno {
	p, isDir, errno := e.target(f)
	if errno != 0 {
		return errno
	}
	m := e.meta(p, isDir)
	edit(&m)
	e.changed[p] = m
	return 0
}

func (e *Env) Chmod(f linux.FileRef, mode uint32) linux.Errno {
	return e.change(f, func(m *fileMeta) { m.perm = mode & 0o7777 })
}

func (e *Env) Chown(f linux.FileRef, uid, gid uint32) linux.Errno {
	return e.change(f, func(m *fileMeta) {
		if uid != linux.KeepID {
			m.uid = uid
		}
		if gid != linux.KeepID {
			m.gid = gid
		}
	})
}

// SetTimes takes UtimeNow as the clock at instruction zero plus the time
// elapsed idle: the Env does not see the instruction count here.
func (e *Env) SetTimes(f linux.FileRef, atime, mtime linux.Timespec) linux.Errno {
	set := func(field *int64, ts linux.Timespec) {
		switch ts.Nsec {
		case linux.UtimeOmit:
		case linux.UtimeNow:
			*field = e.Start + e.elapsed
		default:
			*field = ts.Sec*1_000_000_000 + ts.Nsec
		}
	}
	return e.change(f, func(m *fileMeta) {
		set(&m.atime, atime)
		set(&m.mtime, mtime)
	})
}

// Statfs describes the tree as a tmpfs of 1 GiB with room for 65536 files,
// and the console as pipes.
func (e *Env) Statfs(f linux.FileRef) (linux.Statfs, linux.Errno) {
	switch {
	case f.Path != "":
		if _, errno := e.StatPath(f.Path, f.Follow); errno != 0 {
			return linux.Statfs{}, errno
		}
	case f.Handle <= linux.Stderr:
		return linux.PipeFS, 0
	case e.open[f.Handle] == nil:
		return linux.Statfs{}, linux.EBADF
	}
	const blocks, inodes = 1 << 18, 1 << 16
	used := uint64(0)
	for _, data := range e.Files {
		used += uint64(len(data)+4095) / 4096
	}
	free := blocks - min(used, blocks)
	return linux.Statfs{Type: linux.TMPFS_MAGIC, Bsize: 4096, Frsize: 4096, Blocks: blocks, Bfree: free, Bavail: free,
		Files: inodes, Ffree: inodes - min(uint64(len(e.Files)), inodes), Namelen: 255, Flags: linux.ST_VALID}, 0
}

func (e *Env) IsTerminal(h linux.Handle) bool { return false }

// The in-memory environment has no network.

func (e *Env) Socket(domain, typ, protocol int) (linux.Handle, linux.Errno) {
	return 0, linux.EAFNOSUPPORT
}
func (e *Env) Bind(h linux.Handle, addr netip.AddrPort) linux.Errno { return linux.EBADF }
func (e *Env) Listen(h linux.Handle, backlog int) linux.Errno       { return linux.EBADF }
func (e *Env) Accept(h linux.Handle) (linux.Handle, netip.AddrPort, linux.Errno) {
	return 0, netip.AddrPort{}, linux.EBADF
}
func (e *Env) Connect(h linux.Handle, addr netip.AddrPort) linux.Errno { return linux.EBADF }
func (e *Env) Shutdown(h linux.Handle, how int) linux.Errno            { return linux.EBADF }
func (e *Env) SetSockOpt(h linux.Handle, level, name int, value []byte) linux.Errno {
	return linux.EBADF
}
func (e *Env) GetSockOpt(h linux.Handle, level, name, size int) ([]byte, linux.Errno) {
	return nil, linux.EBADF
}
func (e *Env) SockName(h linux.Handle) (netip.AddrPort, linux.Errno) {
	return netip.AddrPort{}, linux.EBADF
}
func (e *Env) PeerName(h linux.Handle) (netip.AddrPort, linux.Errno) {
	return netip.AddrPort{}, linux.EBADF
}

// Poll: the console and files are always ready; stdin reports end of file
// as readable.
func (e *Env) Poll(requests []linux.PollRequest, ready []linux.PollEvents) {
	for i, r := range requests {
		if r.Handle > linux.Stderr && e.open[r.Handle] == nil {
			ready[i] = linux.PollNval
			continue
		}
		ready[i] = r.Events & (linux.PollIn | linux.PollOut)
	}
}

var _ linux.Env = (*Env)(nil)
