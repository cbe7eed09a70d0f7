//go:build unix

package peripherals

import (
	"errors"
	"syscall"
)

// directWriter writes to one client's socket as far as it takes bytes
// without waiting. Its write method is made into a func value once per
// connection: a closure per reply would be an allocation per reply.
type directWriter struct {
	raw   syscall.RawConn
	write func(fd uintptr) bool
	b     []byte
	err   error
}

func newDirectWriter(raw syscall.RawConn) *directWriter {
	w := &directWriter{raw: raw}
	w.write = w.writeFD
	return w
}

// writeFD writes w.b until the socket is full; it never asks to wait.
func (w *directWriter) writeFD(fd uintptr) bool {
	for len(w.b) > 0 {
		k, err := syscall.Write(int(fd), w.b)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN):
			return true
		case err != nil:
			w.err = err
			return true
		case k <= 0:
			return true
		}
		w.b = w.b[k:]
	}
	return true
}

// tryWrite writes b as far as the socket takes it now and returns what
// it did not take. The node's goroutine writes a reply itself this way:
// handing every reply to the connection's writer woke that goroutine
// once a request.
func (w *directWriter) tryWrite(b []byte) ([]byte, error) {
	w.b, w.err = b, nil
	err := w.raw.Write(w.write)
	rest := w.b
	if err == nil {
		err = w.err
	}
	w.b, w.err = nil, nil
	return rest, err
}
