package linux

import "github.com/synodvm/synod/machine"

// Memory system calls. The address space itself is the map of pages; new
// mappings are placed top-down below the sigreturn page, first fit, as
// qemu-hppa places them, so a guest sees the same addresses.

const (
	protRead  = 0x1
	protWrite = 0x2
	protExec  = 0x4

	mapShared         = 0x01
	mapPrivate        = 0x02
	mapFixed          = 0x04
	mapAnonymous      = 0x10
	mapFixedNoreplace = 0x100000

	madvDontneed  = 4
	mremapMaymove = 1

	mmapTop = sigreturnPage // mappings go below this address
	// maxMapBytes bounds one mapping: pages are allocated when mapped.
	maxMapBytes = 1 << 30
)

func protOf(prot uint32) machine.Prot {
	var p machine.Prot
	if prot&protRead != 0 {
		p |= machine.ProtRead
	}
	if prot&protWrite != 0 {
		p |= machine.ProtWrite
	}
	if prot&protExec != 0 {
		p |= machine.ProtExec
	}
	return p
}

func pageAlign(n uint32) uint32 { return (n + machine.PageSize - 1) &^ (machine.PageSize - 1) }

// free reports whether no page of [addr, addr+n) is mapped.
func (p *Process) free(addr, n uint32) bool {
	if uint64(addr)+uint64(n) > mmapTop {
		return false
	}
	for a := addr; a < addr+n; a += machine.PageSize {
		if _, mapped := p.mem.Mapped(a); mapped {
			return false
		}
	}
	return true
}

// findFree returns the highest page-aligned address below mmapTop where n
// bytes fit, above the program break.
func (p *Process) findFree(n uint32) (uint32, bool) {
	floor := pageAlign(p.brk)
	if n > mmapTop-floor {
		return 0, false
	}
	end := uint32(mmapTop)
	for end >= floor && end-floor >= n {
		start := end - n
		// Find the highest mapped page in [start, end): the candidate
		// must end below it.
		blocked := false
		for a := end - machine.PageSize; ; a -= machine.PageSize {
			if _, mapped := p.mem.Mapped(a); mapped {
				end, blocked = a, true
				break
			}
			if a == start {
				break
			}
		}
		if !blocked {
			return start, true
		}
	}
	return 0, false
}

// mmap places a mapping; offset is in bytes.
func (p *Process) mmap(addr, length, prot, flags, fd uint32, offset int64) sysResult {
	if length == 0 || length > maxMapBytes || flags&(mapShared|mapPrivate) == 0 {
		return fail(EINVAL)
	}
	n := pageAlign(length)
	switch {
	case flags&(mapFixed|mapFixedNoreplace) != 0:
		if addr&(machine.PageSize-1) != 0 || uint64(addr)+uint64(n) > mmapTop || addr < machine.PageSize {
			return fail(EINVAL)
		}
		if flags&mapFixedNoreplace != 0 && !p.free(addr, n) {
			return fail(EEXIST)
		}
	case addr != 0 && addr&(machine.PageSize-1) == 0 && addr >= pageAlign(p.brk) && p.free(addr, n):
	default:
		a, found := p.findFree(n)
		if !found {
			return fail(ENOMEM)
		}
		addr = a
	}
	var data []byte
	if flags&mapAnonymous == 0 {
		f, e := p.files.get(int32(fd))
		if e != 0 {
			return fail(e)
		}
		if f.kind != fileEnv {
			return fail(ENODEV)
		}
		d, e := p.env.Pread(f.handle, int(length), offset)
		if e != 0 {
			return fail(e)
		}
		data = d
	}
	if err := p.mem.Map(addr, n, machine.ProtRead|machine.ProtWrite); err != nil {
		return fail(ENOMEM)
	}
	if len(data) > 0 && p.mem.WriteBytes(addr, data) != nil {
		return fail(EFAULT)
	}
	if err := p.mem.Protect(addr, n, protOf(prot)); err != nil {
		return fail(ENOMEM)
	}
	return ok(addr)
}

// mmap2(addr, length, prot, flags, fd, pgoffset): offset in 4096-byte units.
func sysMmap2(p *Process, t *thread, a sysArgs) sysResult {
	return p.mmap(a[0], a[1], a[2], a[3], a[4], int64(a[5])*machine.PageSize)
}

// mmap(addr, length, prot, flags, fd, offset): offset in bytes.
func sysMmap(p *Process, t *thread, a sysArgs) sysResult {
	if a[5]&(machine.PageSize-1) != 0 {
		return fail(EINVAL)
	}
	return p.mmap(a[0], a[1], a[2], a[3], a[4], int64(a[5]))
}

func checkRange(addr, length uint32) Errno {
	if addr&(machine.PageSize-1) != 0 || length == 0 || uint64(addr)+uint64(pageAlign(length)) > 1<<32 {
		return EINVAL
	}
	return 0
}

// munmap(addr, length)
func sysMunmap(p *Process, t *thread, a sysArgs) sysResult {
	if e := checkRange(a[0], a[1]); e != 0 {
		return fail(e)
	}
	if err := p.mem.Unmap(a[0], pageAlign(a[1])); err != nil {
		return fail(EINVAL)
	}
	return ok(0)
}

// mprotect(addr, length, prot)
func sysMprotect(p *Process, t *thread, a sysArgs) sysResult {
	if e := checkRange(a[0], a[1]); e != 0 {
		return fail(e)
	}
	if err := p.mem.Protect(a[0], pageAlign(a[1]), protOf(a[2])); err != nil {
		return fail(ENOMEM)
	}
	return ok(0)
}

// mlock(addr, length), munlock(addr, length): guest memory is never paged
// out, so locking only checks that the range is mapped.
func sysMlock(p *Process, t *thread, a sysArgs) sysResult {
	end := uint64(a[0]) + uint64(a[1])
	for addr := uint64(a[0] &^ (machine.PageSize - 1)); addr < end; addr += machine.PageSize {
		if _, mapped := p.mem.Mapped(uint32(addr)); !mapped {
			return fail(ENOMEM)
		}
	}
	return ok(0)
}

const (
	mlockOnfault = 1
	mclCurrent   = 1
	mclFuture    = 2
	mclOnfault   = 4
)

// mlock2(addr, length, flags)
func sysMlock2(p *Process, t *thread, a sysArgs) sysResult {
	if a[2]&^mlockOnfault != 0 {
		return fail(EINVAL)
	}
	return sysMlock(p, t, a)
}

// mlockall(flags)
func sysMlockall(p *Process, t *thread, a sysArgs) sysResult {
	if a[0] == 0 || a[0]&^(mclCurrent|mclFuture|mclOnfault) != 0 {
		return fail(EINVAL)
	}
	return ok(0)
}

// munlockall()
func sysMunlockall(p *Process, t *thread, a sysArgs) sysResult { return ok(0) }

// madvise(addr, length, advice): MADV_DONTNEED zeroes private pages, as on
// Linux; every other advice is a hint and is ignored.
func sysMadvise(p *Process, t *thread, a sysArgs) sysResult {
	if e := checkRange(a[0], a[1]); e != 0 {
		return fail(e)
	}
	if a[2] != madvDontneed {
		return ok(0)
	}
	end := a[0] + pageAlign(a[1])
	for addr := a[0]; addr != end; addr += machine.PageSize {
		if prot, mapped := p.mem.Mapped(addr); mapped {
			if err := p.mem.Map(addr, machine.PageSize, prot); err != nil {
				return fail(ENOMEM)
			}
		}
	}
	return ok(0)
}

// mremap(old, oldsize, newsize, flags, newaddr): shrink, grow in place, or
// move (MREMAP_MAYMOVE) by copying.
func sysMremap(p *Process, t *thread, a sysArgs) sysResult {
	old, oldSize, newSize, flags := a[0], pageAlign(a[1]), pageAlign(a[2]), a[3]
	if e := checkRange(old, a[1]); e != 0 || newSize == 0 || newSize > maxMapBytes || flags&^mremapMaymove != 0 {
		return fail(EINVAL)
	}
	prot, mapped := p.mem.Mapped(old)
	if !mapped {
		return fail(EFAULT)
	}
	switch {
	case newSize <= oldSize:
		if newSize < oldSize {
			_ = p.mem.Unmap(old+newSize, oldSize-newSize)
		}
		return ok(old)
	case p.free(old+oldSize, newSize-oldSize):
		if err := p.mem.Map(old+oldSize, newSize-oldSize, prot); err != nil {
			return fail(ENOMEM)
		}
		return ok(old)
	case flags&mremapMaymove == 0:
		return fail(ENOMEM)
	}
	data, e := p.readUser(old, int(oldSize))
	if e != 0 {
		return fail(e)
	}
	dst, found := p.findFree(newSize)
	if !found {
		return fail(ENOMEM)
	}
	if p.mem.Map(dst, newSize, machine.ProtRead|machine.ProtWrite) != nil || p.mem.WriteBytes(dst, data) != nil || p.mem.Protect(dst, newSize, prot) != nil {
		return fail(ENOMEM)
	}
	_ = p.mem.Unmap(old, oldSize)
	return ok(dst)
}

// brk(addr): moves the program break; a failed move returns the old one.
func sysBrk(p *Process, t *thread, a sysArgs) sysResult {
	want := a[0]
	if want < p.brkStart {
		return ok(p.brk)
	}
	oldEnd, newEnd := pageAlign(p.brk), pageAlign(want)
	switch {
	case newEnd > oldEnd:
		if !p.free(oldEnd, newEnd-oldEnd) || p.mem.Map(oldEnd, newEnd-oldEnd, machine.ProtRead|machine.ProtWrite) != nil {
			return ok(p.brk)
		}
	case newEnd < oldEnd:
		_ = p.mem.Unmap(newEnd, oldEnd-newEnd)
	}
	p.brk = want
	return ok(p.brk)
}
