package raftlog

import (
	"fmt"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/synodvm/synod/consensus"
)

// ReadCommitted returns, from a store no node is running on, the
// application entries committed from index lo on: what the node's Core
// delivered, or would deliver on restart. It returns at most max entries,
// and next, the index to ask from next (past the commit index when
// done). Raft's own entries (a new leader's empty entry, configuration
// changes) are skipped. synod replay reads a stopped node's history this
// way.
func ReadCommitted(s *BoltStore, lo uint64, max int) (entries []consensus.Entry, next uint64, err error) {
	hs, _, err := s.InitialState()
	if err != nil {
		return nil, 0, err
	}
	commit := hs.GetCommit()
	if lo > commit {
		return nil, lo, nil
	}
	hi := min(commit+1, lo+uint64(max))
	raw, err := s.Entries(lo, hi, 1<<62)
	if err != nil {
		return nil, 0, fmt.Errorf("read committed entries %d to %d: %w", lo, hi-1, err)
	}
	for _, e := range raw {
		if e.GetType() != pb.EntryNormal || len(e.GetData()) == 0 {
			continue
		}
		env, err := unmarshalEnvelope(e.GetData())
		if err != nil {
			return nil, 0, fmt.Errorf("committed entry %d: %w", e.GetIndex(), err)
		}
		entries = append(entries, consensus.Entry{Index: e.GetIndex(), Data: env.data})
	}
	return entries, hi, nil
}
