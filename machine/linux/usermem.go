package linux

import "encoding/binary"

// Copies between guest memory and the kernel. A refused access is EFAULT,
// as copy_from_user/copy_to_user make it; one that reaches into the main
// stack's reserve grows the stack first, as their page fault would.

// maxPath bounds path strings read from the guest (PATH_MAX).
const maxPath = 4096

// reach grows the stack for an access of n > 0 bytes at addr.
func (p *Process) reach(addr uint32, n int) { p.growStack(addr + uint32(n) - 1) }

func (p *Process) readUser(addr uint32, n int) ([]byte, Errno) {
	b := make([]byte, n)
	if e := p.readUserInto(addr, b); e != 0 {
		return nil, e
	}
	return b, 0
}

// readUserInto fills b from guest memory at addr.
func (p *Process) readUserInto(addr uint32, b []byte) Errno {
	if len(b) == 0 {
		return 0
	}
	p.reach(addr, len(b))
	if p.mem.ReadBytes(addr, b) != nil {
		return EFAULT
	}
	return 0
}

func (p *Process) writeUser(addr uint32, b []byte) Errno {
	if len(b) == 0 {
		return 0
	}
	p.reach(addr, len(b))
	if p.mem.WriteBytes(addr, b) != nil {
		return EFAULT
	}
	return 0
}

func (p *Process) readU32(addr uint32) (uint32, Errno) {
	p.reach(addr, 4)
	v, err := p.mem.LoadWord(addr)
	if err != nil {
		return 0, EFAULT
	}
	return v, 0
}

func (p *Process) writeU32(addr, v uint32) Errno {
	p.reach(addr, 4)
	if p.mem.StoreWord(addr, v) != nil {
		return EFAULT
	}
	return 0
}

// readString reads a NUL-terminated string of at most max bytes.
func (p *Process) readString(addr uint32, max int) (string, Errno) {
	var out []byte
	var chunk [64]byte
	for len(out) < max {
		// Stop each chunk at a page boundary so that a string ending just
		// before an unmapped page reads fine.
		n := min(len(chunk), int(0x1000-addr&0xfff))
		p.reach(addr, n)
		if p.mem.ReadBytes(addr, chunk[:n]) != nil {
			return "", EFAULT
		}
		for i, c := range chunk[:n] {
			if c == 0 {
				return string(append(out, chunk[:i]...)), 0
			}
		}
		out = append(out, chunk[:n]...)
		addr += uint32(n)
	}
	return "", ENAMETOOLONG
}

// readStringPrefix reads a string up to its NUL or its first max bytes,
// whichever comes first, as strncpy_from_user does.
func (p *Process) readStringPrefix(addr uint32, max int) (string, Errno) {
	var out []byte
	for range max {
		var c [1]byte
		p.reach(addr, 1)
		if p.mem.ReadBytes(addr, c[:]) != nil {
			return "", EFAULT
		}
		if c[0] == 0 {
			break
		}
		out = append(out, c[0])
		addr++
	}
	return string(out), 0
}

func (p *Process) readPath(addr uint32) (string, Errno) {
	s, e := p.readString(addr, maxPath)
	if e == 0 && s == "" {
		return "", ENOENT
	}
	return s, e
}

// be is a builder for big-endian guest structures.
type be []byte

func (b be) u16(off int, v uint16) { binary.BigEndian.PutUint16(b[off:], v) }
func (b be) u32(off int, v uint32) { binary.BigEndian.PutUint32(b[off:], v) }
func (b be) u64(off int, v uint64) { binary.BigEndian.PutUint64(b[off:], v) }

func getU16(b []byte, off int) uint16 { return binary.BigEndian.Uint16(b[off:]) }
func getU32(b []byte, off int) uint32 { return binary.BigEndian.Uint32(b[off:]) }
func getU64(b []byte, off int) uint64 { return binary.BigEndian.Uint64(b[off:]) }
