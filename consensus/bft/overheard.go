package bft

import (
	"fmt"

	"github.com/synodvm/synod/consensus"
)

// A replica that changes view alone (it suspected a primary the others
// still follow) waits there until a quorum asks for a view past it
// (armViewChangeTimer), and while their view works, they never do. It
// cannot go back to their view: its view change, signed and sent, says
// what it had prepared, and a later primary may build on it, so it must
// sign nothing more in the view it left. Fetching what they decided
// (catchup.go) took a resend period a batch: the Byzantine simulator's
// seed 20014 had the member holding the journal's disk path learn each
// decision about 80 ms after the others, and the journal did not finish.
// So it listens instead: the pre-prepare of a view it left and a quorum of
// matching commits are a decided proof, the same a member would send it,
// and taking it signs nothing. The commits count on their senders' word,
// as in checkCommitted.

// overheardSlot is what a replica changing view heard of one sequence
// number's agreement in a view it left: the latest pre-prepare, and each
// member's latest commit.
type overheardSlot struct {
	pp      *prePrepare
	ppRaw   []byte
	commits map[consensus.NodeID]overheardCommit
}

type overheardCommit struct {
	view   uint64
	digest Digest
	raw    []byte
}

// overhears reports whether a message of view is one to listen to rather
// than take part in: this replica is changing to a later view.
func (c *Core) overhears(view uint64) bool {
	return c.changing && view < c.view
}

// overheardAt returns the slot for seq: none for a sequence number already
// executed, and an error for one outside the window.
func (c *Core) overheardAt(seq uint64) (*overheardSlot, error) {
	if seq <= c.lastExec {
		return nil, nil
	}
	if !c.inWindow(seq) {
		return nil, fmt.Errorf("%w: overheard %d, stable %d", errOutOfWindow, seq, c.stable.seq)
	}
	if c.overheard == nil {
		c.overheard = map[uint64]*overheardSlot{}
	}
	s, ok := c.overheard[seq]
	if !ok {
		s = &overheardSlot{commits: map[consensus.NodeID]overheardCommit{}}
		c.overheard[seq] = s
	}
	return s, nil
}

func (c *Core) overhearPrePrepare(from consensus.NodeID, pp *prePrepare, raw []byte) error {
	if from != c.q.primary(pp.View) {
		return fmt.Errorf("%w: a pre-prepare for view %d from %d, not its primary", errInvalid, pp.View, from)
	}
	s, err := c.overheardAt(pp.Seq)
	if s == nil {
		return err
	}
	if s.pp == nil || s.pp.View < pp.View {
		s.pp, s.ppRaw = pp, raw
	}
	c.decideOverheard(pp.Seq, s)
	return nil
}

func (c *Core) overhearCommit(e *envelope, v *vote) error {
	s, err := c.overheardAt(v.Seq)
	if s == nil {
		return err
	}
	if held, ok := s.commits[e.from]; !ok || held.view < v.View {
		s.commits[e.from] = overheardCommit{view: v.View, digest: v.Digest, raw: e.raw}
	}
	c.decideOverheard(v.Seq, s)
	return nil
}

// decideOverheard decides seq's batch once a quorum's commits match its
// pre-prepare, and forgets what it heard of the batches executed since.
func (c *Core) decideOverheard(seq uint64, s *overheardSlot) {
	if s.pp == nil {
		return
	}
	var commits [][]byte
	for _, id := range c.q.members {
		if h, ok := s.commits[id]; ok && h.view == s.pp.View && h.digest == s.pp.digest {
			commits = append(commits, h.raw)
		}
	}
	if len(commits) < c.q.quorum {
		return
	}
	c.decide(s.pp, &decidedProof{PrePrepare: s.ppRaw, Commits: commits[:c.q.quorum], pp: s.pp})
	c.execute()
	for seq := range c.overheard {
		if seq <= c.lastExec {
			delete(c.overheard, seq)
		}
	}
}
