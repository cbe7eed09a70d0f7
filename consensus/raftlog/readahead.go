package raftlog

import (
	"sync"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// readAhead is the store as Node's engine sees it. Raft reads the stored
// snapshot, data and all, each time it sends one to a follower, and it
// does so on the event loop: for a 100 MB machine snapshot that read took
// 1.2 s in the multi-process test, and the leader lost its place. So the
// first time raft asks, readAhead answers that the snapshot is
// temporarily unavailable, which raft takes calmly (it asks again at the
// follower's next heartbeat response), and reads it on a goroutine of its
// own; the next time, raft gets it at once. The data read is handed out
// once, so it is held only until the transport has sent it.
type readAhead struct {
	Store
	mu sync.Mutex
	// enabled is off while NewCore reads the snapshot to start from.
	enabled bool
	// gen counts the snapshots stored, so that a read of a snapshot
	// since replaced is not handed out.
	gen     uint64
	reading bool
	read    *pb.Snapshot
	readErr error
	readGen uint64
	done    sync.WaitGroup
}

// stagingReadAhead is readAhead over a store that also writes snapshots
// off the event loop.
type stagingReadAhead struct {
	*readAhead
	stager snapshotStager
}

var _ snapshotStager = stagingReadAhead{}

// newReadAhead wraps s; enable it once NewCore has read its snapshot.
func newReadAhead(s Store) (Store, *readAhead) {
	ra := &readAhead{Store: s}
	if st, ok := s.(snapshotStager); ok {
		return stagingReadAhead{ra, st}, ra
	}
	return ra, ra
}

func (r *readAhead) enable() {
	r.mu.Lock()
	r.enabled = true
	r.mu.Unlock()
}

// Snapshot implements raft.Storage as described on readAhead.
func (r *readAhead) Snapshot() (*pb.Snapshot, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.enabled {
		return r.Store.Snapshot()
	}
	if (r.read != nil || r.readErr != nil) && r.readGen == r.gen {
		snap, err := r.read, r.readErr
		r.read, r.readErr = nil, nil
		return snap, err
	}
	if !r.reading {
		r.reading = true
		gen := r.gen
		r.done.Go(func() {
			snap, err := r.Store.Snapshot()
			r.mu.Lock()
			defer r.mu.Unlock()
			r.reading = false
			if gen == r.gen {
				r.read, r.readErr, r.readGen = snap, err, gen
			}
		})
	}
	return nil, raft.ErrSnapshotTemporarilyUnavailable
}

// stored notes that the store holds a new snapshot.
func (r *readAhead) stored() {
	r.mu.Lock()
	r.gen++
	r.read, r.readErr = nil, nil
	r.mu.Unlock()
}

// Save implements Store.
func (r *readAhead) Save(hs *pb.HardState, entries []*pb.Entry, snap *pb.Snapshot) error {
	err := r.Store.Save(hs, entries, snap)
	if !raft.IsEmptySnap(snap) {
		r.stored()
	}
	return err
}

// SaveSnapshot implements Store.
func (r *readAhead) SaveSnapshot(snap *pb.Snapshot, compactTo uint64) error {
	err := r.Store.SaveSnapshot(snap, compactTo)
	r.stored()
	return err
}

// wait lets a read under way end before the store closes, for at most
// patience.
func (r *readAhead) wait(patience time.Duration) bool {
	ended := make(chan struct{})
	go func() {
		r.done.Wait()
		close(ended)
	}()
	select {
	case <-ended:
		return true
	case <-time.After(patience):
		return false
	}
}

func (s stagingReadAhead) stageSnapshot(index uint64, data []byte) (stagedSnapshot, error) {
	return s.stager.stageSnapshot(index, data)
}

func (s stagingReadAhead) stageSnapshotAt(index, term uint64, data []byte) (stagedSnapshot, error) {
	return s.stager.stageSnapshotAt(index, term, data)
}

func (s stagingReadAhead) saveReceivedSnapshot(staged stagedSnapshot, hs *pb.HardState, entries []*pb.Entry, snap *pb.Snapshot) error {
	err := s.stager.saveReceivedSnapshot(staged, hs, entries, snap)
	s.stored()
	return err
}

func (s stagingReadAhead) saveStagedSnapshot(staged stagedSnapshot, meta *pb.SnapshotMetadata, compactTo uint64) error {
	err := s.stager.saveStagedSnapshot(staged, meta, compactTo)
	s.stored()
	return err
}

func (s stagingReadAhead) discardStaged(staged stagedSnapshot) { s.stager.discardStaged(staged) }
