package raftlog

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
	pb "go.etcd.io/raft/v3/raftpb"
)

// snapshotStager is a Store that saves a snapshot of the user's state in
// two steps, so that the slow one happens off the event loop. Writing a
// machine snapshot's data file takes seconds (a 500 MB file and its fsync
// took 1.6 s on the development machine); an event loop held that long
// stops heartbeating and is deposed. stageSnapshot writes the data file
// and may run on any goroutine while the loop goes on; saveStagedSnapshot
// then makes it the store's snapshot in one small transaction, on the
// loop, as SaveSnapshot would.
//
// A snapshot received from a leader is staged the same way
// (stageSnapshotAt, with the leader's term) and stored by the Ready that
// carries it (saveReceivedSnapshot), as Save would.
type snapshotStager interface {
	stageSnapshot(index uint64, data []byte) (stagedSnapshot, error)
	stageSnapshotAt(index, term uint64, data []byte) (stagedSnapshot, error)
	saveStagedSnapshot(staged stagedSnapshot, meta *pb.SnapshotMetadata, compactTo uint64) error
	saveReceivedSnapshot(staged stagedSnapshot, hs *pb.HardState, entries []*pb.Entry, snap *pb.Snapshot) error
	// discardStaged removes a staged file that will not be saved.
	discardStaged(staged stagedSnapshot)
}

// stagedSnapshot is a snapshot data file written but not yet part of the
// store.
type stagedSnapshot struct {
	file snapshotFile
}

var _ snapshotStager = (*BoltStore)(nil)

// stageSnapshot writes data, the user's state at index, to its data file.
// The term is the stored entry's; SaveStaged checks it again.
func (s *BoltStore) stageSnapshot(index uint64, data []byte) (stagedSnapshot, error) {
	term, err := s.Term(index)
	if err != nil {
		return stagedSnapshot{}, fmt.Errorf("raft store %s: stage snapshot: term of %d: %w", s.path, index, err)
	}
	return s.stageSnapshotAt(index, term, data)
}

// stageSnapshotAt writes data, the state at index and term, to its data
// file.
func (s *BoltStore) stageSnapshotAt(index, term uint64, data []byte) (stagedSnapshot, error) {
	f, err := s.writeSnapshotFile(index, term, data)
	if err != nil {
		return stagedSnapshot{}, fmt.Errorf("raft store %s: stage snapshot: %w", s.path, describeOSError(err))
	}
	return stagedSnapshot{f}, nil
}

// saveReceivedSnapshot is Save for a Ready that carries snap, a leader's
// snapshot whose data file stageSnapshotAt wrote.
func (s *BoltStore) saveReceivedSnapshot(staged stagedSnapshot, hs *pb.HardState, entries []*pb.Entry, snap *pb.Snapshot) error {
	s.lockWriter()
	defer s.unlockWriter()
	f, m := staged.file, snap.GetMetadata()
	defer s.forgetUnsaved(f.name())
	if f.index != m.GetIndex() || f.term != m.GetTerm() || f.size != uint64(len(snap.GetData())) {
		return fmt.Errorf("raft store %s: staged snapshot file is for index %d term %d with %d bytes, not %d term %d with %d",
			s.path, f.index, f.term, f.size, m.GetIndex(), m.GetTerm(), len(snap.GetData()))
	}
	path := filepath.Join(s.dir, f.name())
	if fi, err := os.Stat(path); err != nil || uint64(fi.Size()) != f.size {
		return fmt.Errorf("raft store %s: staged snapshot file %s is gone or changed: %v", s.path, path, err)
	}
	return s.saveLocked(hs, entries, snap, f)
}

// saveStagedSnapshot is SaveSnapshot for a snapshot whose data file
// stageSnapshot wrote.
func (s *BoltStore) saveStagedSnapshot(staged stagedSnapshot, m *pb.SnapshotMetadata, compactTo uint64) error {
	s.lockWriter()
	defer s.unlockWriter()
	f := staged.file
	defer s.forgetUnsaved(f.name())
	if f.index != m.GetIndex() || f.term != m.GetTerm() {
		return fmt.Errorf("raft store %s: staged snapshot file is for index %d term %d, not %d term %d",
			s.path, f.index, f.term, m.GetIndex(), m.GetTerm())
	}
	if m.GetIndex() <= s.snapMeta.GetIndex() || m.GetIndex() > s.last || compactTo > m.GetIndex() {
		return fmt.Errorf("raft store %s: snapshot at %d compacting to %d does not fit: last snapshot %d, log (%d,%d]",
			s.path, m.GetIndex(), compactTo, s.snapMeta.GetIndex(), s.compacted.index, s.last)
	}
	path := filepath.Join(s.dir, f.name())
	if fi, err := os.Stat(path); err != nil || uint64(fi.Size()) != f.size {
		return fmt.Errorf("raft store %s: staged snapshot file %s is gone or changed: %v", s.path, path, err)
	}
	compacted := s.compacted
	err := s.update(func(tx *bolt.Tx) error {
		meta, ents := tx.Bucket(metaBucket), tx.Bucket(entriesBucket)
		if err := putSnapshot(meta, m, f); err != nil {
			return err
		}
		if compactTo <= compacted.index {
			return nil
		}
		v := ents.Get(u64(compactTo))
		if len(v) < entryHeaderSize {
			return fmt.Errorf("%w: log entry %d is missing", ErrCorruptStore, compactTo)
		}
		compacted = entryID{compactTo, binary.BigEndian.Uint64(v[ChecksumSize:])}
		if err := deleteThrough(ents, compactTo); err != nil {
			return err
		}
		return meta.Put(keyCompacted, CompactedMarker(compacted.index, compacted.term))
	})
	if err != nil {
		return fmt.Errorf("raft store %s: save snapshot: %w", s.path, describeOSError(err))
	}
	s.compacted, s.terms, s.snapMeta, s.snapFile = compacted, s.terms.compactedThrough(compacted.index), m, f
	s.dropOldSnapshotFiles()
	return nil
}

func (s *BoltStore) discardStaged(staged stagedSnapshot) {
	s.forgetUnsaved(staged.file.name())
	s.mu.RLock()
	defer s.mu.RUnlock()
	s.dropOldSnapshotFiles()
}
