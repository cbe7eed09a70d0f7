package bft

import (
	"fmt"
	"maps"
	"slices"

	"github.com/synodvm/synod/consensus"
)

// A member whose store is lost (its key kept) starts from a store that
// holds only a rejoin mark (RejoinRecord). Everything it signed before
// is forgotten, and the others may hold it: a pre-prepare, prepare or
// commit it signed at sequence number s in view w, a view change, a new
// view, a request. Signing something else for the same place would be
// what a faulty member does, and with f others faulty it could decide
// two batches at one sequence number. So a rejoining member:
//
//  1. asks every other member for its stable checkpoint, with the
//     certificate that proves it (a quorum of signed checkpoints, so it
//     cannot be inflated, only understated), and waits for answers from
//     a quorum of the others; M is the highest among them, and the
//     target H = M + 2×Window;
//  2. signs no pre-prepare, prepare, commit, view change or new view
//     (the agreement messages of others it drops, and it never suspects
//     a primary) and sends no request of its own until it holds a stable
//     checkpoint at H or later; meanwhile it catches up like a lagging
//     member, through the checkpoints in the answers, state transfers
//     and decided proofs, and votes on the checkpoints it reaches, which
//     cannot contradict anything: the state at a sequence number is the
//     same at every correct member.
//
// Why H is past everything the lost store signed: a member signs
// agreement at s only inside its window, so s ≤ c + Window for some
// checkpoint c that a quorum signed (its own stable checkpoint, or the
// one a new view starts from). At least f+1 correct members signed c,
// so f correct others (the lost member may be one of the f+1); the
// quorum of others that answer (2f+1 of the 3f) includes one of them. A
// correct member that signed c had executed through c, and executes
// only inside its window, so its stable checkpoint was at least
// c − Window then and, never going down, when it answered: M ≥ c −
// Window, and s ≤ c + Window ≤ M + 2×Window = H. (M + Window, PBFT's
// bound, holds when the lost store's own stable checkpoint bounds its
// signatures; a new view's checkpoint may be another member's.)
//
// Once it holds a stable checkpoint at H or later, its window lies above
// H: its prepares, commits and pre-prepares are for sequence numbers the
// lost store never signed, in any view. Its view changes carry that
// checkpoint, which holds every batch committed at or below H, so none
// leaves out a batch the lost store prepared. As the primary of a new
// view it counts its own view change among the quorum it builds the view
// from (tryNewView), so the view starts above H too and its pre-prepares
// are for new sequence numbers, whatever the lost store sent in that
// view: no bound on views is needed, and none taken from the answers,
// where a faulty member could name any view.
//
// Its requests: the lost store may have signed request numbers up to
// MaxPendingRequests above its executed ones, and another member may
// hold one it has not executed yet. A new request under such a number
// would be dropped as known, or executed instead of the old one, its
// proposals lost. So the rejoined member first signs an empty request
// (no proposal) under each number it may have used and that is not
// executed; whichever of the two executes under a number, nothing the
// new life proposed is lost, and its own requests go under later numbers.
//
// The mark is durable: a crash during the rejoin starts it again (asking
// again is safe: M only grows). Its end is recorded before anything else
// is signed.
type rejoinState struct {
	incarnation uint64
	// answers holds each other member's stable checkpoint as it answered.
	answers map[consensus.NodeID]uint64
	// target is H once a quorum of others answered, 0 until then.
	target uint64
}

// RejoinRecord is the record a new store of a member that lost its store
// starts with: the core that starts from it rejoins (see rejoinState).
// incarnation tells this rejoin's answers from an earlier one's: it must
// differ from any earlier rejoin of this member (the time of the rejoin
// does).
func RejoinRecord(incarnation uint64) []byte {
	w := writer{b: []byte{byte(recordRejoin)}}
	w.u64(incarnation)
	return w.b
}

func encodeRejoinedRecord(incarnation uint64) []byte {
	w := writer{b: []byte{byte(recordRejoined)}}
	w.u64(incarnation)
	return w.b
}

// restoreRejoin reads a rejoin mark (begun) or the record of its end.
func (c *Core) restoreRejoin(b []byte, begun bool) error {
	r := reader{b: b}
	inc := r.u64("incarnation")
	if err := r.end("rejoin record"); err != nil {
		return err
	}
	switch {
	case begun:
		c.rejoin = &rejoinState{incarnation: inc, answers: map[consensus.NodeID]uint64{}}
	case c.rejoin != nil && c.rejoin.incarnation == inc:
		c.rejoin = nil
	}
	return nil
}

// rejoining reports whether this member must not sign agreement yet.
func (c *Core) rejoining() bool { return c.rejoin != nil }

// askToRejoin asks the others that have not answered for their stable
// checkpoints and, once it knows its target, every other member to order
// up to it: it goes on asking while it rejoins.
func (c *Core) askToRejoin() {
	g := c.rejoin
	if g == nil {
		return
	}
	raw := c.sign(msgRejoinQuery, encodeRejoinQuery(&rejoinQuery{Incarnation: g.incarnation, Target: g.target}))
	for _, id := range c.q.members {
		if _, ok := g.answers[id]; id != c.id && (!ok || g.target != 0) {
			c.send(id, raw)
		}
	}
}

// answerRejoin sends a rejoining member this member's stable checkpoint,
// at most once per resend period, or takes note of the target it asks
// the cluster to order up to.
func (c *Core) answerRejoin(from consensus.NodeID, q *rejoinQuery) {
	if from == c.q.primary(c.view) && !c.changing && !c.rejoining() {
		// A rejoining primary orders nothing, not even the empty batches
		// its rejoin waits for, and on an idle cluster no request waits
		// that would make anyone suspect it (Byzantine simulator seed
		// 90068). Nor can a faulty primary do harm by asking: it could
		// as well stop ordering.
		c.log.Info("bft: the primary lost its store and rejoins; moving to the next view", "view", c.view, "primary", from)
		c.startViewChange(c.view + 1)
	}
	if q.Target != 0 {
		// Its word alone sets the goal, so the goal is kept within
		// what a correct member's target can be: a faulty member can
		// then make an idle cluster order at most one empty batch a
		// tick, and only as long as it keeps asking.
		c.rejoinGoal = max(c.rejoinGoal, min(q.Target, c.stable.seq+3*c.cfg.Window))
		c.rejoinAskedAt = c.ticks
		return
	}
	if last, ok := c.answeredAt[from]; ok && c.ticks-last < c.cfg.RetransmitTicks {
		return
	}
	c.answeredAt[from] = c.ticks
	a := &rejoinAnswer{Incarnation: q.Incarnation, StableSeq: c.stable.seq, Checkpoints: c.stable.cert}
	c.send(from, c.sign(msgRejoinAnswer, encodeRejoinAnswer(a)))
}

// emptyBatchDue reports whether this member, as the primary, should
// order an empty batch: a rejoining member asked, within the last two
// resend periods, for the cluster to order up to a sequence number not
// yet reached, and no empty batch went out this tick. A rejoin ends only
// at a stable checkpoint at its target, and an idle cluster orders
// nothing by itself: the rejoining member, which may not send requests
// yet, would wait for clients for good (Byzantine simulator seed 89, no
// faulty member: node 2 never served again).
func (c *Core) emptyBatchDue() bool {
	return c.nextSeq <= c.rejoinGoal && c.ticks-c.rejoinAskedAt <= 2*c.cfg.RetransmitTicks && c.ticks > c.emptyAt
}

// receiveRejoinAnswer takes another member's answer to this rejoin: its
// certificate counts as checkpoint votes (this member fetches the state
// if it is behind it), and a quorum of answers sets the target.
func (c *Core) receiveRejoinAnswer(from consensus.NodeID, a *rejoinAnswer) error {
	g := c.rejoin
	if g == nil || from == c.id {
		return nil
	}
	if a.Incarnation != g.incarnation {
		return fmt.Errorf("%w: rejoin answer for incarnation %d, this rejoin is %d", errInvalid, a.Incarnation, g.incarnation)
	}
	c.addCertVotes(a.Checkpoints)
	if g.target != 0 {
		return nil
	}
	g.answers[from] = max(g.answers[from], a.StableSeq)
	if len(g.answers) < c.q.quorum {
		return nil
	}
	g.target = slices.Max(slices.Collect(maps.Values(g.answers))) + 2*c.cfg.Window
	c.log.Info("bft: rejoining: a quorum of the others answered; signing nothing until a stable checkpoint at the target",
		"target", g.target, "stable", c.stable.seq)
	return nil
}

// rejoinOver reports whether this member is rejoining and holds a stable
// checkpoint at its target, state included.
func (c *Core) rejoinOver() bool {
	g := c.rejoin
	return g != nil && g.target != 0 && c.stable.seq >= g.target && !c.rebuilding
}

// endRejoinIfDone ends the rejoin once this member holds a stable
// checkpoint at its target: it records the end, then signs an empty
// request under each request number its lost store may have used (see
// rejoinState).
func (c *Core) endRejoinIfDone() {
	if !c.rejoinOver() {
		return
	}
	g := c.rejoin
	c.rejoin = nil
	c.persist(encodeRejoinedRecord(g.incarnation))
	floor := c.executed.floor(c.id)
	last := floor + uint64(c.cfg.MaxPendingRequests)
	filled := 0
	for seq := floor + 1; seq <= last; seq++ {
		req := &request{Origin: c.id, Seq: seq}
		if _, held := c.pending[req.key()]; held || c.executed.done(req.key()) {
			continue
		}
		raw := c.sign(msgRequest, encodeRequest(req))
		c.persist(encodeSignedRecord(raw))
		c.holdOwn(req, raw)
		c.broadcast(raw)
		filled++
	}
	c.nextReq = max(c.nextReq, last+1)
	c.log.Info("bft: rejoined: this member takes part in the agreement again",
		"stable", c.stable.seq, "target", g.target, "empty_requests", filled, "next_request", c.nextReq)
}
