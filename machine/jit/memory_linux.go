//go:build linux && amd64

package jit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
	"unsafe"
)

// Arena is a region of memory for generated code. It is mapped twice
// (W^X): once writable, where Write copies code, and once executable,
// where the code runs; no mapping is both. Two views of the same pages
// spare every write the two mprotect calls (each a TLB shootdown on every
// CPU the process ran on) that making pages writable and executable in
// turn would cost: they made translation, not execution, the larger part
// of a short run.
type Arena struct {
	write, exec []byte
	used        int
	// populated is how much of the arena is mapped in both views
	// already (see populate).
	populated int
}

// NewArena maps size bytes (a multiple of the page size) for code.
func NewArena(size int) (*Arena, error) {
	fd, err := memfdCreate("synod-code")
	if err != nil {
		return nil, fmt.Errorf("create code memory: %w", err)
	}
	defer syscall.Close(fd) // the mappings keep the memory
	if err := syscall.Ftruncate(fd, int64(size)); err != nil {
		return nil, fmt.Errorf("size code memory to %d bytes: %w", size, err)
	}
	write, err := syscall.Mmap(fd, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map code memory for writing: %w", err)
	}
	exec, err := syscall.Mmap(fd, 0, size, syscall.PROT_READ|syscall.PROT_EXEC, syscall.MAP_SHARED)
	if err != nil {
		syscall.Munmap(write)
		return nil, fmt.Errorf("map code memory for executing: %w", err)
	}
	return &Arena{write: write, exec: exec}, nil
}

// Next is the address the next Write places its code at.
func (a *Arena) Next() uintptr { return uintptr(unsafe.Pointer(&a.exec[0])) + uintptr(a.used) }

// Free is the room left.
func (a *Arena) Free() int { return len(a.exec) - a.used }

// Write appends code, which must have been assembled for Next, and
// returns its address.
func (a *Arena) Write(code []byte) (uintptr, error) {
	if len(code) > a.Free() {
		return 0, fmt.Errorf("code arena full: %d bytes wanted, %d free", len(code), a.Free())
	}
	at := a.Next()
	a.populate(a.used + len(code))
	a.used += copy(a.write[a.used:], code)
	return at, nil
}

// populateChunk is the most of the arena populate maps at once; it
// starts at minPopulate and doubles, since a short program translates a
// few blocks of a few hundred bytes each.
const (
	populateChunk = 64 << 10
	minPopulate   = 16 << 10
)

// populate maps the pages of both views up to at least end, a chunk at a
// time, ahead of the writes and the first executions. Left to page
// faults, every page of code faults twice, once in each view, and on a
// virtual machine a fault costs tens of microseconds: the faults were
// most of the translator's cost in a short run. It is only a hint: where
// the kernel does not do it (before Linux 5.14), the pages fault in.
func (a *Arena) populate(end int) {
	if end <= a.populated {
		return
	}
	from := a.populated
	a.populated = min(len(a.write), max(end, from+min(max(from, minPopulate), populateChunk)))
	a.populated = (a.populated + pageSize - 1) &^ (pageSize - 1)
	madvise(a.write[from:a.populated], madvPopulateWrite)
	madvise(a.exec[from:a.populated], madvPopulateRead)
}

const (
	pageSize          = 4096
	madvPopulateRead  = 22 // MADV_POPULATE_READ, Linux 5.14
	madvPopulateWrite = 23 // MADV_POPULATE_WRITE
)

// madvise gives the kernel advice about b; errors are ignored, as advice
// may be.
func madvise(b []byte, advice int) {
	syscall.Syscall(syscall.SYS_MADVISE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(advice))
}

// PatchJump makes the rel32 field at site, the last four bytes of a jump
// written earlier, jump to target.
func (a *Arena) PatchJump(site, target uintptr) {
	base := uintptr(unsafe.Pointer(&a.exec[0]))
	binary.LittleEndian.PutUint32(a.write[site-base:], uint32(int32(target-(site+4))))
}

// Used is the number of bytes written.
func (a *Arena) Used() int { return a.used }

// Truncate forgets the code written after the first n bytes, so that the
// room can be reused. The caller must no longer enter any of it.
func (a *Arena) Truncate(n int) { a.used = min(n, a.used) }

// Close unmaps the arena.
func (a *Arena) Close() error {
	return errors.Join(syscall.Munmap(a.write), syscall.Munmap(a.exec))
}

// memfd_create(2), which package syscall does not wrap; the number is
// amd64's.
const sysMemfdCreate = 319

// memfdCreate returns a file descriptor of anonymous memory, closed on
// exec.
func memfdCreate(name string) (int, error) {
	p, err := syscall.BytePtrFromString(name)
	if err != nil {
		return -1, err
	}
	const mfdCloexec = 1
	fd, _, errno := syscall.Syscall(sysMemfdCreate, uintptr(unsafe.Pointer(p)), mfdCloexec, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

// Data is read-write memory outside the Go heap, for state that
// generated code reads and writes: the collector neither moves nor scans
// it, so generated code may hold its address.
type Data struct{ mem []byte }

// NewData maps size bytes of zeroed memory.
func NewData(size int) (*Data, error) {
	// Populated at once: generated code touches it all soon, and a
	// fault per page costs far more (see Arena.populate).
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("map %d bytes of state memory: %w", size, err)
	}
	return &Data{mem: mem}, nil
}

// Bytes is the memory.
func (d *Data) Bytes() []byte { return d.mem }

// Addr is the address of its first byte.
func (d *Data) Addr() uintptr { return uintptr(unsafe.Pointer(&d.mem[0])) }

// Close unmaps the memory.
func (d *Data) Close() error { return syscall.Munmap(d.mem) }
