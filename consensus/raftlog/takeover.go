package raftlog

import (
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/synodvm/synod/consensus"
)

// A leader whose process is killed is noticed by its followers' transport
// at once (consensus.PeerWatcher): its host refuses the connection made
// again right after the old one broke. Waiting out the election timeout
// then only delays the failover (10–20 ticks). Instead the surviving
// followers take over in turn: the one of lowest id campaigns at once,
// the next TakeoverStaggerTicks later if there is still no new leader, and
// so on, so that they do not split their votes.
//
// The campaign is raft's leadership-transfer election (the follower steps
// a MsgTimeoutNow as if the leader had handed over): it skips the pre-vote
// and the voters grant it although they heard from the old leader within
// the election timeout, which a check-quorum lease would otherwise make
// them refuse. Raft's safety does not rest on this: the voters still
// refuse a candidate whose log is behind theirs, and a report that is
// wrong costs one election, not an entry.

// takeover is a campaign this node owes once its turn comes.
type takeover struct {
	leader consensus.NodeID // the leader whose process ended
	term   uint64           // the term it led
	atTick uint64           // when this node's turn comes
}

// PeerGone tells the Core that node id's process ended. If id leads this
// node's term, the node campaigns when its turn comes (now, for the first
// of the surviving voters by id).
func (c *Core) PeerGone(id consensus.NodeID) error {
	return c.guard("peer gone", func() error {
		st := c.rn.BasicStatus()
		if st.Lead != uint64(id) || st.RaftState != raft.StateFollower || c.rejoin.rejoining {
			return nil
		}
		rank := 0
		for _, v := range c.confs[len(c.confs)-1].conf.GetVoters() {
			if v != uint64(id) && v < uint64(c.cfg.ID) {
				rank++
			}
		}
		term := st.GetTerm()
		c.takeover = &takeover{leader: id, term: term, atTick: c.ticks + uint64(rank*c.cfg.TakeoverStaggerTicks)}
		c.log.Info("raftlog: the leader's process has ended; taking over in turn", "leader", id, "term", term, "rank", rank)
		return c.maybeTakeOver()
	})
}

// maybeTakeOver campaigns if this node's turn has come and the leader
// whose process ended still leads its term as far as this node knows.
func (c *Core) maybeTakeOver() error {
	t := c.takeover
	if t == nil || c.ticks < t.atTick {
		return nil
	}
	c.takeover = nil
	st := c.rn.BasicStatus()
	if st.Lead != uint64(t.leader) || st.GetTerm() != t.term || st.RaftState != raft.StateFollower {
		return nil // someone took over first
	}
	c.m.takeovers.Inc()
	return c.rn.Step(&pb.Message{Type: pb.MsgTimeoutNow.Enum(), From: new(uint64(t.leader)), To: new(uint64(c.cfg.ID)), Term: new(t.term)})
}
