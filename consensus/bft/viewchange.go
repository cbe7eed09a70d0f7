package bft

import (
	"fmt"
	"maps"
	"slices"

	"github.com/synodvm/synod/consensus"
)

// startViewChange stops this replica's work in the current view and votes
// to move to view v, carrying what it has prepared so that nothing that
// may have committed is lost.
func (c *Core) startViewChange(v uint64) {
	if v <= c.view && (c.changing || v < c.view) {
		return
	}
	c.stats.ViewChanges++
	c.view, c.changing = v, true
	c.persistView = true
	c.enterView()
	vc := &viewChange{View: v, StableSeq: c.stable.seq, Checkpoints: c.stable.cert}
	for _, seq := range slices.Sorted(maps.Keys(c.certs)) {
		cert := c.certs[seq]
		vc.Prepared = append(vc.Prepared, preparedCert{PrePrepare: cert.PrePrepare, Prepares: cert.Prepares})
	}
	c.ownVC = c.sign(msgViewChange, encodeViewChange(vc))
	c.persist(encodeSignedRecord(c.ownVC))
	c.broadcast(c.ownVC)
	c.vcResent = resendPace{at: c.ticks}
	c.vcArmed = false
	if e, err := c.v.decode(c.ownVC); err == nil {
		c.vcs[c.id] = e
	}
	c.armViewChangeTimer()
	c.log.Info("bft: view change", "to", v, "stable", c.stable.seq, "prepared", len(vc.Prepared))
	c.tryNewView()
}

// armViewChangeTimer starts the view-change timeout once a quorum has
// asked for the view this replica is changing to or a later one, and not
// before: a replica that suspects the primary alone waits there for the
// others instead of moving on from view to view by itself, and when they
// come, the view can start at once. A member that asks for a later view
// has left this one too and will not come back to it, so it counts:
// counting only this view's askers left two correct members waiting in
// view 2 for good, the third in view 3 and the fourth silent, each side
// short of a quorum and of the f+1 that make a member follow (Byzantine
// simulator seed 23).
func (c *Core) armViewChangeTimer() {
	if !c.changing || c.vcArmed {
		return
	}
	n := 0
	for _, e := range c.vcs {
		if e.body.(*viewChange).View >= c.view {
			n++
		}
	}
	if n < c.q.quorum {
		return
	}
	c.vcArmed = true
	c.vcDeadline = c.ticks + c.vcTimeout
	c.vcTimeout = min(2*c.vcTimeout, c.cfg.MaxViewChangeTimeoutTicks)
}

// enterView forgets the agreement of earlier views (prepared
// certificates and decided batches stay: they outlive views).
func (c *Core) enterView() {
	c.slots = map[uint64]*slot{}
	c.newView = nil
	for k := range c.signed {
		if k.view < c.view {
			delete(c.signed, k)
		}
	}
	for _, p := range c.pending {
		p.since, p.assigned, p.resent = c.ticks, false, resendPace{at: c.ticks}
	}
}

func (c *Core) receiveViewChange(e *envelope) error {
	vc := e.body.(*viewChange)
	if vc.View == c.view && !c.changing && c.newView != nil && c.q.primary(c.view) == c.id {
		// It missed the new view: a changing replica resends its view
		// change until it has it.
		c.send(e.from, c.newView)
	}
	if prev, ok := c.vcs[e.from]; ok && prev.body.(*viewChange).View >= vc.View {
		return nil
	}
	c.vcs[e.from] = e
	if vc.View < c.view || (vc.View == c.view && !c.changing) {
		return nil
	}
	c.armViewChangeTimer()
	// A replica that sees f+1 members ask for later views knows that a
	// correct one is among them: it follows to the latest view at least
	// f+1 of them want, rather than wait for its own timeout.
	var later []uint64
	for id, other := range c.vcs {
		if w := other.body.(*viewChange).View; id != c.id && w > c.view {
			later = append(later, w)
		}
	}
	if len(later) > c.q.f {
		slices.Sort(later)
		c.startViewChange(later[len(later)-c.q.f-1])
	}
	c.tryNewView()
	return nil
}

// noteLaterView records that member from works in view v. Once f+1
// members work in views later than this replica's, at least one of them
// is correct, so that view has started: this replica changes to the
// latest view at least f+1 of them work in, and the view's primary
// answers its view change with the new view. That is how a replica that
// restarted in a view the others have left (a killed primary), or missed
// a view change, joins them instead of staying out of the agreement.
func (c *Core) noteLaterView(from consensus.NodeID, v uint64) {
	if v <= c.view || from == c.id {
		return
	}
	c.laterView[from] = max(c.laterView[from], v)
	var later []uint64
	for _, w := range c.laterView {
		if w > c.view {
			later = append(later, w)
		}
	}
	if len(later) > c.q.f {
		slices.Sort(later)
		c.startViewChange(later[len(later)-c.q.f-1])
	}
}

// tryNewView starts the view this replica is changing to, if it is its
// primary and holds a quorum of view changes for it.
func (c *Core) tryNewView() {
	if !c.changing || c.q.primary(c.view) != c.id || c.newView != nil {
		return
	}
	// Its own view change comes first: the view then starts at its
	// stable checkpoint or later, which is what keeps a member that lost
	// its store from re-proposing where the lost store may have signed
	// (rejoin.go). Without its own for this view it builds none, and the
	// view times out like a silent primary's.
	own, ok := c.vcs[c.id]
	if !ok || own.body.(*viewChange).View != c.view {
		return
	}
	chosen := []*envelope{own}
	for _, id := range c.q.members {
		if e, ok := c.vcs[id]; ok && id != c.id && e.body.(*viewChange).View == c.view && len(chosen) < c.q.quorum {
			chosen = append(chosen, e)
		}
	}
	if len(chosen) < c.q.quorum {
		return
	}
	plan := planNewView(chosen)
	nv := &newView{View: c.view}
	for _, e := range chosen {
		nv.ViewChanges = append(nv.ViewChanges, e.raw)
	}
	for seq := plan.low + 1; seq <= plan.high; seq++ {
		requests := plan.batches[seq]
		pp := &prePrepare{View: c.view, Seq: seq, Requests: requests, digest: batchDigest(requests)}
		raw, ok := c.signOnce(msgPrePrepare, c.view, seq, pp.digest, encodePrePrepare(pp))
		if !ok {
			return
		}
		nv.PrePrepares = append(nv.PrePrepares, raw)
	}
	raw := c.sign(msgNewView, encodeNewView(nv))
	c.persist(encodeSignedRecord(raw))
	e, err := c.v.decode(raw)
	if err != nil {
		c.log.Error("bft: own new view does not decode", "view", c.view, "err", err)
		return
	}
	c.broadcast(raw)
	c.installNewView(e.body.(*newView), raw, plan)
}

// newViewPlan is what a new view re-proposes, computed from a quorum of
// view changes the same way by the new primary and by every replica that
// checks its new-view message: above the highest stable checkpoint among
// them (low), every sequence number up to the highest prepared one (high)
// gets the batch prepared in the latest view, or an empty batch if none
// was prepared.
type newViewPlan struct {
	low, high uint64
	// lowCert is a certificate for the checkpoint at low.
	lowCert [][]byte
	batches map[uint64][][]byte
}

func planNewView(vcs []*envelope) newViewPlan {
	p := newViewPlan{batches: map[uint64][][]byte{}}
	for _, e := range vcs {
		vc := e.body.(*viewChange)
		if vc.StableSeq > p.low || p.lowCert == nil {
			p.low, p.lowCert = vc.StableSeq, vc.Checkpoints
		}
	}
	p.high = p.low
	views := map[uint64]uint64{}
	for _, e := range vcs {
		for _, cert := range e.body.(*viewChange).Prepared {
			pp := cert.pp
			if pp.Seq <= p.low {
				continue
			}
			if v, ok := views[pp.Seq]; !ok || pp.View > v {
				views[pp.Seq] = pp.View
				p.batches[pp.Seq] = pp.Requests
			}
			p.high = max(p.high, pp.Seq)
		}
	}
	return p
}

func (c *Core) receiveNewView(nv *newView, raw []byte) error {
	if nv.View < c.view || (nv.View == c.view && !c.changing) {
		return fmt.Errorf("%w: new view %d at view %d", errWrongView, nv.View, c.view)
	}
	plan := planNewView(nv.vcs)
	if uint64(len(nv.pps)) != plan.high-plan.low {
		return fmt.Errorf("%w: new view %d re-proposes %d batches, the view changes call for %d", errInvalid, nv.View, len(nv.pps), plan.high-plan.low)
	}
	for i, pp := range nv.pps {
		seq := plan.low + 1 + uint64(i)
		if pp.Seq != seq || pp.digest != batchDigest(plan.batches[seq]) {
			return fmt.Errorf("%w: new view %d re-proposes another batch at %d than the view changes call for", errInvalid, nv.View, seq)
		}
	}
	c.installNewView(nv, raw, plan)
	return nil
}

// installNewView starts view nv.View with the new primary's pre-prepares.
func (c *Core) installNewView(nv *newView, raw []byte, plan newViewPlan) {
	if nv.View > c.view || !c.changing {
		c.view = nv.View
		c.enterView()
	}
	// The request timeout judges this view's primary from the moment its
	// view starts: timed from the start of a view change that outlasted
	// it, every held request would be overdue at the next tick, and the
	// new primary would give up its own view before ordering anything.
	for _, p := range c.pending {
		p.since, p.resent = c.ticks, resendPace{at: c.ticks}
	}
	c.changing = false
	c.overheard = nil
	c.persistView = true
	c.newView = raw
	c.log.Info("bft: new view", "view", c.view, "primary", c.q.primary(c.view), "reproposed", len(nv.pps))
	// The view changes prove a checkpoint at plan.low stable.
	c.addCertVotes(plan.lowCert)
	for i, pp := range nv.pps {
		if err := c.acceptPrePrepare(pp, nv.PrePrepares[i]); err != nil {
			c.log.Debug("bft: re-proposed batch not taken", "seq", pp.Seq, "err", err)
		}
	}
	c.nextSeq = max(plan.high, c.stable.seq, c.lastExec) + 1
}
