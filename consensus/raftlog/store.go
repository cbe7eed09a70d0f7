package raftlog

import (
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// Store is the engine's durable state: what raft reads through
// raft.Storage, plus the two writes the engine makes. Both writes are
// atomic and durable when they return nil; after a crash the store holds
// exactly what the last successful write left. BoltStore is the production
// implementation; the simulator may supply one over its fake disk.
type Store interface {
	raft.Storage
	// Save persists one Ready: a snapshot received from the leader (nil
	// or empty for none; it replaces the whole log), then entries (which
	// replace any stored entries from entries[0].Index on), then the hard
	// state (nil for unchanged).
	Save(hs *pb.HardState, entries []*pb.Entry, snap *pb.Snapshot) error
	// SaveSnapshot stores a snapshot this node made of its own applied
	// state and discards the entries up to and including compactTo
	// (at most the snapshot's index). Entries between compactTo and the
	// snapshot stay for followers that are only a little behind.
	SaveSnapshot(snap *pb.Snapshot, compactTo uint64) error
	// Rejoin tells whether the store replaced a lost one. Rejoining: the
	// node has not yet caught up with a leader since, so it must neither
	// vote nor campaign, because the lost store may have held votes and
	// acknowledgements the cluster counted on. Once caught up, voteFloor
	// is the term it caught up in: it never votes in that term or an
	// older one, where the lost store may already have voted.
	Rejoin() (rejoining bool, voteFloor uint64)
	// SetCaughtUp durably ends rejoining, in the given term.
	SetCaughtUp(term uint64) error
	// Close releases the store.
	Close() error
}
