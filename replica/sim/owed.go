package sim

import (
	"time"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/bft"
	"github.com/synodvm/synod/replica"
)

// invOwed: once faults stop, nothing the replicated state waits for from
// a node that is up and serving stays owed beyond owedBound: the random
// batch it was asked for, the acknowledgement of console output it
// performed, the completion of a disk output. A leader change drops proposals; the node must propose
// again what is still owed, or the guest's random pool stays dry.
const invOwed = "owed-proposals"

// owedBound is how long a debt may stay unpaid once faults have ended:
// a node proposes again after about a second, and the run goes on for
// at least workAfterFaults.
const owedBound = workAfterFaults

// owedSince is when a node's current debts were first seen.
type owedSince struct {
	random  time.Duration // zero: no random batch owed
	console uint64        // the oldest unacknowledged console output
	since   time.Duration // when console was first seen owed
	disk    uint64        // the oldest disk output awaiting completion
	diskAt  time.Duration // when disk was first seen owed
}

// checkOwed runs after every step once the faults have ended.
func (s *Sim) checkOwed(faultsEnded time.Duration) {
	if s.owed == nil {
		s.owed = map[consensus.NodeID]*owedSince{}
	}
	// A Byzantine cluster that is still changing view when the faults end
	// orders again only once its view-change timeouts, which back off by
	// design, have run out, view after view: a raft election's second
	// does not bound that. Seed 204039 (slow) ended its faults with one
	// correct member changing view alone, the other two in the view it
	// had left, which could no longer start, and the faulty member
	// primary of the next: nothing could be ordered for 3.2 s, however
	// timely the debts. So a debt's time counts only while the correct
	// members can order without the faulty one; the liveness bound covers
	// a cluster that never gets there.
	stalled := s.byz != nil && !s.correctQuorumInView()
	for _, n := range s.nodes {
		o := s.owed[n.id]
		if o == nil {
			o = &owedSince{}
			s.owed[n.id] = o
		}
		// A faulty member may owe anything for ever: the replicated
		// state passes it over (a withheld random batch), and the check
		// is of the correct ones. A rejoining Byzantine member sends no
		// request until its rejoin is done (consensus/bft/rejoin.go), so
		// it can pay nothing meanwhile; the others declare it down if it
		// owes a disk completion for DiskDownAfter (Byzantine seed 3032:
		// the guest waited on its write, the cluster ordered nothing more,
		// and its rejoin waited for the cluster to order more).
		if !n.up() || n.p.router.Quiet.Load() || n.p.rep.Down(n.id) || s.faulty(n) || (s.byz != nil && n.p.core.Status().Rejoining) {
			*o = owedSince{}
			continue
		}
		if stalled {
			o.postpone(stepLength)
		}
		s.checkDebt(n.id, o, n.p.rep.Owed(n.id), faultsEnded)
	}
}

// correctQuorumInView reports whether a quorum of correct members that
// are up work in one view whose primary is correct: the one state in
// which a Byzantine cluster orders whatever the faulty member does.
func (s *Sim) correctQuorumInView() bool {
	inView := map[uint64]int{}
	for _, n := range s.nodes {
		if !n.up() || s.faulty(n) {
			continue
		}
		// The engine names no primary while it changes view or rejoins.
		st := n.p.core.Status()
		if st.Leader == 0 || st.Leader == s.byz.faulty {
			continue
		}
		inView[st.Term]++
		if inView[st.Term] >= bft.QuorumSize(len(s.publicKeys)) {
			return true
		}
	}
	return false
}

// postpone moves the start of every debt in o on by d: time in which
// the debts could not be paid.
func (o *owedSince) postpone(d time.Duration) {
	if o.random != 0 {
		o.random += d
	}
	if o.console != 0 {
		o.since += d
	}
	if o.disk != 0 {
		o.diskAt += d
	}
}

func (s *Sim) checkDebt(id consensus.NodeID, o *owedSince, now replica.Owed, faultsEnded time.Duration) {
	switch {
	case now.Refill == nil:
		o.random = 0
	case o.random == 0:
		o.random = s.now
	case s.now-max(o.random, faultsEnded) > owedBound:
		s.violate(invOwed, "node %d has owed the guest's random pool a batch for %v", id, s.now-o.random)
	}
	switch {
	case now.Console == 0:
		o.console = 0
	case now.Console != o.console:
		o.console, o.since = now.Console, s.now
	case s.now-max(o.since, faultsEnded) > owedBound:
		s.violate(invOwed, "node %d has not acknowledged console output #%d for %v", id, o.console, s.now-o.since)
	}
	switch {
	case len(now.Disk) == 0:
		o.disk = 0
	case now.Disk[0].Seq != o.disk:
		o.disk, o.diskAt = now.Disk[0].Seq, s.now
	case s.now-max(o.diskAt, faultsEnded) > owedBound:
		s.violate(invOwed, "node %d has not completed disk output #%d for %v", id, o.disk, s.now-o.diskAt)
	}
}
