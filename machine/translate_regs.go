//go:build linux && amd64

package machine

import "github.com/synodvm/synod/machine/jit"

// The register cache keeps guest general registers in host registers
// along a block's code, so that an instruction reading what the one
// before it wrote takes it from a register instead of waiting for the
// store to reach memory and come back (a store-to-load round trip of
// about 5 cycles on every dependency). It writes back lazily: a guest
// register write goes to its holder only, marked dirty, and reaches the
// state memory when the holder is taken for another register, before a
// path that a run-time nullify bit may skip and where the paths meet
// again, and on every way out of the block (each exit stores what is
// dirty where it is taken, and leave before it continues), so that
// exits, faults and the interpreter still find the state complete. A
// block's entry starts with nothing cached.
//
// Only loadGR, storeGR and writeBack write the holders, so what they hold
// is known at every point of the code. Where two paths of code meet
// (after an instruction skipped when nullified), only what both paths
// left unchanged stays cached.

// cacheHolders are the host registers that hold cached guest registers.
// Nothing else in a block's code writes them: RBX and R11 are used only
// by the shared stubs and the exits, and Enter's callee may clobber R14
// and R15, which the entry stub saves and leave restores anyway.
var cacheHolders = [...]jit.Reg{jit.RBX, jit.R11, jit.R14, jit.R15}

// holder is what one host register of the cache holds.
type holder struct {
	guest   uint8  // the guest register, when valid
	valid   bool   // whether it holds one
	dirty   bool   // whether the state memory lacks its value
	written uint32 // when the host register was last written
	used    uint32 // when it was last read or written, for eviction
}

type regCache struct {
	holders [len(cacheHolders)]holder
	clock   uint32
}

// find returns the index of the holder of guest register r, or -1.
func (c *regCache) find(r uint8) int {
	for i, h := range c.holders {
		if h.valid && h.guest == r {
			return i
		}
	}
	return -1
}

// claim returns the holder to put guest register r in: the one that has
// it, or a free one, or the least recently used, whose dirty value it
// first writes back.
func (b *blockBuilder) claim(r uint8) int {
	c := &b.regs
	if i := c.find(r); i >= 0 {
		return i
	}
	victim := 0
	for i, h := range c.holders {
		if !h.valid {
			victim = i
			break
		}
		if h.used < c.holders[victim].used {
			victim = i
		}
	}
	b.writeBackHolder(victim)
	c.holders[victim] = holder{valid: true, guest: r}
	return victim
}

// writeBackHolder stores holder i's value in the state memory if it is
// dirty.
func (b *blockBuilder) writeBackHolder(i int) {
	if h := &b.regs.holders[i]; h.valid && h.dirty {
		b.a.Store32(gr(h.guest), cacheHolders[i])
		h.dirty = false
	}
}

// writeBack stores every dirty holder's value in the state memory.
func (b *blockBuilder) writeBack() {
	for i := range b.regs.holders {
		b.writeBackHolder(i)
	}
}

// pendingWrite is a guest register whose value only a host register has.
type pendingWrite struct {
	guest uint8
	host  jit.Reg
}

// pendingWrites lists what the dirty holders hold, for an exit to write
// back.
func (c *regCache) pendingWrites() []pendingWrite {
	var pending []pendingWrite
	for i, h := range c.holders {
		if h.valid && h.dirty {
			pending = append(pending, pendingWrite{guest: h.guest, host: cacheHolders[i]})
		}
	}
	return pending
}

// touch marks holder i used now, and written when write is set. The
// clock makes every write's time unique, so that meet can tell them apart.
func (c *regCache) touch(i int, write bool) {
	c.clock++
	c.holders[i].used = c.clock
	if write {
		c.holders[i].written = c.clock
	}
}

// meet keeps what other, the cache at the end of another path to the same
// point, agrees with: holders neither path wrote since they parted. Both
// paths have written everything back (see instruction).
func (c *regCache) meet(other regCache) {
	for i, h := range c.holders {
		if o := other.holders[i]; !o.valid || o.guest != h.guest || o.written != h.written || o.dirty || h.dirty {
			c.holders[i].valid = false
		}
	}
	c.clock = max(c.clock, other.clock)
}

// loadGR loads GR[r] into reg (GR[0] reads as zero), from its holder when
// it is cached; else from the state memory, caching it.
func (b *blockBuilder) loadGR(reg jit.Reg, r uint8) {
	r &= 31
	switch i := b.regs.find(r); {
	case r == 0:
		b.a.MovImm32(reg, 0)
	case i >= 0:
		b.regs.touch(i, false)
		b.a.Mov32(reg, cacheHolders[i])
	default:
		i = b.claim(r)
		b.a.Load32(reg, gr(r))
		b.regs.touch(i, true)
		b.a.Mov32(cacheHolders[i], reg)
	}
}

// sourceGR returns a register holding GR[r] for an instruction that only
// reads it, right away: its holder when it is cached, else scratch,
// loaded.
func (b *blockBuilder) sourceGR(scratch jit.Reg, r uint8) jit.Reg {
	if i := b.regs.find(r & 31); i >= 0 && r&31 != 0 {
		b.regs.touch(i, false)
		return cacheHolders[i]
	}
	b.loadGR(scratch, r)
	return scratch
}

// storeGR sets GR[r] to reg (writes to GR[0] vanish) in its holder,
// dirty. When the instruction is guarded (see guardedOp), the old value
// stays if rNull is set.
func (b *blockBuilder) storeGR(r uint8, reg jit.Reg) {
	r &= 31
	if r == 0 {
		return
	}
	if b.guarded {
		b.loadGR(jit.R9, r)
		b.a.Test32(rNull, rNull)
		b.a.Cmov32(jit.CondNE, reg, jit.R9)
	}
	if b.page.valid && b.page.base == r {
		b.page = reusablePage{}
	}
	i := b.claim(r)
	b.regs.touch(i, true)
	b.regs.holders[i].dirty = true
	b.a.Mov32(cacheHolders[i], reg)
}

// storeGRImm sets GR[r] to v.
func (b *blockBuilder) storeGRImm(r uint8, v uint32) {
	if r&31 == 0 {
		return
	}
	b.a.MovImm32(jit.RAX, v)
	b.storeGR(r, jit.RAX)
}
