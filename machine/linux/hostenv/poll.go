package hostenv

import (
	"syscall"
	"time"
	"unsafe"
)

// pollFD is the host's struct pollfd.
type pollFD struct {
	fd      int32
	events  int16
	revents int16
}

// poll waits up to timeout (negative: forever) for events on fds, with the
// host's ppoll, and returns how many have some.
func poll(fds []pollFD, timeout time.Duration) (int, error) {
	var ts *syscall.Timespec
	if timeout >= 0 {
		t := syscall.NsecToTimespec(int64(timeout))
		ts = &t
	}
	var p unsafe.Pointer
	if len(fds) > 0 {
		p = unsafe.Pointer(&fds[0])
	}
	n, _, e := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(p), uintptr(len(fds)), uintptr(unsafe.Pointer(ts)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// isTerminal reports whether fd is a terminal (TCGETS succeeds).
func isTerminal(fd int) bool {
	var t syscall.Termios
	_, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.TCGETS, uintptr(unsafe.Pointer(&t)))
	return e == 0
}
