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

// askForDecided asks the next member in turn for what it decided after
// this replica's last executed sequence number, or after its stable
// checkpoint while it rebuilds that state from its own records: asked
// from below their stable checkpoint, the others would send their whole
// state.
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
	c.send(to, c.sign(msgFetchDecided, encodeStateRequest(&stateRequest{Seq: max(c.lastExec, c.stable.seq) + 1})))
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

// serveDecided sends the proofs of the batches decided from r.Seq on, at
// most a window of them and at most once per resend period per member.
// A member that asks from below this replica's stable checkpoint cannot
// use them: the batches up to the checkpoint are forgotten here. It gets
// the checkpoint's state too, whose certificate it checks. It may not
// learn of that certificate otherwise: members resend only their own
// checkpoint messages, and with one of the others silent, the two it
// hears are no quorum, so it would never fetch the state and never
// execute again (TestARestartedReplicaKnowsWhenItHasCaughtUp).
func (c *Core) serveDecided(from consensus.NodeID, r *stateRequest) {
	if last, ok := c.provedAt[from]; ok && c.ticks-last < c.cfg.RetransmitTicks {
		return
	}
	c.provedAt[from] = c.ticks
	if r.Seq <= c.stable.seq {
		c.serveState(from, r)
	}
	for seq := max(r.Seq, c.stable.seq+1); seq <= c.lastExec && seq < r.Seq+c.cfg.Window; seq++ {
		if p, ok := c.proofs[seq]; ok {
			c.send(from, c.sign(msgDecided, encodeDecidedProof(p)))
		}
	}
}

// receiveDecided takes a proven decided batch.
func (c *Core) receiveDecided(p *decidedProof) error {
	if p.pp.Seq <= c.lastExec {
		return nil
	}
	if !c.inWindow(p.pp.Seq) {
		return fmt.Errorf("%w: decided proof for %d", errOutOfWindow, p.pp.Seq)
	}
	c.decide(p.pp, p)
	c.execute()
	return nil
}
