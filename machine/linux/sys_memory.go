package linux

import (
	"cmp"
	"slices"

	"github.com/synodvm/synod/machine"
)

// Memory system calls. The address space itself is the map of pages; new
// mappings are placed top-down below the sigreturn page, first fit, as
// qemu-hppa places them, so a guest sees the same addresses. A file mapping
// is a copy of the file's pages; shared.go writes a shared one back.

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

	msSync       = 1 // hppa numbers these differently from other ports
	msAsync      = 2
	msInvalidate = 4

	mmapTop = sigreturnPage // mappings go below this address
	// maxMapBytes bounds one mapping: every page costs a record when
	// mapped, its contents once written.
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

// mayMap reports whether n more bytes of mappings stay within the memory
// limit.
func (p *Process) mayMap(n uint64) bool {
	return p.cfg.MemoryLimit == 0 || p.mem.MappedBytes()+n <= p.cfg.MemoryLimit
}

// mappedIn is how many bytes of [addr, addr+n) are mapped: what a mapping
// replacing them does not add.
func (p *Process) mappedIn(addr, n uint32) uint64 {
	var mapped uint64
	for a := uint64(addr); a < uint64(addr)+uint64(n); a += machine.PageSize {
		if _, ok := p.mem.Mapped(uint32(a)); ok {
			mapped += machine.PageSize
		}
	}
	return mapped
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
	grow := uint64(n)
	if flags&mapFixed != 0 {
		grow -= p.mappedIn(addr, n)
	}
	if !p.mayMap(grow) {
		return fail(ENOMEM)
	}
	var file *openFile
	var data []byte
	if flags&mapAnonymous == 0 {
		f, e := p.files.get(int32(fd))
		if e != 0 {
			return fail(e)
		}
		if f.kind != fileEnv {
			return fail(ENODEV)
		}
		if !f.readable() || flags&mapShared != 0 && prot&protWrite != 0 && !f.writable() {
			return fail(EACCES)
		}
		// Whole pages: the bytes of the file past length up to the end
		// of the last page are mapped too.
		if data, e = p.readFileAt(f.handle, int(n), offset); e != 0 {
			return fail(e)
		}
		file = f
	}
	p.dropShared(addr, n)
	if err := p.mapPages(addr, n, protOf(prot), data); err != nil {
		return fail(ENOMEM)
	}
	if flags&mapShared != 0 {
		m := &sharedMapping{addr: addr, length: n}
		if file != nil {
			m.file, m.offset, m.synced = file, offset, pageSums(data, n)
		}
		p.addShared(m)
	}
	return ok(addr)
}

// mapPages maps n bytes at addr, replacing what was there, with rights
// prot; they hold data, then zeros.
func (p *Process) mapPages(addr, n uint32, prot machine.Prot, data []byte) error {
	if err := p.mem.Map(addr, n, machine.ProtRead|machine.ProtWrite); err != nil {
		return err
	}
	if err := p.mem.WriteBytes(addr, data); err != nil {
		return err
	}
	return p.mem.Protect(addr, n, prot)
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
	p.dropShared(a[0], pageAlign(a[1]))
	if err := p.mem.Unmap(a[0], pageAlign(a[1])); err != nil {
		return fail(EINVAL)
	}
	return ok(0)
}

// msync(addr, length, flags): the shared file mappings in the range are
// written back whatever the flags. MS_ASYNC asks for no more than that the
// file sees the writes, which on Linux it always does. The errors are
// Linux's; qemu-hppa 7.2 differs on two of them: it passes the flags to
// the host untranslated (hppa numbers them differently) and answers 0 for
// a hole, which in its reserved address space is still host memory.
func sysMsync(p *Process, t *thread, a sysArgs) sysResult {
	addr, flags := a[0], a[2]
	if addr&(machine.PageSize-1) != 0 || flags&^(msSync|msAsync|msInvalidate) != 0 || flags&(msSync|msAsync) == msSync|msAsync {
		return fail(EINVAL)
	}
	n := (uint64(a[1]) + machine.PageSize - 1) &^ (machine.PageSize - 1)
	if uint64(addr)+n > 1<<32 {
		return fail(ENOMEM)
	}
	if n == 0 {
		return ok(0)
	}
	if e := p.syncShared(addr, uint32(n)); e != 0 {
		return fail(e)
	}
	for page := uint64(addr); page < uint64(addr)+n; page += machine.PageSize {
		if _, mapped := p.mem.Mapped(uint32(page)); !mapped {
			return fail(ENOMEM)
		}
	}
	return ok(0)
}

// mprotect(addr, length, prot)
func sysMprotect(p *Process, t *thread, a sysArgs) sysResult {
	if e := checkRange(a[0], a[1]); e != 0 {
		return fail(e)
	}
	if a[2]&protWrite != 0 && p.sharesReadOnlyFile(a[0], pageAlign(a[1])) {
		return fail(EACCES)
	}
	if err := p.mem.Protect(a[0], pageAlign(a[1]), protOf(a[2])); err != nil {
		return fail(ENOMEM)
	}
	return ok(0)
}

// sharesReadOnlyFile reports whether part of [addr, addr+n) is a shared
// mapping of a file not open for writing, which must not become writable.
func (p *Process) sharesReadOnlyFile(addr, n uint32) bool {
	return slices.ContainsFunc(p.shared, func(m *sharedMapping) bool {
		return m.file != nil && !m.file.writable() && uint64(m.addr) < uint64(addr)+uint64(n) && m.end() > uint64(addr)
	})
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
// Linux; shared ones keep their contents, which live on in the file or the
// shared memory object. Every other advice is a hint and is ignored.
func sysMadvise(p *Process, t *thread, a sysArgs) sysResult {
	if e := checkRange(a[0], a[1]); e != 0 {
		return fail(e)
	}
	if a[2] != madvDontneed {
		return ok(0)
	}
	end := a[0] + pageAlign(a[1])
	for addr := a[0]; addr != end; addr += machine.PageSize {
		if prot, mapped := p.mem.Mapped(addr); mapped && p.sharedAt(addr) == nil {
			if err := p.mem.Map(addr, machine.PageSize, prot); err != nil {
				return fail(ENOMEM)
			}
		}
	}
	return ok(0)
}

// mremap(old, oldsize, newsize, flags, newaddr): shrink, grow in place, or
// move (MREMAP_MAYMOVE) by copying. A shared mapping is remapped whole (a
// range mixing it with other memory is EFAULT, as a range spanning several
// mappings is on Linux); it grows with the file's next pages.
func sysMremap(p *Process, t *thread, a sysArgs) sysResult {
	old, oldSize, newSize, flags := a[0], pageAlign(a[1]), pageAlign(a[2]), a[3]
	if e := checkRange(old, a[1]); e != 0 || newSize == 0 || newSize > maxMapBytes || flags&^mremapMaymove != 0 {
		return fail(EINVAL)
	}
	prot, mapped := p.mem.Mapped(old)
	if !mapped {
		return fail(EFAULT)
	}
	var shared *sharedMapping
	switch first, end := p.sharedRange(old, oldSize); {
	case end-first == 1 && p.shared[first].addr == old && p.shared[first].length == oldSize:
		shared = p.shared[first]
	case end != first:
		return fail(EFAULT)
	}
	if newSize <= oldSize {
		if newSize < oldSize {
			p.dropShared(old+newSize, oldSize-newSize)
			_ = p.mem.Unmap(old+newSize, oldSize-newSize)
		}
		return ok(old)
	}
	if !p.free(old+oldSize, newSize-oldSize) && flags&mremapMaymove == 0 || !p.mayMap(uint64(newSize-oldSize)) {
		return fail(ENOMEM)
	}
	var grown []byte // what the new pages hold: the file's next bytes, or zeros
	if shared != nil && shared.file != nil {
		var e Errno
		if grown, e = p.readFileAt(shared.file.handle, int(newSize-oldSize), shared.offset+int64(oldSize)); e != 0 {
			return fail(e)
		}
	}
	dst := old
	if p.free(old+oldSize, newSize-oldSize) {
		if p.mapPages(old+oldSize, newSize-oldSize, prot, grown) != nil {
			return fail(ENOMEM)
		}
	} else {
		data, e := p.readUser(old, int(oldSize))
		if e != 0 {
			return fail(e)
		}
		var found bool
		if dst, found = p.findFree(newSize); !found {
			return fail(ENOMEM)
		}
		if p.mapPages(dst, newSize, prot, append(data, grown...)) != nil {
			return fail(ENOMEM)
		}
		_ = p.mem.Unmap(old, oldSize)
	}
	if shared != nil {
		shared.addr, shared.length = dst, newSize
		if shared.file != nil {
			shared.synced = append(shared.synced, pageSums(grown, newSize-oldSize)...)
		}
		slices.SortFunc(p.shared, func(a, b *sharedMapping) int { return cmp.Compare(a.addr, b.addr) })
	}
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
		if !p.free(oldEnd, newEnd-oldEnd) || !p.mayMap(uint64(newEnd-oldEnd)) ||
			p.mem.Map(oldEnd, newEnd-oldEnd, machine.ProtRead|machine.ProtWrite) != nil {
			return ok(p.brk)
		}
	case newEnd < oldEnd:
		_ = p.mem.Unmap(newEnd, oldEnd-newEnd)
	}
	p.brk = want
	return ok(p.brk)
}
