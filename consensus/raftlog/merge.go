package raftlog

import (
	"errors"
	"fmt"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// A leader with Config.Merge holds the proposals it gets, its own and the
// ones followers forward, while entries it appended are still
// uncommitted, and proposes them as few merged entries at the first Ready
// after those commit (proposeHeld): one round of consensus in flight at a
// time, which grows as the load does. Under load every node proposes a
// batch of its clients' inputs each round; as entries of their own, each
// batch costs every replica an epoch, a wake of the guest and a state
// hash check, and the leader a durable write and an append to every
// follower, for a handful of requests. With nothing in flight a proposal
// goes out at the next Ready, so a lone client waits no longer.
//
// Holding is safe however leadership moves: a node that no longer leads
// proposes what it held to raft at its next Ready, which forwards it to a
// new leader (in one envelope naming every proposal in it) or drops it
// like any proposal in flight when the leader changes; proposers retry
// what does not come back committed. A leader that cannot commit loses
// its leadership within an election timeout (CheckQuorum).

// maxHeld bounds how many proposals a leader holds: beyond it they go out
// without waiting for the entries in flight.
const maxHeld = 1024

// heldProposal is one proposal a leader holds, with the proposals its data
// stands for (more than one when a follower forwards a merged entry).
type heldProposal struct {
	ids  []proposalID
	data []byte
}

// merging reports whether proposals made or forwarded now are held for
// merging.
func (c *Core) merging() bool {
	return c.cfg.Merge != nil && c.rn.BasicStatus().RaftState == raft.StateLeader
}

// holdForwarded holds the proposals of a follower's MsgProp, when every
// entry in it is a proposal's envelope; it reports false when the message
// must go to raft as it is (a configuration change).
func (c *Core) holdForwarded(m *pb.Message) (bool, error) {
	for _, e := range m.GetEntries() {
		if e.GetType() != pb.EntryNormal || len(e.GetData()) == 0 {
			return false, nil
		}
	}
	for _, e := range m.GetEntries() {
		env, err := unmarshalEnvelope(e.GetData())
		if err != nil {
			return true, err
		}
		c.held = append(c.held, heldProposal{env.ids, env.data})
	}
	return true, nil
}

// heldDue reports whether the proposals held are to go out now: the
// node holds some, and either no longer leads, or has its whole log
// committed, or holds maxHeld.
func (c *Core) heldDue() bool {
	if len(c.held) == 0 {
		return false
	}
	st := c.rn.BasicStatus()
	return st.RaftState != raft.StateLeader || st.HardState.GetCommit() >= c.lastIndex || len(c.held) >= maxHeld
}

// proposeHeld proposes what the leader holds, merged, unless entries in
// its log are still uncommitted. A merged entry raft drops (a leadership
// transfer, too many uncommitted bytes) is lost like any proposal in
// flight when the leader changes: its proposers retry, and this node's
// own proposals in it give back their slots now.
func (c *Core) proposeHeld() error {
	if !c.heldDue() {
		return nil
	}
	datas := make([][]byte, len(c.held))
	for i, h := range c.held {
		datas[i] = h.data
	}
	for held := c.held; len(held) > 0; {
		data, n := c.cfg.Merge(datas)
		ids := held[0].ids
		if n > 1 {
			ids = nil
			for _, h := range held[:n] {
				ids = append(ids, h.ids...)
			}
		}
		err := c.rn.Propose(envelope{ids, data}.marshal())
		switch {
		case errors.Is(err, raft.ErrProposalDropped):
			c.m.proposalsRejected.Add(float64(len(ids)))
			for _, id := range ids {
				if id.proposer == c.cfg.ID {
					delete(c.inflight, id.seq)
				}
			}
		case err != nil:
			return fmt.Errorf("raftlog: propose: %w", err)
		}
		held, datas = held[n:], datas[n:]
	}
	clear(c.held) // let the data go
	c.held = c.held[:0]
	return nil
}
