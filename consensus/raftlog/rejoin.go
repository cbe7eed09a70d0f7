package raftlog

import (
	"errors"
	"fmt"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// A node that lost its store (a deleted data directory, a damaged file
// set aside) rejoins with an empty one. Raft assumes a node never forgets
// what it wrote: its votes (one per term) and the entries it acknowledged,
// which the leader counted towards a commit. An empty node that votes can
// elect a leader lacking acknowledged writes; that is how a deleted
// directory used to lose them. So a rejoining node, until it has caught up:
//
//   - grants no vote and no pre-vote, and ignores a leadership handover;
//   - never campaigns (it does not tick raft, and Campaign refuses);
//   - still receives the log or a snapshot and acknowledges what it has
//     durably stored, which is honest.
//
// Any leader it hears from was then elected by a majority of the other
// nodes, which intersects every majority that acknowledged a committed
// entry without this node, so that leader holds every committed entry.
// Caught up means: it holds everything up to a commit index that a leader
// of the current term sent in an append, and the entry there is of that
// term, so every entry committed before that leader's election is included.
// Then it may vote again, but never in that term or an older one, where
// its lost store may have voted already (the vote floor).
//
// This is the effect of raft's learner mechanism without its conf change:
// a demotion needs a leader, and in the case that matters most (the other
// survivor lacks the writes) there is none until the node holding them
// returns; and a snapshot taken before the demotion would make the node a
// voter again in its own eyes.
//
// Two more things make a lost store stall rather than heal. Raft never
// lowers what a leader knows a follower holds (its Match): the leader that
// counted the node's former acknowledgements keeps offering it the entry
// after them, the node keeps refusing, and neither moves; and the leader's
// heartbeats tell the node to commit up to that Match, which raft cannot
// do on a shorter log and panics. So a rejoining node ignores the commit
// index of heartbeats (it commits from appends, which raft checks), and a
// leader that sees a refusal saying a node holds less than its Match hands
// leadership to another up-to-date voter: a new leader starts every
// follower's progress afresh. (Removing and re-adding the node would too,
// but takes two configuration changes, shrinks the quorum in between, and
// must be finished by whichever node leads next; a handover is one round
// trip and leaves nothing half done.)
type rejoinGate struct {
	rejoining bool
	voteFloor uint64
	// leaderCommit is the highest commit index a leader sent in an append,
	// in leaderTerm.
	leaderCommit, leaderTerm uint64
	// handedOverAt is the tick of the last handover for a lost node: raft
	// gives a handover an election timeout before it abandons it.
	handedOverAt uint64
}

var errRejoining = errors.New("raftlog: this node is rejoining after losing its store; it does not campaign until it has caught up")

// withholds reports whether m must not reach raft, and notes what a
// leader's append says of its commit index.
func (g *rejoinGate) withholds(m *pb.Message) bool {
	switch m.GetType() {
	case pb.MsgVote, pb.MsgPreVote:
		return g.rejoining || m.GetTerm() <= g.voteFloor
	case pb.MsgTimeoutNow:
		return g.rejoining
	case pb.MsgHeartbeat:
		if g.rejoining {
			m.Commit = new(uint64(0))
		}
	case pb.MsgApp:
		if g.rejoining && (m.GetTerm() > g.leaderTerm || m.GetTerm() == g.leaderTerm && m.GetCommit() > g.leaderCommit) {
			g.leaderTerm, g.leaderCommit = m.GetTerm(), m.GetCommit()
		}
	}
	return false
}

// endRejoinIfCaughtUp ends the rejoin once the node holds a leader's
// commit as described above, recording it durably before any vote.
func (c *Core) endRejoinIfCaughtUp() error {
	g := &c.rejoin
	if !g.rejoining || g.leaderCommit == 0 {
		return nil
	}
	hs := c.rn.BasicStatus().HardState
	if hs.GetTerm() != g.leaderTerm || hs.GetCommit() < g.leaderCommit {
		return nil
	}
	if term, err := c.store.Term(g.leaderCommit); err != nil || term != g.leaderTerm {
		if err != nil && !errors.Is(err, raft.ErrCompacted) {
			return fmt.Errorf("rejoin: term of %d: %w", g.leaderCommit, err)
		}
		return nil // the leader has not committed an entry of its own term yet
	}
	if err := c.store.SetCaughtUp(g.leaderTerm); err != nil {
		return err
	}
	g.rejoining, g.voteFloor = false, g.leaderTerm
	c.log.Info("raftlog: rejoining node caught up; it votes again in later terms",
		"commit", hs.GetCommit(), "leader_commit", g.leaderCommit, "term", g.leaderTerm)
	return nil
}

// handOverForLostNode is the leader's side described above: m is a
// follower's refusal of an append, from a node holding less than the
// leader knows it acknowledged.
func (c *Core) handOverForLostNode(m *pb.Message) {
	if m.GetType() != pb.MsgAppResp || !m.GetReject() || m.GetTerm() != c.rn.BasicStatus().HardState.GetTerm() {
		return
	}
	st := c.rn.Status()
	lost, ok := st.Progress[m.GetFrom()]
	if st.RaftState != raft.StateLeader || !ok || m.GetRejectHint() >= lost.Match {
		return
	}
	if c.rejoin.handedOverAt != 0 && c.ticks < c.rejoin.handedOverAt+uint64(c.cfg.ElectionTicks) {
		return
	}
	var to uint64
	for id, pr := range st.Progress {
		if id != st.ID && id != m.GetFrom() && !pr.IsLearner && pr.RecentActive && (to == 0 || pr.Match > st.Progress[to].Match) {
			to = id
		}
	}
	if to == 0 {
		c.log.Warn("raftlog: a node lost its store, and no other voter is reachable to take over and restart its progress",
			"peer", m.GetFrom(), "holds", m.GetRejectHint(), "acknowledged", lost.Match)
		return
	}
	c.rejoin.handedOverAt = max(c.ticks, 1)
	c.log.Warn("raftlog: a node holds less than it acknowledged (it lost its store); handing leadership over so that its progress starts afresh",
		"peer", m.GetFrom(), "holds", m.GetRejectHint(), "acknowledged", lost.Match, "to", to)
	c.rn.TransferLeader(to)
}
