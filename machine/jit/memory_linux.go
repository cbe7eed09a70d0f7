//go:build linux && amd64

package jit

import (
	"fmt"
	"syscall"
	"unsafe"
)

// Arena is a region of memory for generated code. Its pages are never
// writable and executable at once (W^X): Write makes the pages it writes
// writable, copies, and makes them executable again.
type Arena struct {
	mem  []byte
	used int
}

// NewArena maps size bytes (a multiple of the page size) for code.
func NewArena(size int) (*Arena, error) {
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_EXEC, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil, fmt.Errorf("map %d bytes of code memory: %w", size, err)
	}
	return &Arena{mem: mem}, nil
}

// Next is the address the next Write places its code at.
func (a *Arena) Next() uintptr { return uintptr(unsafe.Pointer(&a.mem[0])) + uintptr(a.used) }

// Free is the room left.
func (a *Arena) Free() int { return len(a.mem) - a.used }

// Write appends code, which must have been assembled for Next, and
// returns its address.
func (a *Arena) Write(code []byte) (uintptr, error) {
	if len(code) > a.Free() {
		return 0, fmt.Errorf("code arena full: %d bytes wanted, %d free", len(code), a.Free())
	}
	at := a.Next()
	pageSize := syscall.Getpagesize()
	first := a.used &^ (pageSize - 1)
	last := (a.used + len(code) + pageSize - 1) &^ (pageSize - 1)
	pages := a.mem[first:last]
	if err := syscall.Mprotect(pages, syscall.PROT_READ|syscall.PROT_WRITE); err != nil {
		return 0, fmt.Errorf("make code writable: %w", err)
	}
	copy(a.mem[a.used:], code)
	if err := syscall.Mprotect(pages, syscall.PROT_READ|syscall.PROT_EXEC); err != nil {
		return 0, fmt.Errorf("make code executable: %w", err)
	}
	a.used += len(code)
	return at, nil
}

// Used is the number of bytes written.
func (a *Arena) Used() int { return a.used }

// Truncate forgets the code written after the first n bytes, so that the
// room can be reused. The caller must no longer enter any of it.
func (a *Arena) Truncate(n int) { a.used = min(n, a.used) }

// Close unmaps the arena.
func (a *Arena) Close() error { return syscall.Munmap(a.mem) }

// Data is read-write memory outside the Go heap, for state that
// generated code reads and writes: the collector neither moves nor scans
// it, so generated code may hold its address.
type Data struct{ mem []byte }

// NewData maps size bytes of zeroed memory.
func NewData(size int) (*Data, error) {
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
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
