package raftlog

import (
	"errors"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// MemStore is a Store in memory, for the deterministic simulator: a
// simulated crash drops the Core and keeps the MemStore, which then holds
// exactly what was saved, as a synced disk would. It has no fsync cost
// and no files.
type MemStore struct {
	*raft.MemoryStorage
	rejoining bool
	voteFloor uint64
}

var _ Store = (*MemStore)(nil)

// NewMemStore makes an empty store.
func NewMemStore() *MemStore { return &MemStore{MemoryStorage: raft.NewMemoryStorage()} }

// NewRejoiningMemStore makes an empty store for a node that lost its
// state and rejoins (see Store.Rejoining).
func NewRejoiningMemStore() *MemStore {
	return &MemStore{MemoryStorage: raft.NewMemoryStorage(), rejoining: true}
}

// Rejoin implements Store.
func (s *MemStore) Rejoin() (bool, uint64) { return s.rejoining, s.voteFloor }

// SetCaughtUp implements Store.
func (s *MemStore) SetCaughtUp(term uint64) error {
	s.rejoining, s.voteFloor = false, term
	return nil
}

// Save implements Store.
func (s *MemStore) Save(hs *pb.HardState, entries []*pb.Entry, snap *pb.Snapshot) error {
	if snap != nil && !raft.IsEmptySnap(snap) {
		if err := s.ApplySnapshot(snap); err != nil {
			return err
		}
	}
	if err := s.Append(entries); err != nil {
		return err
	}
	if hs != nil {
		return s.SetHardState(hs)
	}
	return nil
}

// SaveSnapshot implements Store.
func (s *MemStore) SaveSnapshot(snap *pb.Snapshot, compactTo uint64) error {
	m := snap.GetMetadata()
	if _, err := s.CreateSnapshot(m.GetIndex(), m.GetConfState(), snap.GetData()); err != nil {
		return err
	}
	if err := s.Compact(compactTo); err != nil && !errors.Is(err, raft.ErrCompacted) {
		return err
	}
	return nil
}

// Close implements Store; the contents stay for a restart.
func (s *MemStore) Close() error { return nil }
