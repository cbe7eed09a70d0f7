package replica

import (
	"github.com/synodvm/synod/consensus/entry"
)

// Given is a decoded log entry as the replica is given it: Batch is
// consensus.Entry.Batch, and E is nil for an entry that carries nothing
// (it did not decode, or held nothing its proposer may say).
type Given struct {
	Index uint64
	Batch uint64
	E     entry.Entry
}

// CommitEntries gives the replica the entries of one Apply in log order,
// as CommitEntry does one by one, except that the client input batches
// of one agreed batch (Given.Batch, the same on every replica) are
// delivered as one Inputs batch, under the index of the last of them.
// Every Inputs batch seals itself and so is an epoch of its own: a wake
// of the guest, its poll over every connection, a delivery. Under 64
// clients a Byzantine batch held three or four members' requests, each
// an Inputs batch of its own, where one epoch delivers them all. The
// joined batch keeps every input in order, which is all the replica's
// exactly-once rules look at, stays within MaxInputs inputs and
// MaxInputsData bytes (a snapshot holds it encoded), and has the latest
// time of the batches it joins.
func (r *Replica) CommitEntries(given []Given) {
	var held heldInputs
	for _, g := range given {
		in, isInputs := g.E.(entry.Inputs)
		data := inputsData(in)
		if held.on && held.batch == g.Batch && isInputs && held.fits(in, data) {
			held.join(g.Index, in, data)
			continue
		}
		if held.on {
			r.CommitEntry(held.index, held.inputs)
			held = heldInputs{}
		}
		if isInputs && g.Batch != 0 {
			held = heldInputs{on: true, batch: g.Batch, index: g.Index, inputs: in, data: data}
			continue
		}
		r.CommitEntry(g.Index, g.E)
	}
	if held.on {
		r.CommitEntry(held.index, held.inputs)
	}
}

// heldInputs is the Inputs batch CommitEntries is joining, not yet given.
type heldInputs struct {
	on     bool
	batch  uint64
	index  uint64
	inputs entry.Inputs
	data   int // client bytes in inputs
	// owned is set once inputs.Entries is a slice of the joiner's own,
	// which it may append to; until then it is the decoded entry's.
	owned bool
}

// fits reports whether in, with data client bytes, may join the held
// batch.
func (h *heldInputs) fits(in entry.Inputs, data int) bool {
	return len(h.inputs.Entries)+len(in.Entries) <= entry.MaxInputs && h.data+data <= entry.MaxInputsData
}

func (h *heldInputs) join(index uint64, in entry.Inputs, data int) {
	if !h.owned {
		h.inputs.Entries = append(make([]entry.Entry, 0, 2*(len(h.inputs.Entries)+len(in.Entries))), h.inputs.Entries...)
		h.owned = true
	}
	h.inputs.Entries = append(h.inputs.Entries, in.Entries...)
	h.inputs.Time = max(h.inputs.Time, in.Time)
	h.data += data
	h.index = index
}

// inputsData is the client bytes an Inputs batch carries, which the codec
// bounds by MaxInputsData.
func inputsData(in entry.Inputs) int {
	n := 0
	for _, e := range in.Entries {
		n += entry.InputData(e)
	}
	return n
}
