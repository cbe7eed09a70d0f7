package bft

import (
	"maps"
	"slices"
)

// maxResendShift bounds how often the interval between two resends of a
// message doubles: one left unanswered for long goes out every
// RetransmitTicks<<maxResendShift ticks (3.2 s at the defaults).
const maxResendShift = 4

// resendPace is when a message was last sent, and how often it has been
// resent since it was first sent or its view started. The transport
// loses messages only with a connection, and a member that is behind
// asks for what it missed, so a message resent soon and then less and
// less often loses little; resent every period, the requests held
// through a long view change (64 KB each, and more of them the longer it
// lasts) and the view change itself (every batch prepared since the
// stable checkpoint) made each member send megabytes a second, and four
// clusters sharing two cores spent a minute changing views.
type resendPace struct {
	at    uint64
	count int
}

// due reports whether the message is to be resent at tick now, with
// resend period period, and if so counts the resend.
func (p *resendPace) due(now, period uint64) bool {
	if now-p.at < period<<min(p.count, maxResendShift) {
		return false
	}
	p.at = now
	p.count++
	return true
}

// retransmit resends what this replica last said about everything not yet
// settled. Messages are idempotent and ed25519 signatures deterministic,
// so a resent message is byte for byte the original and a receiver that
// has it already ignores it.
func (c *Core) retransmit() {
	primary := c.q.primary(c.view)
	for _, k := range slices.SortedFunc(maps.Keys(c.pending), compareKeys) {
		p := c.pending[k]
		switch {
		case p.req.Origin == c.id:
			if p.resent.due(c.ticks, c.cfg.RetransmitTicks) {
				c.broadcast(p.raw)
			}
		case primary != c.id && !p.assigned:
			// Forwarded in case its origin sent it to this replica only:
			// the primary cannot order what it never received.
			if p.resent.due(c.ticks, c.cfg.RetransmitTicks) {
				c.send(primary, p.raw)
			}
		}
	}
	stalled := false
	if c.changing {
		if c.vcResent.due(c.ticks, c.cfg.RetransmitTicks) {
			c.broadcast(c.ownVC)
		}
		c.resentFrom = 0
	} else {
		lowest := uint64(0)
		for _, k := range slices.SortedFunc(maps.Keys(c.signed), compareSignKeys) {
			// Executed batches need no resending: a replica that missed
			// them asks for their proofs (catchup.go).
			if k.view == c.view && k.seq > c.lastExec {
				c.broadcast(c.signed[k].raw)
				if lowest == 0 {
					lowest = k.seq
				}
			}
		}
		stalled = lowest != 0 && lowest == c.resentFrom
		c.resentFrom = lowest
	}
	if c.ownCheckpoint != nil {
		c.broadcast(c.ownCheckpoint)
	}
	if c.fetch != nil {
		c.askForState()
	}
	c.askToRejoin()
	if c.waiting() || stalled || c.ticks < c.askUntil {
		c.askForDecided()
	}
}

func compareKeys(a, b requestKey) int {
	if a.origin != b.origin {
		return cmpUint(uint64(a.origin), uint64(b.origin))
	}
	return cmpUint(a.seq, b.seq)
}

func compareSignKeys(a, b signKey) int {
	if a.seq != b.seq {
		return cmpUint(a.seq, b.seq)
	}
	return cmpUint(uint64(a.typ), uint64(b.typ))
}
