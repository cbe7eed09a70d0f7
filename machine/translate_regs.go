//go:build linux && amd64

package machine

import "github.com/synodvm/synod/machine/jit"

// The register cache keeps guest general registers in host registers
// along a block's code, so that an instruction reading what the one
// before it wrote takes it from a register instead of waiting for the
// store to reach memory and come back (a store-to-load round trip of
// about 5 cycles on every dependency). It writes through: every guest
// register write still goes to the state memory too, so exits, faults
// and the interpreter find the state complete without a write-back, and
// a block's entry starts with nothing cached.
//
// Only loadGR and storeGR write the holders, so what they hold is known
// at every point of the code. Where two paths of code meet (after an
// instruction skipped when nullified), only what both paths left
// unchanged stays cached.

// cacheHolders are the host registers that hold cached guest registers.
// Nothing else in a block's code writes them: RBX and R11 are used only
// by the shared stubs and the exits, and Enter's callee may clobber R14
// and R15, which the entry stub saves and leave restores anyway.
var cacheHolders = [...]jit.Reg{jit.RBX, jit.R11, jit.R14, jit.R15}

// holder is what one host register of the cache holds.
type holder struct {
	guest   uint8  // the guest register, when valid
	valid   bool   // whether it holds one
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
// it, or a free one, or the least recently used.
func (c *regCache) claim(r uint8) int {
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
	c.holders[victim].valid, c.holders[victim].guest = true, r
	return victim
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
// point, agrees with: holders neither path wrote since they parted.
func (c *regCache) meet(other regCache) {
	for i, h := range c.holders {
		if o := other.holders[i]; !o.valid || o.guest != h.guest || o.written != h.written {
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
		b.a.Load32(reg, gr(r))
		i = b.regs.claim(r)
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

// storeGR sets GR[r] to reg (writes to GR[0] vanish), in the state memory
// and in its holder. When the instruction is guarded (see guardedOp), the
// old value stays if rNull is set.
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
	b.a.Store32(gr(r), reg)
	i := b.regs.claim(r)
	b.regs.touch(i, true)
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
