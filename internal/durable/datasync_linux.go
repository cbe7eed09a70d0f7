package durable

import (
	"errors"
	"io"
	"os"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Datasync makes f's data durable, and of its metadata only what reading
// the data back needs (its size), not its times.
func Datasync(f *os.File) error {
	for {
		if err := unix.Fdatasync(int(f.Fd())); !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// DatasyncAppend is Datasync for a log that syncs each small append,
// many a second: it keeps its goroutine's processor (P) while the disk
// syncs, where a system call made the usual way lends it out. Go's
// monitor thread takes a P from a call that has lasted 20 µs and hands
// it to another thread, waking one, and the call's thread then has to
// find a P again, parking if it finds none. Every sync of a busy node
// paid for that, and kept the monitor polling every 20 µs: on a
// two-processor machine its sleeps were 8% of a Byzantine node's CPU,
// and the machine switched threads a fifth more often a request. The
// price is that the P does nothing else meanwhile, and that a garbage
// collection waits for the sync to end before it stops the world. So a
// sync keeps its P only while the process has another to run on, and
// only while the disk is quick: after a sync that took longer than
// slowSync, the next lends its P out, and so on until one is quick
// again. A large write, whose sync takes long, is for Datasync.
func DatasyncAppend(f *os.File) error {
	start := time.Now()
	defer func() { lastSync.Store(int64(time.Since(start))) }()
	if !keepsP(start) {
		return Datasync(f)
	}
	for {
		_, _, errno := unix.RawSyscall(unix.SYS_FDATASYNC, f.Fd(), 0, 0)
		switch errno {
		case 0:
			return nil
		case unix.EINTR:
		default:
			return errno
		}
	}
}

// WriteAppend is f.WriteAt for a log's small append, made the way
// DatasyncAppend makes the sync that follows it and for the same reason:
// a write that lasted past a poll of Go's monitor lent its P out, and
// the first write after the process was idle woke the monitor, which
// then polled every 20 µs for a millisecond (see internal/rawio). Such a
// write is a copy into the page cache, unless the page has to be read
// first or the kernel throttles writers, so it keeps its P on the same
// terms as a sync.
func WriteAppend(f *os.File, b []byte, off int64) error {
	if !keepsP(time.Now()) {
		_, err := f.WriteAt(b, off)
		return err
	}
	for len(b) > 0 {
		n, _, errno := unix.RawSyscall6(unix.SYS_PWRITE64, f.Fd(), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(off), 0, 0)
		switch {
		case errno == 0 && n == 0:
			return &os.PathError{Op: "write", Path: f.Name(), Err: io.ErrShortWrite}
		case errno == 0:
			b, off = b[n:], off+int64(n)
		case errno == unix.EINTR:
		default:
			return &os.PathError{Op: "write", Path: f.Name(), Err: errno}
		}
	}
	return nil
}

// keepsP reports whether a sync starting at now keeps its P.
func keepsP(now time.Time) bool {
	return time.Duration(lastSync.Load()) <= slowSync && severalPs(now)
}

// slowSync is the longest sync after which the next still keeps its P:
// a P held longer delays the garbage collector's pauses by as much, and a
// disk that was slow a moment ago is likely to be slow now.
var slowSync = 10 * time.Millisecond

// lastSync is how long the process's last DatasyncAppend took, in
// nanoseconds.
var lastSync atomic.Int64

// procs is GOMAXPROCS, read at most once a second (reading it takes the
// scheduler's lock), and procsAt when, in Unix nanoseconds.
var procs, procsAt atomic.Int64

// severalPs reports whether the process runs Go code on more than one P:
// with one, a sync that keeps it stops the whole process.
func severalPs(now time.Time) bool {
	if now.UnixNano()-procsAt.Load() > int64(time.Second) {
		procs.Store(int64(runtime.GOMAXPROCS(0)))
		procsAt.Store(now.UnixNano())
	}
	return procs.Load() > 1
}
