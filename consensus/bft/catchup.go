package bft

import (
	"fmt"

	"github.com/synodvm/synod/consensus"
)

// A replica can miss a batch's agreement (its messages were lost, it was
// changing view alone, or a faulty primary sent it another batch) while
// the others decided it. Until the next stable checkpoint it would not
// execute anything more. So a replica whose requests wait longer than a
// resend period, or whose own agreement on a batch outlasts one, asks a
// member, in turn, for the batches decided after its last executed one;
// each comes with its proof (decidedProof), which it checks, so the
// member it asks need not be trusted. The agreement matters when no
// request waits here: the batch's requests reached this replica only in
// the pre-prepare, and the others, having executed it, resend nothing for
// it (Byzantine simulator seed 17, wrong-outputs: two members stayed one
// batch behind for good, and the outputs of that batch were never
// certified).

// askForDecided asks the next member in turn for what it decided
// (askDecidedOf).
func (c *Core) askForDecided() {
	others := len(c.q.members) - 1
	if others == 0 {
		return
	}
	c.askNext = (c.askNext + 1) % len(c.q.members)
	to := c.q.members[c.askNext]
	if to == c.id {
		c.askNext = (c.askNext + 1) % len(c.q.members)
		to = c.q.members[c.askNext]
	}
	c.askDecidedOf(to)
}

// askDecidedOf asks member to for what it decided after this replica's
// last executed sequence number, or after its stable checkpoint while it
// rebuilds that state from its own records.
func (c *Core) askDecidedOf(to consensus.NodeID) {
	from := max(c.lastExec, c.stable.seq) + 1
	c.askedThrough = from + c.cfg.Window - 1
	c.send(to, c.sign(msgFetchDecided, encodeStateRequest(&stateRequest{Seq: from})))
}

// waiting reports whether some held request has waited longer than a
// resend period.
func (c *Core) waiting() bool {
	for _, p := range c.pending {
		if c.ticks-p.since > c.cfg.RetransmitTicks {
			return true
		}
	}
	return false
}

// provedTo is what a member was sent of the decided batches in the
// resend period begun at tick at: proofs up to through.
type provedTo struct {
	at, through uint64
}

// serveDecided sends the proofs of the batches decided from r.Seq on, at
// most a window of them, and each at most once per resend period to one
// member: a member catching up asks again as soon as it has executed an
// answer (receiveDecided), and a faulty one cannot have the same proofs
// sent to it again and again.
// A member that asks from below this replica's stable checkpoint gets
// the batches up to it if this replica still proves them all (those of
// the window below it, see forgetThrough), and else the checkpoint's
// state, whose certificate it checks, and the batches after it. It may
// not learn of that certificate otherwise: members resend only their
// own checkpoint messages, and with one of the others silent, the two it
// hears are no quorum, so it would never fetch the state and never
// execute again (TestARestartedReplicaKnowsWhenItHasCaughtUp).
func (c *Core) serveDecided(from consensus.NodeID, r *stateRequest) {
	sent, ok := c.proved[from]
	if !ok || c.ticks-sent.at >= c.cfg.RetransmitTicks {
		sent = provedTo{at: c.ticks}
	}
	first := max(r.Seq, sent.through+1)
	var proofs []*decidedProof
	for seq := first; seq <= c.lastExec && seq < r.Seq+c.cfg.Window; seq++ {
		p, ok := c.provable(seq)
		switch {
		case ok:
			proofs = append(proofs, p)
		case seq <= c.stable.seq:
			// A gap up to the checkpoint: only its state stands for the
			// batches there, and those after it follow.
			c.serveState(from, r)
			proofs, seq = nil, c.stable.seq
		}
	}
	for _, p := range proofs {
		c.send(from, c.sign(msgDecided, encodeDecidedProof(p)))
		sent.through = p.pp.Seq
	}
	c.proved[from] = sent
}

// provable returns the proof of the batch decided at seq with only good
// signatures, as it must be to convince another member: the commits
// were counted unchecked from their signers (checkCommitted), so a
// faulty member's bad signature may be in it. A bad commit is replaced
// by another member's that the slot still holds for the same view and
// digest, and the mended proof is kept and persisted; false when no
// proof is held, or no quorum of good commits.
func (c *Core) provable(seq uint64) (*decidedProof, bool) {
	p, ok := c.proofs[seq]
	if !ok {
		return nil, false
	}
	good := make([][]byte, 0, c.q.quorum)
	tried := map[consensus.NodeID]bool{}
	bad := false
	consider := func(from consensus.NodeID, raw []byte) {
		if len(good) == c.q.quorum || tried[from] {
			return
		}
		tried[from] = true
		if c.v.heldSignatureValid(from, raw) {
			good = append(good, raw)
			return
		}
		bad = true
		c.stats.BadSignature++
		c.log.Debug("bft: a commit of a decided proof has a bad signature", "from", from, "seq", seq)
	}
	for _, raw := range p.Commits {
		consider(signerOf(raw), raw)
	}
	if s, ok := c.slots[seq]; ok && bad && s.pp != nil && s.pp.View == p.pp.View && s.pp.digest == p.pp.digest {
		for _, id := range c.q.members {
			if h, ok := s.commits[id]; ok && h.digest == p.pp.digest {
				consider(id, h.raw)
			}
		}
	}
	if !bad {
		return p, true
	}
	if len(good) < c.q.quorum {
		c.log.Warn("bft: cannot prove a decided batch: a member's commit has a bad signature and no other is held", "seq", seq, "view", p.pp.View)
		return nil, false
	}
	mended := &decidedProof{PrePrepare: p.PrePrepare, Commits: good, pp: p.pp}
	c.proofs[seq] = mended
	c.persist(encodeDecidedRecord(mended))
	return mended, true
}

// receiveDecided takes a proven decided batch: one of its window, or,
// while it fetches the batches up to a stable checkpoint (startFetch),
// one up to that checkpoint. A replica cut off while the others passed
// several checkpoints holds no certificate of those on the way (members
// resend only their latest checkpoint message), so its window would not
// move before it reached the one it fetches, and it would install the
// state instead; a proof needs no window to be checked, and that
// checkpoint's certificate bounds how many it takes (CatchUpWindows
// windows past its last executed batch).
func (c *Core) receiveDecided(p *decidedProof) error {
	if p.pp.Seq <= c.lastExec {
		return nil
	}
	fetched := c.fetch != nil && c.fetch.batches && p.pp.Seq <= c.fetch.seq
	if !c.inWindow(p.pp.Seq) && !fetched {
		return fmt.Errorf("%w: decided proof for %d", errOutOfWindow, p.pp.Seq)
	}
	c.decide(p.pp, p)
	c.execute()
	if c.askedThrough > 0 && c.lastExec >= c.askedThrough {
		// A whole answer executed: there may be more, and waiting a
		// resend period for it, a member caught up by batches more
		// slowly than a busy cluster decided them.
		c.askedThrough = 0
		c.askForDecided()
	}
	return nil
}
