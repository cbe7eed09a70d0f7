//go:build linux && amd64

package machine

import "slices"

// Chaining: where a block continues at a front and nullify bit known at
// translation, its code jumps straight to that block's code once the block
// exists, instead of through the dispatch stub and its indirect jump. The
// jump starts out going to the instruction after it, the way through
// dispatch; linking patches it (in the arena's writable view), and
// dropping the target block patches it back.

// chainSite is a patchable jump of a block being translated.
type chainSite struct {
	offset int    // of the jump's rel32 field in the block's code
	target uint64 // the key of the block it continues at
}

// chainLink is a patchable jump in translated code.
type chainLink struct {
	site uintptr // the jump's rel32 field
	from uint64  // the key of the block it is in
}

// link registers the jumps of block key, just placed at at, points those
// whose target is translated at it, and points the jumps waiting for key
// at the new block.
func (t *translator) link(key uint64, at uintptr, sites []chainSite) {
	for _, s := range sites {
		l := chainLink{site: at + uintptr(s.offset), from: key}
		t.links[s.target] = append(t.links[s.target], l)
		t.outgoing[key] = append(t.outgoing[key], s.target)
		if dest, ok := t.blocks[s.target]; ok {
			t.arena.PatchJump(l.site, dest)
		}
	}
	for _, l := range t.links[key] {
		t.arena.PatchJump(l.site, at)
	}
}

// unlink points the jumps to block key back through dispatch, and forgets
// the jumps in it.
func (t *translator) unlink(key uint64) {
	for _, l := range t.links[key] {
		t.arena.PatchJump(l.site, l.site+4)
	}
	for _, target := range t.outgoing[key] {
		t.links[target] = slices.DeleteFunc(t.links[target], func(l chainLink) bool { return l.from == key })
		if len(t.links[target]) == 0 {
			delete(t.links, target)
		}
	}
	delete(t.outgoing, key)
}
