package fstree

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/synodvm/synod/machine/linux"
)

const (
	rdonly = linux.O_RDONLY
	wronly = linux.O_WRONLY
	rdwr   = linux.O_RDWR
	creat  = linux.O_CREAT
)

// write makes p hold data, as a guest's open/write/close would.
func write(t *testing.T, tr *Tree, p, data string) {
	t.Helper()
	f, e := tr.Open(p, wronly|creat|linux.O_TRUNC, 0o644, 7)
	require.Zero(t, e, "open %s", p)
	n, e := tr.Write(f, []byte(data), 8)
	require.Zero(t, e)
	require.Equal(t, len(data), n)
	tr.Close(f)
}

// read returns what p holds.
func read(t *testing.T, tr *Tree, p string) string {
	t.Helper()
	f, e := tr.Open(p, rdonly, 0, 9)
	require.Zero(t, e, "open %s", p)
	defer tr.Close(f)
	b, e := tr.Read(f, 1<<20)
	require.Zero(t, e)
	return string(b)
}

// roundTrip checks that the tree survives its encoding unchanged, as a
// snapshot carries it, and returns the decoded copy.
func roundTrip(t *testing.T, tr *Tree) *Tree {
	t.Helper()
	b := tr.Encode()
	back, err := Decode(b)
	require.NoError(t, err)
	require.Equal(t, b, back.Encode())
	return back
}

func TestFilesAreWrittenReadAndNamed(t *testing.T) {
	tr := New()
	require.Zero(t, tr.Mkdir("/tmp", 0o1777, 1))
	write(t, tr, "/tmp/a", "hello")
	require.Equal(t, "hello", read(t, tr, "/tmp/a"))

	require.Zero(t, tr.Chdir(mustLookup(t, tr, "/tmp")))
	cwd, e := tr.Getcwd()
	require.Zero(t, e)
	require.Equal(t, "/tmp", cwd)
	require.Equal(t, "hello", read(t, tr, "a"), "relative to the working directory")
	require.Equal(t, "hello", read(t, tr, "../tmp/./a"))

	require.Zero(t, tr.Symlink("a", "/tmp/link", 2))
	require.Equal(t, "hello", read(t, tr, "/tmp/link"))
	target, e := tr.Readlink("/tmp/link")
	require.Zero(t, e)
	require.Equal(t, "a", target)
	_, e = tr.Open("/tmp/link", rdonly|linux.O_NOFOLLOW, 0, 3)
	require.Equal(t, linux.ELOOP, e)

	require.Zero(t, tr.Link(mustLookup(t, tr, "/tmp/a"), "/b", 3))
	require.Equal(t, uint32(2), tr.Stat(mustLookup(t, tr, "/b")).Nlink)
	require.Zero(t, tr.Rename("/b", "/tmp/c", 4))
	require.Equal(t, "hello", read(t, tr, "/tmp/c"))
	require.Zero(t, tr.Unlink("/tmp/a", false, 5))
	require.Equal(t, "hello", read(t, tr, "/tmp/c"), "the second name keeps the file")
	_, e = tr.Open("/tmp/link", rdonly, 0, 5)
	require.Equal(t, linux.ENOENT, e, "a dangling link")

	d, e := tr.Open("/tmp", rdonly|linux.O_DIRECTORY, 0, 6)
	require.Zero(t, e)
	list, e := tr.ReadDir(d)
	require.Zero(t, e)
	var names []string
	for _, ent := range list {
		names = append(names, ent.Name)
	}
	require.Equal(t, []string{".", "..", "c", "link"}, names)
	tr.Close(d)
	roundTrip(t, tr)
}

func mustLookup(t *testing.T, tr *Tree, p string) Ino {
	t.Helper()
	ino, e := tr.Lookup(p, true)
	require.Zero(t, e, "lookup %s", p)
	return ino
}

// Each call answers with the errno Linux gives.
func TestErrorsAreLinuxs(t *testing.T) {
	tr := New()
	require.Zero(t, tr.Mkdir("/d", 0o755, 1))
	write(t, tr, "/d/f", "x")
	require.Zero(t, tr.Mkdir("/e", 0o755, 1))
	require.Zero(t, tr.Symlink("/loop", "/loop", 1))
	for _, c := range []struct {
		name string
		got  linux.Errno
		want linux.Errno
	}{
		{"open missing", openErr(tr, "/nope", rdonly), linux.ENOENT},
		{"open through a file", openErr(tr, "/d/f/x", rdonly), linux.ENOTDIR},
		{"open a directory for writing", openErr(tr, "/d", wronly), linux.EISDIR},
		{"O_DIRECTORY on a file", openErr(tr, "/d/f", rdonly|linux.O_DIRECTORY), linux.ENOTDIR},
		{"O_EXCL on an existing file", openErr(tr, "/d/f", wronly|creat|linux.O_EXCL), linux.EEXIST},
		{"a symlink loop", openErr(tr, "/loop", rdonly), linux.ELOOP},
		{"mkdir existing", tr.Mkdir("/d", 0o755, 2), linux.EEXIST},
		{"mkdir of /", tr.Mkdir("/", 0o755, 2), linux.EEXIST},
		{"mkdir under a missing directory", tr.Mkdir("/x/y", 0o755, 2), linux.ENOENT},
		{"rmdir of a non-empty directory", tr.Unlink("/d", true, 2), linux.ENOTEMPTY},
		{"rmdir of a file", tr.Unlink("/d/f", true, 2), linux.ENOTDIR},
		{"unlink of a directory", tr.Unlink("/d", false, 2), linux.EISDIR},
		{"rename a directory into itself", tr.Rename("/d", "/d/sub", 2), linux.EINVAL},
		{"rename a directory over a file", tr.Rename("/e", "/d/f", 2), linux.ENOTDIR},
		{"rename a file over a directory", tr.Rename("/d/f", "/e", 2), linux.EISDIR},
		{"rename over a non-empty directory", tr.Rename("/e", "/d", 2), linux.ENOTEMPTY},
		{"hard link to a directory", tr.Link(mustLookup(t, tr, "/d"), "/d2", 2), linux.EPERM},
		{"readlink of a file", readlinkErr(tr, "/d/f"), linux.EINVAL},
	} {
		require.Equal(t, c.want, c.got, c.name)
	}
	roundTrip(t, tr)
}

func openErr(tr *Tree, p string, flags uint32) linux.Errno {
	f, e := tr.Open(p, flags, 0o644, 1)
	if e == 0 {
		tr.Close(f)
	}
	return e
}

func readlinkErr(tr *Tree, p string) linux.Errno {
	_, e := tr.Readlink(p)
	return e
}

// A file removed while open keeps its data for whoever has it open, in
// the tree and in its encoding, and goes when the last one closes it.
func TestUnlinkedFileLivesWhileOpen(t *testing.T) {
	tr := New()
	write(t, tr, "/scratch", "data")
	f, e := tr.Open("/scratch", rdwr, 0, 1)
	require.Zero(t, e)
	require.Zero(t, tr.Unlink("/scratch", false, 2))
	_, e = tr.Lookup("/scratch", true)
	require.Equal(t, linux.ENOENT, e)

	tr = roundTrip(t, tr)
	b, e := tr.Pread(f, 10, 0)
	require.Zero(t, e)
	require.Equal(t, "data", string(b))
	files := len(tr.nodes)
	tr.Close(f)
	require.Len(t, tr.nodes, files-1)
	require.Zero(t, tr.used)
	roundTrip(t, tr)
}

// A removed working directory stays the working directory: nothing can
// be made in it and Getcwd says ENOENT, as on Linux.
func TestRemovedWorkingDirectory(t *testing.T) {
	tr := New()
	require.Zero(t, tr.Mkdir("/w", 0o755, 1))
	require.Zero(t, tr.Chdir(mustLookup(t, tr, "/w")))
	require.Zero(t, tr.Unlink("/w", true, 2))
	_, e := tr.Getcwd()
	require.Equal(t, linux.ENOENT, e)
	require.Equal(t, linux.ENOENT, openErr(tr, "new", wronly|creat))
	tr = roundTrip(t, tr)
	require.Zero(t, tr.Chdir(mustLookup(t, tr, "/")))
	require.Len(t, tr.nodes, 1, "the removed directory goes once left")
}

func TestAppendTruncateAndSeek(t *testing.T) {
	tr := New()
	write(t, tr, "/log", "ab")
	f, e := tr.Open("/log", wronly|linux.O_APPEND, 0, 1)
	require.Zero(t, e)
	_, e = tr.Pwrite(f, []byte("cd"), 0, 2)
	require.Zero(t, e)
	_, e = tr.WriteBack(f, []byte("X"), 0, 2)
	require.Zero(t, e)
	require.Zero(t, tr.Truncate(f, 6, 3))
	tr.Close(f)
	require.Equal(t, "Xbcd\x00\x00", read(t, tr, "/log"))

	f, e = tr.Open("/log", rdonly, 0, 4)
	require.Zero(t, e)
	pos, e := tr.Seek(f, -2, 2)
	require.Zero(t, e)
	require.Equal(t, int64(4), pos)
	require.Equal(t, linux.EINVAL, tr.Truncate(f, 0, 5), "not open for writing")
	_, e = tr.Write(f, []byte("no"), 5)
	require.Equal(t, linux.EBADF, e)
	tr.Close(f)
}

// A guest cannot take more than Capacity bytes of the host's memory
// through files.
func TestCapacityBoundsTheData(t *testing.T) {
	tr := New()
	f, e := tr.Open("/big", wronly|creat, 0o644, 1)
	require.Zero(t, e)
	require.Zero(t, tr.Truncate(f, Capacity-10, 1))
	n, e := tr.Pwrite(f, make([]byte, 100), Capacity-20, 2)
	require.Zero(t, e)
	require.Equal(t, 20, n, "what fits is written")
	_, e = tr.Pwrite(f, []byte{1}, Capacity, 3)
	require.Equal(t, linux.ENOSPC, e)
	require.Equal(t, linux.EFBIG, tr.Truncate(f, Capacity+1, 3))
	require.Zero(t, tr.Statfs().Bfree)
	tr.Close(f)
}

func TestMetadata(t *testing.T) {
	tr := New()
	write(t, tr, "/f", "12345")
	ino := mustLookup(t, tr, "/f")
	tr.Chmod(ino, 0o4755, 10)
	tr.Chown(ino, 7, linux.KeepID, 11)
	require.Zero(t, tr.SetTimes(ino, linux.Timespec{Sec: 1, Nsec: 2}, linux.Timespec{Nsec: linux.UtimeOmit}, 12))
	st := tr.Stat(ino)
	require.Equal(t, uint32(linux.S_IFREG|0o4755), st.Mode)
	require.Equal(t, uint32(7), st.UID)
	require.Equal(t, uint32(0), st.GID)
	require.Equal(t, int64(5), st.Size)
	require.Equal(t, int64(1_000_000_002), st.Atime)
	require.Equal(t, int64(8), st.Mtime, "omitted: the write's time")
	require.Equal(t, int64(12), st.Ctime)
	require.Equal(t, linux.EINVAL, tr.SetTimes(ino, linux.Timespec{Nsec: 2e9}, linux.Timespec{}, 13))
}

// The same directory packs to the same tree: files, modes and links, no
// host times, owners or inode numbers.
func TestPackIsDeterministic(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bin", "tool"), []byte("\x7fELF"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "data.txt"), []byte("one\n"), 0o640))
	require.NoError(t, os.Symlink("tool", filepath.Join(dir, "bin", "alias")))

	a, err := Pack(dir)
	require.NoError(t, err)
	require.NoError(t, os.Chtimes(filepath.Join(dir, "data.txt"), time0, time0))
	b, err := Pack(dir)
	require.NoError(t, err)
	require.Equal(t, a.Digest(), b.Digest())

	st := a.Stat(mustLookup(t, a, "/bin/alias"))
	require.Equal(t, uint32(linux.S_IFREG|0o755), st.Mode, "the link leads to the tool")
	require.Equal(t, "one\n", read(t, a, "/data.txt"))
	require.Equal(t, uint32(linux.S_IFREG|0o640), a.Stat(mustLookup(t, a, "/data.txt")).Mode)
	roundTrip(t, a)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "data.txt"), []byte("two\n"), 0o640))
	c, err := Pack(dir)
	require.NoError(t, err)
	require.NotEqual(t, a.Digest(), c.Digest(), "the digest covers the contents")
}

func TestPackRefusesWhatItCannotHold(t *testing.T) {
	_, err := Pack(filepath.Join(t.TempDir(), "missing"))
	require.ErrorContains(t, err, "missing")

	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	require.NoError(t, mkfifo(fifo))
	_, err = Pack(dir)
	require.ErrorContains(t, err, "pipe")
	require.ErrorContains(t, err, "cannot be packed")
}

// Damaged encodings are refused with an error, never a panic and never a
// tree that breaks its own rules.
func TestDecodeRefusesBrokenTrees(t *testing.T) {
	tr := New()
	require.Zero(t, tr.Mkdir("/d", 0o755, 1))
	write(t, tr, "/d/f", "abc")
	good := tr.Encode()
	for i := range good {
		b := bytes.Clone(good)
		b[i] ^= 0x41
		if back, err := Decode(b); err == nil {
			require.NoError(t, back.check())
		}
	}
	broken := roundTrip(t, tr)
	broken.nodes[mustLookup(t, broken, "/d")].Nlink = 5
	_, err := Decode(broken.Encode())
	require.ErrorContains(t, err, "link count")
}

func FuzzDecode(f *testing.F) {
	tr := New()
	_ = tr.Mkdir("/d", 0o755, 1)
	_ = tr.Symlink("d", "/l", 1)
	f.Add(tr.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		back, err := Decode(b)
		if err != nil {
			return
		}
		require.Equal(t, b, back.Encode())
		_, _ = back.Lookup("/d/../l/x", true)
		_, _ = back.Getcwd()
	})
}
