package rawio

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// conn is a connection whose reads and writes are raw system calls on
// its descriptor, waiting in the net package's poller when the socket is
// not ready, under the connection's deadlines.
type conn struct {
	net.Conn
	rc syscall.RawConn
}

// Wrap returns c with raw reads and writes, or c itself when it has no
// descriptor of its own (an in-memory pipe).
func Wrap(c net.Conn) net.Conn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return c
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	return &conn{Conn: c, rc: rc}
}

func (c *conn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := c.rc.Read(func(fd uintptr) bool {
		for {
			r, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
			switch e {
			case 0:
				n = int(r)
				return true
			case unix.EINTR:
			case unix.EAGAIN:
				return false // wait in the poller
			default:
				errno = e
				return true
			}
		}
	})
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, c.opError("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// Write writes all of b, as net.Conn's Write does, or says why not.
func (c *conn) Write(b []byte) (int, error) {
	var n int
	var failed error
	err := c.rc.Write(func(fd uintptr) bool {
		for n < len(b) {
			r, _, e := unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[n])), uintptr(len(b)-n))
			switch {
			case e == 0 && r == 0:
				failed = io.ErrShortWrite
				return true
			case e == 0:
				n += int(r)
			case e == unix.EINTR:
			case e == unix.EAGAIN:
				return false // wait in the poller
			default:
				failed = os.NewSyscallError("write", e)
				return true
			}
		}
		return true
	})
	switch {
	case err != nil:
		return n, err
	case failed != nil:
		return n, c.opError("write", failed)
	}
	return n, nil
}

// opError is the error the net package would have returned.
func (c *conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
