package p2p

import (
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// A follower receiving a 500 MiB snapshot into the heap spent about a
// fifth of its CPU on it, most of it in the kernel: heap memory that a
// process touches for the first time arrives a page at a time, through a
// page fault each (on the development machine, a virtual machine, 3 s of
// CPU for 500 MiB), on processors that the nodes serving clients share.
// Written into a memory file instead (memfd), the same bytes cost a
// tenth of that: the kernel fills its own pages without a fault per page,
// and mapping the file afterwards, read-only, is nearly free. The
// receiver releases the mapping once it is done with the message
// (consensus.Inbound.Release).

// mappedSink holds a message in a memory file, mapped once complete.
type mappedSink struct {
	f   *os.File
	buf []byte // the chunk being received, reused
}

// newMappedSink makes a sink in a memory file, or in the heap where the
// kernel has no memory files.
func newMappedSink(size int) largeSink {
	fd, err := unix.MemfdCreate("synod-snapshot", unix.MFD_CLOEXEC)
	if err != nil {
		return newHeapSink(size)
	}
	return &mappedSink{f: os.NewFile(uintptr(fd), "synod-snapshot")}
}

func (m *mappedSink) next(n int) []byte {
	if cap(m.buf) < n {
		m.buf = make([]byte, n)
	}
	return m.buf[:n]
}

func (m *mappedSink) write(p []byte) error {
	if _, err := m.f.Write(p); err != nil {
		return fmt.Errorf("hold a large message in a memory file: %w", err)
	}
	return nil
}

func (m *mappedSink) finish() ([]byte, func(), error) {
	defer m.f.Close() // the mapping keeps the memory
	fi, err := m.f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("size of a large message's memory file: %w", err)
	}
	if fi.Size() == 0 {
		return []byte{}, nil, nil
	}
	data, err := unix.Mmap(int(m.f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("map a large message's memory file: %w", err)
	}
	return data, sync.OnceFunc(func() { _ = unix.Munmap(data) }), nil
}

func (m *mappedSink) discard() { _ = m.f.Close() }
