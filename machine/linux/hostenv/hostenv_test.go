package hostenv_test

import (
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/machine/linux"
	"github.com/synodvm/synod/machine/linux/hostenv"
)

func TestFiles(t *testing.T) {
	env := hostenv.New()
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	h, e := env.Open(path, linux.O_RDWR|linux.O_CREAT|linux.O_EXCL, 0o600)
	require.Zero(t, e)
	n, e := env.Write(h, []byte("hello world"))
	require.Equal(t, 11, n)
	require.Zero(t, e)
	b, e := env.Pread(h, 5, 6)
	require.Zero(t, e)
	require.Equal(t, "world", string(b))
	off, e := env.Seek(h, 0, 0)
	require.Equal(t, int64(0), off)
	require.Zero(t, e)
	b, _ = env.Read(h, 100)
	require.Equal(t, "hello world", string(b))
	st, e := env.Stat(h)
	require.Zero(t, e)
	require.Equal(t, int64(11), st.Size)
	require.Equal(t, uint32(linux.S_IFREG|0o600), st.Mode)
	require.Zero(t, env.Close(h))
	require.Equal(t, linux.EBADF, env.Close(h))

	_, e = env.Open(path, linux.O_RDWR|linux.O_CREAT|linux.O_EXCL, 0o600)
	require.Equal(t, linux.EEXIST, e)
	_, e = env.Open(filepath.Join(dir, "missing"), linux.O_RDONLY, 0)
	require.Equal(t, linux.ENOENT, e)

	require.Zero(t, env.Mkdir(filepath.Join(dir, "sub"), 0o755))
	require.Zero(t, env.Rename(path, filepath.Join(dir, "sub", "g")))
	d, e := env.Open(filepath.Join(dir, "sub"), linux.O_RDONLY|linux.O_DIRECTORY, 0)
	require.Zero(t, e)
	entries, e := env.ReadDir(d)
	require.Zero(t, e)
	var names []string
	for _, ent := range entries {
		names = append(names, ent.Name)
	}
	require.Equal(t, []string{".", "..", "g"}, names)
	require.Equal(t, linux.ENOTEMPTY, env.Unlink(filepath.Join(dir, "sub"), true), "hppa's ENOTEMPTY is 247")
	require.Zero(t, env.Unlink(filepath.Join(dir, "sub", "g"), false))
	_, e = env.StatPath(filepath.Join(dir, "sub", "g"), true)
	require.Equal(t, linux.ENOENT, e)
}

// waitFor polls until ready says so, waiting on the host in between.
func waitFor(t *testing.T, env *hostenv.Env, h linux.Handle, ev linux.PollEvents) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ready := make([]linux.PollEvents, 1)
		if env.Poll([]linux.PollRequest{{Handle: h, Events: ev}}, ready); ready[0]&ev != 0 {
			return
		}
		require.NoError(t, env.Wait(linux.WaitSet{Handles: []linux.PollRequest{{Handle: h, Events: ev}}}, 100*time.Millisecond))
	}
	t.Fatalf("handle %d never became ready for %#x", h, ev)
}

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// TestWriteBackIgnoresAppend: a shared mapping's pages land where they
// belong in a file opened O_APPEND, and the guest's writes still append.
func TestWriteBackIgnoresAppend(t *testing.T) {
	env := hostenv.New()
	path := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(path, []byte("hello world"), 0o600))
	h, e := env.Open(path, linux.O_RDWR|linux.O_APPEND, 0)
	require.Zero(t, e)
	n, e := env.WriteBack(h, []byte("HELLO"), 0)
	require.Zero(t, e)
	require.Equal(t, 5, n)
	_, e = env.Write(h, []byte("!"))
	require.Zero(t, e)
	require.Zero(t, env.Close(h))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "HELLO world!", string(got))
}

// TestStatfsIsTheHosts: a directory and a file open in it are on one file
// system, described alike by path and by handle.
func TestStatfsIsTheHosts(t *testing.T) {
	env := hostenv.New()
	dir := t.TempDir()
	byPath, e := env.Statfs(linux.FileRef{Path: dir, Follow: true})
	require.Zero(t, e)
	h, e := env.Open(dir, linux.O_RDONLY|linux.O_DIRECTORY, 0)
	require.Zero(t, e)
	byHandle, e := env.Statfs(linux.FileRef{Handle: h})
	require.Zero(t, e)
	require.NotZero(t, byPath.Bsize)
	require.Equal(t, [3]any{byPath.Type, byPath.Bsize, byPath.Fsid}, [3]any{byHandle.Type, byHandle.Bsize, byHandle.Fsid})
	_, e = env.Statfs(linux.FileRef{Path: filepath.Join(dir, "missing")})
	require.Equal(t, linux.ENOENT, e)
	_, e = env.Statfs(linux.FileRef{Handle: 999})
	require.Equal(t, linux.EBADF, e)
}

// TestPathCallsAreTheHosts: chdir moves this process's working directory
// (getcwd follows), and links, symlinks, modes, owners and times are the
// host file system's.
func TestPathCallsAreTheHosts(t *testing.T) {
	env := hostenv.New()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	require.NoError(t, err)
	t.Chdir(dir) // and back at the end
	require.NoError(t, os.Mkdir("sub", 0o755))
	require.Zero(t, env.Chdir(linux.FileRef{Path: "sub", Follow: true}))
	cwd, e := env.Getcwd()
	require.Zero(t, e)
	require.Equal(t, filepath.Join(dir, "sub"), cwd)
	h, e := env.Open(dir, linux.O_RDONLY|linux.O_DIRECTORY, 0)
	require.Zero(t, e)
	require.Zero(t, env.Chdir(linux.FileRef{Handle: h}))
	cwd, _ = env.Getcwd()
	require.Equal(t, dir, cwd)

	require.NoError(t, os.WriteFile("f", []byte("data"), 0o600))
	require.Zero(t, env.Symlink("f", "sym"))
	require.Zero(t, env.Link(linux.FileRef{Path: "sym", Follow: true}, "hard"))
	require.Zero(t, env.Link(linux.FileRef{Path: "sym"}, "hardsym"))
	for name, isLink := range map[string]bool{"hard": false, "hardsym": true} {
		fi, err := os.Lstat(name)
		require.NoError(t, err)
		require.Equal(t, isLink, fi.Mode()&os.ModeSymlink != 0, name)
	}
	require.Equal(t, linux.EEXIST, env.Symlink("f", "hard"))

	require.Zero(t, env.Chmod(linux.FileRef{Path: "sym", Follow: true}, 0o640))
	f, e := env.Open("f", linux.O_RDWR, 0)
	require.Zero(t, e)
	require.Zero(t, env.Chown(linux.FileRef{Handle: f}, linux.KeepID, linux.KeepID))
	require.Zero(t, env.SetTimes(linux.FileRef{Path: "f", Follow: true}, linux.Timespec{Sec: 10}, linux.Timespec{Sec: 20, Nsec: 5}))
	require.Zero(t, env.SetTimes(linux.FileRef{Handle: f}, linux.Timespec{Sec: 30}, linux.Timespec{Nsec: linux.UtimeOmit}))
	st, e := env.Stat(f)
	require.Zero(t, e)
	require.Equal(t, uint32(linux.S_IFREG|0o640), st.Mode)
	require.Equal(t, uint32(os.Getuid()), st.UID)
	require.Equal(t, []int64{30_000_000_000, 20_000_000_005}, []int64{st.Atime, st.Mtime})
	require.Zero(t, env.SetTimes(linux.FileRef{Path: "sym"}, linux.Timespec{Nsec: linux.UtimeNow}, linux.Timespec{Sec: 1}))
	lst, e := env.StatPath("sym", false)
	require.Zero(t, e)
	require.Equal(t, int64(1_000_000_000), lst.Mtime, "the link itself")
	require.Equal(t, linux.ENOENT, env.Chmod(linux.FileRef{Path: "missing", Follow: true}, 0o600))
}

func TestLoopbackTCP(t *testing.T) {
	env := hostenv.New()
	loopback := netip.MustParseAddrPort("127.0.0.1:0")

	srv, e := env.Socket(linux.AF_INET, linux.SOCK_STREAM, 0)
	require.Zero(t, e)
	require.Zero(t, env.SetSockOpt(srv, linux.SOL_SOCKET, linux.SO_REUSEADDR, be32(1)))
	require.Zero(t, env.Bind(srv, loopback))
	require.Zero(t, env.Listen(srv, 8))
	addr, e := env.SockName(srv)
	require.Zero(t, e)
	require.NotZero(t, addr.Port())
	_, _, e = env.Accept(srv)
	require.Equal(t, linux.EAGAIN, e, "nobody connected yet")

	cli, _ := env.Socket(linux.AF_INET, linux.SOCK_STREAM, 0)
	if e := env.Connect(cli, addr); e != 0 {
		require.Equal(t, linux.EINPROGRESS, e)
	}
	waitFor(t, env, srv, linux.PollIn)
	conn, peer, e := env.Accept(srv)
	require.Zero(t, e)
	require.Equal(t, "127.0.0.1", peer.Addr().String())
	waitFor(t, env, cli, linux.PollOut)
	soErr, e := env.GetSockOpt(cli, linux.SOL_SOCKET, linux.SO_ERROR, 4)
	require.Zero(t, e)
	require.Equal(t, be32(0), soErr)

	_, e = env.Read(conn, 10)
	require.Equal(t, linux.EAGAIN, e, "no data yet")
	n, e := env.Write(cli, []byte("ping"))
	require.Equal(t, 4, n)
	require.Zero(t, e)
	waitFor(t, env, conn, linux.PollIn)
	b, e := env.Read(conn, 10)
	require.Zero(t, e)
	require.Equal(t, "ping", string(b))
	require.Zero(t, env.Shutdown(cli, 1))
	waitFor(t, env, conn, linux.PollIn)
	b, e = env.Read(conn, 10)
	require.Zero(t, e)
	require.Empty(t, b, "end of stream after the peer's shutdown")
	for _, h := range []linux.Handle{conn, cli, srv} {
		require.Zero(t, env.Close(h))
	}
}

func TestConnectionRefusedUsesHppaErrno(t *testing.T) {
	env := hostenv.New()
	srv, _ := env.Socket(linux.AF_INET, linux.SOCK_STREAM, 0)
	require.Zero(t, env.Bind(srv, netip.MustParseAddrPort("127.0.0.1:0")))
	addr, _ := env.SockName(srv)
	require.Zero(t, env.Close(srv)) // nobody listens on addr any more

	cli, _ := env.Socket(linux.AF_INET, linux.SOCK_STREAM, 0)
	e := env.Connect(cli, addr)
	if e == linux.EINPROGRESS {
		waitFor(t, env, cli, linux.PollOut)
		b, ge := env.GetSockOpt(cli, linux.SOL_SOCKET, linux.SO_ERROR, 4)
		require.Zero(t, ge)
		e = linux.Errno(binary.BigEndian.Uint32(b))
	}
	require.Equal(t, linux.ECONNREFUSED, e)
	require.Equal(t, linux.Errno(239), e)
}

func TestWaitHonoursTheDeadline(t *testing.T) {
	env := hostenv.New()
	start := time.Now()
	deadline := env.Clock(0).Monotonic + int64(20*time.Millisecond)
	require.NoError(t, env.Wait(linux.WaitSet{Deadline: deadline, HasDeadline: true}, time.Minute))
	require.GreaterOrEqual(t, env.Clock(0).Monotonic, deadline)
	require.Less(t, time.Since(start), 30*time.Second, "bounded by the deadline, not the minute")
}

func TestExitCodeIsQemus(t *testing.T) {
	cases := []struct {
		st   linux.ExitStatus
		want int
	}{
		{linux.ExitStatus{Code: 3}, 3},
		{linux.ExitStatus{Signal: linux.SIGSEGV, Core: true}, 139},
		{linux.ExitStatus{Signal: linux.SIGUSR2}, 140}, // hppa 17 is the host's 12
		{linux.ExitStatus{Signal: linux.SIGBUS, Core: true}, 135},
		{linux.ExitStatus{Signal: linux.SIGABRT, Core: true}, 134},
		{linux.ExitStatus{Signal: 40}, 168}, // real-time signals keep their number
	}
	for _, c := range cases {
		require.Equal(t, c.want, hostenv.ExitCode(c.st), "%+v", c.st)
	}
	g, ok := hostenv.GuestSignal(hostenv.HostSignal(linux.SIGUSR1))
	require.True(t, ok)
	require.Equal(t, linux.SIGUSR1, g)
}

func TestConsoleIsNeverClosed(t *testing.T) {
	env := hostenv.New()
	require.Zero(t, env.Close(linux.Stderr))
	_, err := os.Stderr.Stat()
	require.NoError(t, err, "closing the guest's stderr leaves synod's open")
}
