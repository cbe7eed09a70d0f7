package replica

import (
	"cmp"
	"crypto/sha256"
	"slices"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/outputs"
)

// randomDeadline is how much guest time a Byzantine draw's contributors
// have for each step (commit, then reveal) before the ones that have not
// taken it are passed over and the draw starts again without them. Guest
// time, because every replica must pass over the same members at the same
// point; it follows the members' clocks (they order no request whose time
// is far from their own). Far above a correct member's two consensus
// rounds, so that only a member that withholds is passed over.
const randomDeadline = 5_000_000_000

// The guest's random pool is refilled in batches the members propose
// (entry.Random), asked for by a Refill output when the pool runs low.
//
// In a crash-fault cluster every node is trusted: one live node, chosen
// round-robin, proposes each batch. In a Byzantine cluster
// (Boot.RandomContributors > 1) no single member may choose the guest's
// random bytes, so f+1 contributors, at least one of them correct, each
// draw a batch and the pool gets their XOR. A plain XOR would not do:
// the members see each other's proposals before they are ordered, so the
// last to propose could pick its batch to make the XOR whatever it likes.
// So a round has two steps: every contributor first orders the SHA-256 of
// its batch (entry.RandomCommit), and only when every commitment is
// ordered are the contributors asked to reveal their batches, which count
// only if they match. A contributor that withholds its commitment or its
// batch for randomDeadline is passed over, and a new round is drawn
// without it; a member passed over contributes again only once fewer than
// the contributors needed remain. One that withholds its batch after
// seeing the others' can thus reject one outcome, once, but never choose
// one.

// randomDraw is a Byzantine cluster's round of drawing one random batch.
type randomDraw struct {
	Round uint64
	// Started is the guest realtime of the first entry delivered after
	// the current step began (zero until then): the step's deadline
	// counts from it.
	Started int64
	// Revealing is false while contributors commit, true once every
	// commitment is ordered.
	Revealing    bool
	Contributors []contribution // in node id order
}

// contribution is one contributor's part of a draw.
type contribution struct {
	Node      consensus.NodeID
	Committed bool
	Hash      [32]byte
	Revealed  bool
	Batch     []byte
}

// refill asks for a random batch, unless one is being drawn already.
func (w *world) refill() {
	if w.randomContributors > 1 {
		w.startDraw()
		return
	}
	l := w.live()
	if len(l) == 0 || w.refillNode != 0 {
		return
	}
	w.refillNode = l[w.refillCount%uint64(len(l))]
	w.refillCount++
	w.emit(w.refillNode, outputs.Refill{Bytes: randomBatch})
}

// deliverRandom applies a delivered random batch.
func (w *world) deliverRandom(e entry.Random) {
	if w.randomContributors > 1 {
		w.reveal(e)
		return
	}
	// Only the batch the outstanding refill asked for fills the pool: a
	// repeat, or a batch no refill asked for, would let its proposer
	// choose random bytes the guest reads.
	if e.Node != w.refillNode || w.refillNode == 0 {
		return
	}
	w.refillNode = 0
	w.fillPool(e.Data)
}

func (w *world) fillPool(batch []byte) {
	w.counts.randomBatches++
	if len(w.pool)+len(batch) <= maxRandomPool {
		w.pool = append(w.pool, batch...)
	}
	if len(w.pool) < randomLowWater {
		w.refill()
	}
}

// startDraw starts a round with the next contributors in turn among the
// live members not passed over.
func (w *world) startDraw() {
	if w.draw != nil {
		return
	}
	live := w.live()
	eligible := slices.DeleteFunc(slices.Clone(live), func(n consensus.NodeID) bool { return w.passedOver[n] })
	need := min(int(w.randomContributors), len(live))
	if len(eligible) < need {
		clear(w.passedOver)
		eligible = live
	}
	if need == 0 {
		return
	}
	w.refillCount++
	d := &randomDraw{Round: w.refillCount}
	for i := range need {
		n := eligible[(w.refillCount+uint64(i))%uint64(len(eligible))]
		d.Contributors = append(d.Contributors, contribution{Node: n})
	}
	slices.SortFunc(d.Contributors, func(a, b contribution) int { return cmp.Compare(a.Node, b.Node) })
	w.draw = d
	for _, c := range d.Contributors {
		w.emit(c.Node, outputs.Refill{Bytes: randomBatch, Round: d.Round})
	}
}

// contributor returns n's part of the current draw, or nil.
func (d *randomDraw) contributor(n consensus.NodeID) *contribution {
	if d == nil {
		return nil
	}
	for i := range d.Contributors {
		if d.Contributors[i].Node == n {
			return &d.Contributors[i]
		}
	}
	return nil
}

// commit records a contributor's commitment; the last one asks every
// contributor to reveal. A repeat, or one for another round, changes
// nothing.
func (w *world) commit(e entry.RandomCommit) {
	c := w.draw.contributor(e.Node)
	if c == nil || e.Round != w.draw.Round || c.Committed {
		return
	}
	c.Committed, c.Hash = true, e.Hash
	for _, c := range w.draw.Contributors {
		if !c.Committed {
			return
		}
	}
	w.draw.Revealing, w.draw.Started = true, 0
	for _, c := range w.draw.Contributors {
		w.emit(c.Node, outputs.Refill{Bytes: randomBatch, Round: w.draw.Round, Reveal: true})
	}
}

// reveal records a contributor's batch if it is the one committed to;
// with the last, the pool gets their XOR.
func (w *world) reveal(e entry.Random) {
	c := w.draw.contributor(e.Node)
	if c == nil || !w.draw.Revealing || c.Revealed || len(e.Data) != randomBatch || sha256.Sum256(e.Data) != c.Hash {
		return
	}
	c.Revealed, c.Batch = true, e.Data
	batch := make([]byte, randomBatch)
	for _, c := range w.draw.Contributors {
		if !c.Revealed {
			return
		}
		for i, b := range c.Batch {
			batch[i] ^= b
		}
	}
	w.draw = nil
	w.fillPool(batch)
}

// checkDraw passes over the contributors that have let the current step's
// deadline go by, and draws again without them.
func (w *world) checkDraw(now int64) {
	switch {
	case w.draw == nil:
		return
	case w.draw.Started == 0:
		w.draw.Started = now
		return
	case now-w.draw.Started <= randomDeadline:
		return
	}
	for _, c := range w.draw.Contributors {
		if !c.Committed || w.draw.Revealing && !c.Revealed {
			w.passedOver[c.Node] = true
		}
	}
	w.draw = nil
	w.startDraw()
}

// drawLostContributor draws again when a contributor of the current
// round is declared down.
func (w *world) drawLostContributor(n consensus.NodeID) {
	if w.draw.contributor(n) != nil {
		w.draw = nil
		w.startDraw()
	}
}

// owedRefill is the refill step node n has not taken yet, if any.
func (w *world) owedRefill(n consensus.NodeID) *outputs.Refill {
	if w.randomContributors <= 1 {
		if w.refillNode == n {
			return &outputs.Refill{Bytes: randomBatch}
		}
		return nil
	}
	c := w.draw.contributor(n)
	switch {
	case c == nil:
		return nil
	case !w.draw.Revealing && !c.Committed:
		return &outputs.Refill{Bytes: randomBatch, Round: w.draw.Round}
	case w.draw.Revealing && !c.Revealed:
		return &outputs.Refill{Bytes: randomBatch, Round: w.draw.Round, Reveal: true}
	}
	return nil
}
