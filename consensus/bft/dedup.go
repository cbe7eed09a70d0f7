package bft

import (
	"maps"
	"slices"

	"github.com/synodvm/synod/consensus"
)

// dedup records which requests have executed, per origin: every request
// number up to floor, and the ones above it in above. It is part of the
// replicated state (a checkpoint's digest covers it), because whether a
// request executes must not depend on which replica decides.
type dedup struct {
	origins map[consensus.NodeID]*originRecord
}

type originRecord struct {
	floor uint64
	above map[uint64]bool
}

func newDedup() *dedup { return &dedup{origins: map[consensus.NodeID]*originRecord{}} }

func (d *dedup) record(origin consensus.NodeID) *originRecord {
	r, ok := d.origins[origin]
	if !ok {
		r = &originRecord{above: map[uint64]bool{}}
		d.origins[origin] = r
	}
	return r
}

func (d *dedup) done(k requestKey) bool {
	r, ok := d.origins[k.origin]
	return ok && (k.seq <= r.floor || r.above[k.seq])
}

// floor is the request number up to which every request of origin has
// executed.
func (d *dedup) floor(origin consensus.NodeID) uint64 {
	if r, ok := d.origins[origin]; ok {
		return r.floor
	}
	return 0
}

// highest is the highest request number of origin that executed.
func (d *dedup) highest(origin consensus.NodeID) uint64 {
	r, ok := d.origins[origin]
	if !ok {
		return 0
	}
	h := r.floor
	for s := range r.above {
		h = max(h, s)
	}
	return h
}

func (d *dedup) add(k requestKey) {
	r := d.record(k.origin)
	r.above[k.seq] = true
	for r.above[r.floor+1] {
		delete(r.above, r.floor+1)
		r.floor++
	}
}

// encode is the table's canonical form, for digests and state transfer.
func (d *dedup) encode() []byte {
	var w writer
	origins := slices.Sorted(maps.Keys(d.origins))
	w.u32(uint32(len(origins)))
	for _, o := range origins {
		r := d.origins[o]
		w.u64(uint64(o))
		w.u64(r.floor)
		above := slices.Sorted(maps.Keys(r.above))
		w.u32(uint32(len(above)))
		for _, s := range above {
			w.u64(s)
		}
	}
	return w.b
}

// decodeDedup reads what encode wrote; at most members origins with at
// most maxAbove numbers each.
func decodeDedup(b []byte, members, maxAbove int) (*dedup, error) {
	d := newDedup()
	r := reader{b: b}
	for range r.count(members, "origins") {
		rec := d.record(consensus.NodeID(r.u64("origin")))
		rec.floor = r.u64("floor")
		for range r.count(maxAbove, "executed requests") {
			rec.above[r.u64("request")] = true
		}
	}
	return d, r.end("executed requests")
}
