package replica

import (
	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
)

// FromProposer keeps of e what its proposer may say: in a Byzantine
// cluster the engine names the member that signed each entry, and a
// member speaks only for itself. Client inputs count only for its own
// connections (a faulty node cannot type into another node's client's
// session), and a random batch, state hash, console acknowledgement or
// input, or I/O completion only in its own name (it cannot outvote a
// state hash or complete another node's disk write). It returns what is
// left (nil when nothing is) and how many inputs it dropped.
//
// Boot, seals and NodeDown/NodeUp are taken from any member: seals only
// move guest time forward within the bounds every replica checks, and a
// member that declares others down costs availability, not correctness.
func FromProposer(e entry.Entry, proposer consensus.NodeID) (entry.Entry, int) {
	if proposer == 0 {
		return e, 0
	}
	var owner consensus.NodeID
	switch e := e.(type) {
	case entry.Inputs:
		kept := e.Entries[:0:0]
		for _, in := range e.Entries {
			if own, _ := FromProposer(in, proposer); own != nil {
				kept = append(kept, in)
			}
		}
		dropped := len(e.Entries) - len(kept)
		e.Entries = kept
		return e, dropped
	case entry.ConnOpen, entry.ConnData, entry.ConnClose:
		conn, _ := entry.ConnOf(e)
		owner = conn.Node
	case entry.Random:
		owner = e.Node
	case entry.RandomCommit:
		owner = e.Node
	case entry.StateHash:
		owner = e.Node
	case entry.ConsoleDone:
		owner = e.Node
	case entry.ConsoleIn:
		owner = e.Node
	case entry.Completion:
		owner = e.Node
	default:
		return e, 0
	}
	if owner != proposer {
		return nil, 1
	}
	return e, 0
}
