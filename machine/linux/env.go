package linux

import "net/netip"

// Env is the one door through which anything non-deterministic enters the
// guest: clocks, random bytes, the file system, the network and the console.
// The kernel never touches the host itself.
//
// Rules every implementation follows, because the replica runtime answers
// these calls from a consensus log and a recorder must be able to log and
// replay every answer:
//   - No method blocks. A call that cannot complete now answers EAGAIN; the
//     kernel then parks the guest thread and asks Poll again later.
//   - Arguments and results are plain data. Handles are the Env's own names
//     for open objects (the kernel maps guest file descriptors to them); no
//     host file descriptor or pointer ever reaches guest state.
//   - Numbers with a guest meaning use the guest ABI (hppa Linux): Errno
//     values, open flags, socket option levels and names, poll bits. The
//     constants exported by this package name them.
//   - Handles Stdin, Stdout and Stderr are open from the start: they are the
//     guest's console (file descriptors 0, 1 and 2).
//   - Two Envs that give the same answers to the same sequence of calls are
//     indistinguishable to the guest; the kernel makes the sequence of calls
//     a function of the answers (see Recorder and Replayer).
type Env interface {
	// Clock reads the guest clocks. instructions is the number of guest
	// instructions the process has executed so far, so that a replicated
	// Env can derive time from the log and the instruction count.
	Clock(instructions uint64) Clock
	// Random returns up to n random bytes; fewer (even none) when the
	// Env's pool is dry, in which case getrandom waits for WaitSet.Random.
	Random(n int) []byte

	// Open opens path (relative paths are relative to the Env's working
	// directory). flags are the guest's O_* bits without O_NONBLOCK and
	// O_CLOEXEC, which the kernel keeps for itself.
	Open(path string, flags uint32, mode uint32) (Handle, Errno)
	Close(h Handle) Errno
	// Read returns up to n bytes. An empty result with errno 0 is end of
	// file; EAGAIN means no data now (the kernel polls for PollIn).
	Read(h Handle, n int) ([]byte, Errno)
	// Write writes data and says how much it took; EAGAIN means none now.
	Write(h Handle, data []byte) (int, Errno)
	Pread(h Handle, n int, offset int64) ([]byte, Errno)
	Pwrite(h Handle, data []byte, offset int64) (int, Errno)
	// WriteBack writes data at offset of the file open as h, even when h
	// was opened O_APPEND (where Pwrite appends, as on Linux): it is how
	// the pages of a shared mapping reach their file.
	WriteBack(h Handle, data []byte, offset int64) (int, Errno)
	Seek(h Handle, offset int64, whence int) (int64, Errno)
	Truncate(h Handle, size int64) Errno
	Stat(h Handle) (Stat, Errno)
	// StatPath stats a path; follow says whether a final symlink is followed.
	StatPath(path string, follow bool) (Stat, Errno)
	Readlink(path string) (string, Errno)
	// ReadDir lists the directory open as h, "." and ".." included.
	ReadDir(h Handle) ([]DirEntry, Errno)
	Unlink(path string, dir bool) Errno
	Mkdir(path string, mode uint32) Errno
	Rename(from, to string) Errno
	Getcwd() (string, Errno)
	// Chdir makes dir the working directory (chdir, fchdir): relative
	// paths and Getcwd answer from it from then on.
	Chdir(dir FileRef) Errno
	// Link gives the file from a second name, to (link, linkat).
	Link(from FileRef, to string) Errno
	// Symlink creates path as a symbolic link to target.
	Symlink(target, path string) Errno
	// Chmod sets f's permission bits (mode&07777).
	Chmod(f FileRef, mode uint32) Errno
	// Chown sets f's owner and group; KeepID leaves one as it is.
	Chown(f FileRef, uid, gid uint32) Errno
	// SetTimes sets f's access and modification times (utimensat).
	SetTimes(f FileRef, atime, mtime Timespec) Errno
	// Statfs describes the file system that holds f (statfs, fstatfs).
	Statfs(f FileRef) (Statfs, Errno)
	// IsTerminal reports whether h is a terminal (isatty), which decides
	// how the guest's stdio buffers its output.
	IsTerminal(h Handle) bool

	// Socket creates a socket: domain AF_INET or AF_INET6, typ SOCK_STREAM
	// or SOCK_DGRAM (without SOCK_NONBLOCK/SOCK_CLOEXEC).
	Socket(domain, typ, protocol int) (Handle, Errno)
	Bind(h Handle, addr netip.AddrPort) Errno
	Listen(h Handle, backlog int) Errno
	// Accept takes a pending connection, or answers EAGAIN.
	Accept(h Handle) (Handle, netip.AddrPort, Errno)
	// Connect starts a connection. EINPROGRESS means it completes later:
	// the handle then polls PollOut and SockError tells the outcome.
	Connect(h Handle, addr netip.AddrPort) Errno
	Shutdown(h Handle, how int) Errno
	// SetSockOpt and GetSockOpt take guest option levels and names; values
	// are in guest byte order (big-endian).
	SetSockOpt(h Handle, level, name int, value []byte) Errno
	GetSockOpt(h Handle, level, name int, size int) ([]byte, Errno)
	SockName(h Handle) (netip.AddrPort, Errno)
	PeerName(h Handle) (netip.AddrPort, Errno)

	// Poll reports which of the requested events are ready now in ready,
	// which has one entry per request in the same order. It never waits.
	// The caller owns ready: a guest polling many descriptors polls at
	// every scheduling decision, and a slice made per call was most of
	// what a replica allocated per request.
	Poll(requests []PollRequest, ready []PollEvents)
}

// Handle names an object the Env has open.
type Handle uint32

// The console handles every Env has open from the start.
const (
	Stdin  Handle = 0
	Stdout Handle = 1
	Stderr Handle = 2
)

// Clock is a reading of the guest clocks, in nanoseconds.
type Clock struct {
	Realtime  int64 // since the Unix epoch (CLOCK_REALTIME)
	Monotonic int64 // from an arbitrary origin, never decreasing (CLOCK_MONOTONIC)
}

// Stat describes a file, independently of any struct layout.
type Stat struct {
	Dev, Ino uint64
	Mode     uint32 // file type and permission bits, as in st_mode
	Nlink    uint32
	UID, GID uint32
	Rdev     uint64
	Size     int64
	Blksize  int32
	Blocks   int64
	Atime    int64 // nanoseconds since the Unix epoch
	Mtime    int64
	Ctime    int64
}

// FileRef names the file a call acts on: the one open as Handle when Path
// is empty, else the file at Path, whose final symlink is followed when
// Follow is set.
type FileRef struct {
	Handle Handle
	Path   string
	Follow bool
}

// KeepID is the uid or gid that Chown leaves unchanged (chown's -1).
const KeepID = ^uint32(0)

// Timespec is a time as utimensat takes it: since the Unix epoch, or with
// Nsec UtimeNow for the current time or UtimeOmit for no change.
type Timespec struct{ Sec, Nsec int64 }

// The special Nsec values of Timespec, as Linux numbers them.
const (
	UtimeNow  = 1<<30 - 1
	UtimeOmit = 1<<30 - 2
)

// Statfs describes a file system, as struct statfs does.
type Statfs struct {
	Type          uint32 // the file system's magic number (f_type)
	Bsize, Frsize uint32 // block size, fragment size
	Blocks, Bfree uint64 // in Frsize units
	Bavail        uint64 // free to unprivileged users
	Files, Ffree  uint64 // inodes
	Fsid          [2]uint32
	Namelen       uint32 // longest file name
	Flags         uint32 // ST_* mount flags
}

// File system magic numbers and mount flags the Envs and the kernel use.
const (
	PIPEFS_MAGIC = 0x50495045
	SOCKFS_MAGIC = 0x534f434b
	TMPFS_MAGIC  = 0x01021994

	ST_RDONLY = 0x1
	ST_VALID  = 0x20 // the flags are valid (Linux sets it always)
)

// PipeFS is what statfs reports for a pipe, SockFS for a socket.
var (
	PipeFS = Statfs{Type: PIPEFS_MAGIC, Bsize: 4096, Frsize: 4096, Namelen: 255, Flags: ST_VALID}
	SockFS = Statfs{Type: SOCKFS_MAGIC, Bsize: 4096, Frsize: 4096, Namelen: 255, Flags: ST_VALID}
)

// DirEntry is one name in a directory listing.
type DirEntry struct {
	Ino  uint64
	Type uint8 // DT_* value
	Name string
}

// PollEvents is a set of POLL* bits (guest values).
type PollEvents uint16

// Poll bits, as hppa Linux numbers them.
const (
	PollIn   PollEvents = 0x1
	PollPri  PollEvents = 0x2
	PollOut  PollEvents = 0x4
	PollErr  PollEvents = 0x8
	PollHup  PollEvents = 0x10
	PollNval PollEvents = 0x20
)

// PollRequest asks whether Events are ready on Handle.
type PollRequest struct {
	Handle Handle
	Events PollEvents
}

// SeekTarget is where lseek moves a file position: offset from the start
// (whence 0), from pos (1) or from the end of a file of size (2). EINVAL
// for another whence or a position before the start.
func SeekTarget(pos, size, offset int64, whence int) (int64, Errno) {
	var base int64
	switch whence {
	case 0:
	case 1:
		base = pos
	case 2:
		base = size
	default:
		return 0, EINVAL
	}
	if base+offset < 0 {
		return 0, EINVAL
	}
	return base + offset, 0
}
