//go:build linux && amd64

package machine

import "github.com/synodvm/synod/machine/jit"

// access emits a load or store, the i-th instruction, through the
// interpreter's access caches (memaccess.go): on a miss it exits before
// the instruction, having changed nothing, and the interpreter executes
// it. The store cache holds no page with decoded code, so no store from
// generated code reaches a translated page.
func (b *blockBuilder) access(in *inst, i int, back nextSpec) {
	a := b.a
	size, store := accessOf(in.op)
	b.address(in)
	fixed := in.aux == modNone && in.fl&flIndexed == 0 || isDisp(in.op) // the address is GR[r1]+imm
	if p := b.page; fixed && p.valid && p.store == store && p.base == in.r1&31 {
		// The page the earlier access found, if the address is in it
		// and aligned; else the lookup, out of line.
		lookup, found := a.NewLabel(), a.NewLabel()
		base := b.sourceGR(jit.R8, in.r1)
		miss := b.exit(i, back, nullClear, exitStep) // after sourceGR, which may change the holders
		a.Lea32(jit.R8, jit.At(base, p.disp))
		a.ALUImm32(jit.AND, jit.R8, ^uint32(pageMask)) // the page's address
		a.ALU32(jit.XOR, jit.R8, jit.RAX)              // zero but for the offset in it
		a.TestImm32(jit.R8, ^(pageMask &^ (size - 1)))
		a.Jcc(jit.CondNE, lookup)
		a.Load64(jit.RDX, jit.At(rState, stReusePage))
		a.Bind(found)
		b.outOfLine = append(b.outOfLine, func() {
			a.Bind(lookup)
			b.lookupPage(size, store, miss)
			a.Jmp(found)
		})
	} else {
		b.lookupPage(size, store, b.exit(i, back, nullClear, exitStep))
		if fixed {
			a.Store64(jit.At(rState, stReusePage), jit.RDX)
			b.page = reusablePage{valid: true, store: store, base: in.r1 & 31, disp: int32(in.imm)}
		}
	}
	a.ALUImm32(jit.AND, jit.RAX, pageMask)
	at := jit.Indexed(jit.RDX, jit.RAX, 1, 0)
	if store {
		b.storeValue(in, at)
	} else {
		b.loadValue(in, at)
	}
	if in.aux != modNone && !isDisp(in.op) {
		b.storeGR(in.r1, jit.R10)
	}
	switch in.op {
	case opFldw:
		a.Store32(frWord(in.t), jit.R8)
	case opFldd:
		a.Store64(fr(in.t), jit.R8)
	default:
		if !store {
			b.storeGR(in.t, jit.R8) // the loaded value wins over the base update
		}
	}
}

// reusablePage is what translation knows, at a point of a block's code,
// of the page an earlier load or store found in the access caches (its
// data's address is in the state at stReusePage): the address it was
// found for was base+disp, and the guest register base is unchanged
// since. A later access through base in the same page, of the same kind,
// takes the page from there instead of looking it up again: the caches
// do not change while generated code runs.
type reusablePage struct {
	valid bool
	store bool  // found in the store cache, else in the load cache
	base  uint8 // the guest base register
	disp  int32
}

// lookupPage sets RDX to the data of the page of the address in EAX from
// the access cache of a load or a store of size bytes, or jumps to miss
// when the cache does not have it or the address is not aligned.
func (b *blockBuilder) lookupPage(size uint32, store bool, miss jit.Label) {
	a := b.a
	cache := int32(stLoads)
	if store {
		cache = stStores
	}
	b.cacheEntryOffset()
	a.Load64(jit.RDX, jit.At(rState, cache))
	// One comparison checks the page and the alignment (see lookup).
	a.Mov32(jit.R8, jit.RAX)
	a.ALUImm32(jit.AND, jit.R8, ^(pageMask &^ (size - 1)))
	a.CmpMem32(jit.Indexed(jit.RDX, jit.RCX, 1, 0), jit.R8)
	a.Jcc(jit.CondNE, miss)
	a.Load64(jit.RDX, jit.Indexed(jit.RDX, jit.RCX, 1, cachedPageData))
}

// cacheEntryOffset sets ECX to the offset of the access cache entry of
// the address in EAX (accessCache.slot): the index times the entry's size
// is the address shifted down that much less, and the mask keeps only
// the index's bits, so a rotation (which needs no copy first) does as
// well as a shift.
func (b *blockBuilder) cacheEntryOffset() {
	a := b.a
	const low, high = PageShift - cachedPageShift, PageShift + accessCacheFold - cachedPageShift
	if jit.HasBMI2 {
		a.Rorx32(jit.RCX, jit.RAX, low)
		a.Rorx32(jit.RDX, jit.RAX, high)
	} else {
		a.Mov32(jit.RCX, jit.RAX)
		a.ShiftImm32(jit.SHR, jit.RCX, low)
		a.Mov32(jit.RDX, jit.RAX)
		a.ShiftImm32(jit.SHR, jit.RDX, high)
	}
	a.ALU32(jit.XOR, jit.RCX, jit.RDX)
	a.ALUImm32(jit.AND, jit.RCX, (accessCacheSize-1)<<cachedPageShift)
}

// loadValue loads the big-endian value at at into R8.
func (b *blockBuilder) loadValue(in *inst, at jit.Mem) {
	a := b.a
	switch size, _ := accessOf(in.op); size {
	case 1:
		a.Load8(jit.R8, at)
	case 2:
		a.Load16(jit.R8, at)
		a.Bswap32(jit.R8)
		a.ShiftImm32(jit.SHR, jit.R8, 16)
	case 4:
		a.Load32(jit.R8, at)
		a.Bswap32(jit.R8)
	default:
		a.Load64(jit.R8, at)
		a.Bswap64(jit.R8)
	}
}

// storeValue stores the value a store instruction writes at at, big-endian.
func (b *blockBuilder) storeValue(in *inst, at jit.Mem) {
	a := b.a
	switch in.op {
	case opFstw:
		a.Load32(jit.R9, frWord(in.t))
	case opFstd:
		a.Load64(jit.R9, fr(in.t))
	default:
		b.loadGR(jit.R9, in.t)
	}
	switch size, _ := accessOf(in.op); size {
	case 1:
		a.Store8(at, jit.R9)
	case 2:
		a.Bswap32(jit.R9)
		a.ShiftImm32(jit.SHR, jit.R9, 16)
		a.Store16(at, jit.R9)
	case 4:
		a.Bswap32(jit.R9)
		a.Store32(at, jit.R9)
	default:
		a.Bswap64(jit.R9)
		a.Store64(at, jit.R9)
	}
}

// accessOf returns the size of a translated load or store and whether it
// is a store.
func accessOf(op opcode) (size uint32, store bool) {
	switch op {
	case opLdbDisp, opLdb:
		return 1, false
	case opLdhDisp, opLdh:
		return 2, false
	case opLdwDisp, opLdw:
		return 4, false
	case opStbDisp, opStb:
		return 1, true
	case opSthDisp, opSth:
		return 2, true
	case opFldw:
		return 4, false
	case opFldd:
		return 8, false
	case opFstd:
		return 8, true
	}
	return 4, true // stw and fstw
}

func isDisp(op opcode) bool {
	switch op {
	case opLdbDisp, opLdhDisp, opLdwDisp, opStbDisp, opSthDisp, opStwDisp:
		return true
	}
	return false
}

// address sets EAX to the effective address of a load or store and, for
// the forms that modify the base, R10 to the base's new value (see
// CPU.address).
func (b *blockBuilder) address(in *inst) {
	a := b.a
	if isDisp(in.op) {
		base := b.sourceGR(jit.RAX, in.r1)
		switch {
		case in.imm != 0:
			a.Lea32(jit.RAX, jit.At(base, int32(in.imm)))
		case base != jit.RAX:
			a.Mov32(jit.RAX, base)
		}
		return
	}
	b.loadGR(jit.RAX, in.r1)
	if in.fl&flIndexed != 0 {
		b.loadGR(jit.RCX, in.r2)
		if in.pos&31 != 0 {
			a.ShiftImm32(jit.SHL, jit.RCX, in.pos&31)
		}
	} else {
		a.MovImm32(jit.RCX, in.imm)
	}
	switch in.aux {
	case modPost:
		a.Mov32(jit.R10, jit.RAX)
		a.ALU32(jit.ADD, jit.R10, jit.RCX)
	case modPre:
		a.ALU32(jit.ADD, jit.RAX, jit.RCX)
		a.Mov32(jit.R10, jit.RAX)
	default:
		a.ALU32(jit.ADD, jit.RAX, jit.RCX)
	}
}
