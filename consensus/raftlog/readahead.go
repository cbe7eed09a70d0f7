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
// once, so it is held only until the transport has sent it. A store that
// can map its snapshot file (snapshotmap.go) is mapped rather than read;
// the mapping is undone when the Core releases the data (release).
type readAhead struct {
	Store
	mapper snapshotMapper // nil: the snapshot is read into the heap
	mu     sync.Mutex
	// enabled is off while NewCore reads the snapshot to start from.
	enabled bool
	// gen counts the snapshots stored, so that a read of a snapshot
	// since replaced is not handed out.
	gen     uint64
	reading bool
	read    *pb.Snapshot
	readErr error
	readGen uint64
	// unmapRead undoes the mapping of read; handedOut the mappings of the
	// data handed to raft, by their first byte, until released.
	unmapRead func()
	handedOut map[*byte]func()
	done      sync.WaitGroup
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
	ra := &readAhead{Store: s, handedOut: map[*byte]func(){}}
	if m, ok := s.(snapshotMapper); ok {
		ra.mapper = m
	}
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
		snap, err, unmap := r.read, r.readErr, r.unmapRead
		r.read, r.readErr, r.unmapRead = nil, nil, nil
		switch {
		case unmap == nil:
		case len(snap.GetData()) > 0:
			r.handedOut[&snap.GetData()[0]] = unmap
		default:
			unmap()
		}
		return snap, err
	}
	if !r.reading {
		r.reading = true
		gen := r.gen
		r.done.Go(func() {
			snap, unmap, err := r.readSnapshot()
			r.mu.Lock()
			defer r.mu.Unlock()
			r.reading = false
			if gen != r.gen {
				if unmap != nil {
					unmap()
				}
				return
			}
			r.dropRead()
			r.read, r.readErr, r.readGen, r.unmapRead = snap, err, gen, unmap
		})
	}
	return nil, raft.ErrSnapshotTemporarilyUnavailable
}

// readSnapshot maps the stored snapshot, or reads it where the store
// cannot map it (unmap is then nil).
func (r *readAhead) readSnapshot() (snap *pb.Snapshot, unmap func(), err error) {
	if r.mapper == nil {
		snap, err = r.Store.Snapshot()
		return snap, nil, err
	}
	return r.mapper.mapSnapshot()
}

// dropRead forgets a read not handed out, undoing its mapping. r.mu is
// held.
func (r *readAhead) dropRead() {
	if r.unmapRead != nil {
		r.unmapRead()
	}
	r.read, r.readErr, r.unmapRead = nil, nil, nil
}

// release undoes the mapping of data, a snapshot's data handed to raft,
// once nothing uses it any more (the transport has sent it or given up).
// Data read into the heap needs nothing.
func (r *readAhead) release(data []byte) {
	if len(data) == 0 {
		return
	}
	r.mu.Lock()
	unmap := r.handedOut[&data[0]]
	delete(r.handedOut, &data[0])
	r.mu.Unlock()
	if unmap != nil {
		unmap()
	}
}

// releaseAll undoes every mapping, once the transport has stopped and
// before the store closes.
func (r *readAhead) releaseAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropRead()
	for first, unmap := range r.handedOut {
		unmap()
		delete(r.handedOut, first)
	}
}

// stored notes that the store holds a new snapshot.
func (r *readAhead) stored() {
	r.mu.Lock()
	r.gen++
	r.dropRead()
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
