package bft

import (
	"maps"
	"slices"
)

// retransmit resends what this replica last said about everything not yet
// settled. Messages are idempotent and ed25519 signatures deterministic,
// so a resent message is byte for byte the original and a receiver that
// has it already ignores it.
func (c *Core) retransmit() {
	primary := c.q.primary(c.view)
	for _, k := range slices.SortedFunc(maps.Keys(c.pending), compareKeys) {
		p := c.pending[k]
		if c.ticks-p.since < c.cfg.RetransmitTicks {
			continue // just sent, or the view just changed
		}
		switch {
		case p.req.Origin == c.id:
			c.broadcast(p.raw)
		case primary != c.id && !p.assigned:
			// Forwarded in case its origin sent it to this replica only:
			// the primary cannot order what it never received.
			c.send(primary, p.raw)
		}
	}
	stalled := false
	if c.changing {
		c.broadcast(c.ownVC)
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
