package hostenv

import (
	"errors"
	"io/fs"
	"syscall"
	"unsafe"

	"github.com/synodvm/synod/machine/linux"
)

// Translation between the host's Linux ABI and the guest's hppa one.

// errnos maps host error numbers to hppa ones; the generic Linux numbers
// below 35 are the same on both, the rest differ.
var errnos = map[syscall.Errno]linux.Errno{
	syscall.EDEADLK: linux.EDEADLK, syscall.ENAMETOOLONG: linux.ENAMETOOLONG, syscall.ENOLCK: linux.ENOLCK,
	syscall.ENOSYS: linux.ENOSYS, syscall.ENOTEMPTY: linux.ENOTEMPTY, syscall.ELOOP: linux.ELOOP,
	syscall.ENODATA: linux.ENODATA, syscall.EOVERFLOW: linux.EOVERFLOW, syscall.EILSEQ: linux.EILSEQ,
	syscall.ENOTSOCK: linux.ENOTSOCK, syscall.EDESTADDRREQ: linux.EDESTADDRREQ, syscall.EMSGSIZE: linux.EMSGSIZE,
	syscall.EPROTOTYPE: linux.EPROTOTYPE, syscall.ENOPROTOOPT: linux.ENOPROTOOPT,
	syscall.EPROTONOSUPPORT: linux.EPROTONOSUPPORT, syscall.ESOCKTNOSUPPORT: linux.ESOCKTNOSUPPORT,
	syscall.EOPNOTSUPP: linux.EOPNOTSUPP, syscall.EPFNOSUPPORT: linux.EPFNOSUPPORT,
	syscall.EAFNOSUPPORT: linux.EAFNOSUPPORT, syscall.EADDRINUSE: linux.EADDRINUSE,
	syscall.EADDRNOTAVAIL: linux.EADDRNOTAVAIL, syscall.ENETDOWN: linux.ENETDOWN,
	syscall.ENETUNREACH: linux.ENETUNREACH, syscall.ENETRESET: linux.ENETRESET,
	syscall.ECONNABORTED: linux.ECONNABORTED, syscall.ECONNRESET: linux.ECONNRESET,
	syscall.ENOBUFS: linux.ENOBUFS, syscall.EISCONN: linux.EISCONN, syscall.ENOTCONN: linux.ENOTCONN,
	syscall.ESHUTDOWN: linux.ESHUTDOWN, syscall.ETIMEDOUT: linux.ETIMEDOUT,
	syscall.ECONNREFUSED: linux.ECONNREFUSED, syscall.EHOSTDOWN: linux.EHOSTDOWN,
	syscall.EHOSTUNREACH: linux.EHOSTUNREACH, syscall.EALREADY: linux.EALREADY,
	syscall.EINPROGRESS: linux.EINPROGRESS, syscall.ECANCELED: linux.ECANCELED,
}

// firstDifferentErrno is where the host and hppa numberings part.
const firstDifferentErrno = 35

// errno converts a host error to the guest's errno (0 for nil).
func errno(err error) linux.Errno {
	if err == nil {
		return 0
	}
	var en syscall.Errno
	if !errors.As(err, &en) {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return linux.ENOENT
		case errors.Is(err, fs.ErrPermission):
			return linux.EACCES
		}
		return linux.EIO
	}
	if en < firstDifferentErrno {
		return linux.Errno(en)
	}
	if g, known := errnos[en]; known {
		return g
	}
	return linux.EIO
}

// hostOpenFlags converts guest O_* bits to the host's.
func hostOpenFlags(flags uint32) int {
	out := int(flags & linux.O_ACCMODE)
	for _, f := range []struct {
		guest uint32
		host  int
	}{
		{linux.O_APPEND, syscall.O_APPEND}, {linux.O_CREAT, syscall.O_CREAT}, {linux.O_EXCL, syscall.O_EXCL},
		{linux.O_TRUNC, syscall.O_TRUNC}, {linux.O_DIRECTORY, syscall.O_DIRECTORY},
		{linux.O_NOFOLLOW, syscall.O_NOFOLLOW}, {linux.O_NOCTTY, syscall.O_NOCTTY},
	} {
		if flags&f.guest != 0 {
			out |= f.host
		}
	}
	return out
}

// hostSignals maps hppa signal numbers to the host's, for reporting how a
// guest died the way qemu-hppa does (it kills itself with the host signal).
var hostSignals = map[int]syscall.Signal{
	linux.SIGHUP: syscall.SIGHUP, linux.SIGINT: syscall.SIGINT, linux.SIGQUIT: syscall.SIGQUIT,
	linux.SIGILL: syscall.SIGILL, linux.SIGTRAP: syscall.SIGTRAP, linux.SIGABRT: syscall.SIGABRT,
	linux.SIGSTKFLT: syscall.SIGSTKFLT, linux.SIGFPE: syscall.SIGFPE, linux.SIGKILL: syscall.SIGKILL,
	linux.SIGBUS: syscall.SIGBUS, linux.SIGSEGV: syscall.SIGSEGV, linux.SIGXCPU: syscall.SIGXCPU,
	linux.SIGPIPE: syscall.SIGPIPE, linux.SIGALRM: syscall.SIGALRM, linux.SIGTERM: syscall.SIGTERM,
	linux.SIGUSR1: syscall.SIGUSR1, linux.SIGUSR2: syscall.SIGUSR2, linux.SIGCHLD: syscall.SIGCHLD,
	linux.SIGPWR: syscall.SIGPWR, linux.SIGVTALRM: syscall.SIGVTALRM, linux.SIGPROF: syscall.SIGPROF,
	linux.SIGIO: syscall.SIGIO, linux.SIGWINCH: syscall.SIGWINCH, linux.SIGSTOP: syscall.SIGSTOP,
	linux.SIGTSTP: syscall.SIGTSTP, linux.SIGCONT: syscall.SIGCONT, linux.SIGTTIN: syscall.SIGTTIN,
	linux.SIGTTOU: syscall.SIGTTOU, linux.SIGURG: syscall.SIGURG, linux.SIGXFSZ: syscall.SIGXFSZ,
	linux.SIGSYS: syscall.SIGSYS,
}

// HostSignal returns the host signal for a guest signal number; real-time
// signals (32 and up) keep their number.
func HostSignal(guest int) syscall.Signal {
	if s, known := hostSignals[guest]; known {
		return s
	}
	return syscall.Signal(guest)
}

// GuestSignal is the inverse of HostSignal, for forwarding host signals
// (Ctrl-C) to the guest. ok is false for a signal hppa does not have.
func GuestSignal(host syscall.Signal) (int, bool) {
	for g, h := range hostSignals {
		if h == host {
			return g, true
		}
	}
	return 0, false
}

// ExitCode is the status qemu-hppa exits with for an ended guest: its exit
// code, or 128 plus the host number of the signal that killed it.
func ExitCode(st linux.ExitStatus) int {
	if st.Signal != 0 {
		return 128 + int(HostSignal(st.Signal))
	}
	return st.Code
}

// The *at calls the syscall package lacks, and their flags.
const (
	_AT_FDCWD            = -100
	_AT_SYMLINK_NOFOLLOW = 0x100
	_AT_SYMLINK_FOLLOW   = 0x400
	_AT_EMPTY_PATH       = 0x1000
)

// linkat links oldpath, relative to olddirfd, as newpath.
func linkat(olddirfd int, oldpath, newpath string, flags int) error {
	oldp, err := syscall.BytePtrFromString(oldpath)
	if err != nil {
		return err
	}
	newp, err := syscall.BytePtrFromString(newpath)
	if err != nil {
		return err
	}
	newdirfd := _AT_FDCWD
	_, _, en := syscall.Syscall6(syscall.SYS_LINKAT, uintptr(olddirfd), uintptr(unsafe.Pointer(oldp)),
		uintptr(newdirfd), uintptr(unsafe.Pointer(newp)), uintptr(flags), 0)
	if en != 0 {
		return en
	}
	return nil
}

// utimensat sets the times of path relative to dirfd, or of dirfd itself
// when path is nil (futimens).
func utimensat(dirfd int, path *byte, ts *[2]syscall.Timespec, flags int) error {
	_, _, en := syscall.Syscall6(syscall.SYS_UTIMENSAT, uintptr(dirfd), uintptr(unsafe.Pointer(path)),
		uintptr(unsafe.Pointer(ts)), uintptr(flags), 0, 0)
	if en != 0 {
		return en
	}
	return nil
}
