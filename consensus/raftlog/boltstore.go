package raftlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/synodvm/synod/consensus"
)

// StoreFileName is the raft store's file inside a node's data directory.
const StoreFileName = "raft.db"

// storeFormat is written into every store and checked on open. Change it
// whenever the layout below changes incompatibly.
const storeFormat = "synod-raft/1"

// Layout. Bucket "meta" holds the keys below; bucket "entries" maps an
// 8-byte big-endian index to the entry's 8-byte big-endian term followed by
// the marshalled entry, so Term reads 8 bytes instead of a whole entry.
var (
	metaBucket    = []byte("meta")
	entriesBucket = []byte("entries")

	keyFormat    = []byte("format")
	keyCluster   = []byte("cluster-id")
	keyNode      = []byte("node-id")
	keyHardState = []byte("hard-state")
	keySnapMeta  = []byte("snapshot-meta")
	keySnapData  = []byte("snapshot-data")
	// keyCompacted is the index and term of the last discarded entry:
	// raft must still learn the term of the entry before the first one.
	keyCompacted = []byte("compacted")
)

// ErrCorruptStore means the store file is damaged or is not a synod raft
// store. The node refuses to start rather than reset its history.
var ErrCorruptStore = errors.New("raft store is corrupted or not a synod raft store")

// ErrForeignStore means the store belongs to another cluster or node.
var ErrForeignStore = errors.New("raft store belongs to another cluster or node")

// Identity names whose data a store holds.
type Identity struct {
	ClusterID string
	Node      consensus.NodeID
}

// BoltStore is a Store in one bbolt file. Every write is one transaction,
// fsync'd before it returns.
type BoltStore struct {
	db   *bolt.DB
	path string

	// mu guards the cached bounds below, which mirror the file so that
	// raft's frequent FirstIndex/LastIndex calls need no transaction.
	mu        sync.RWMutex
	compacted entryID // last discarded entry; first stored is compacted.index+1
	last      uint64  // last stored index, or compacted.index when none
	hardState *pb.HardState
	snapMeta  *pb.SnapshotMetadata
}

type entryID struct{ index, term uint64 }

var _ Store = (*BoltStore)(nil)

// OpenBoltStore opens the store in dataDir, creating it (and dataDir) when
// absent. An existing store must carry this format and identity.
func OpenBoltStore(dataDir string, id Identity) (*BoltStore, error) {
	if id.ClusterID == "" || id.Node == 0 {
		return nil, fmt.Errorf("open raft store in %s: identity needs a cluster id and a node id", dataDir)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("open raft store: %w", err)
	}
	path := filepath.Join(dataDir, StoreFileName)
	switch fi, err := os.Stat(path); {
	case errors.Is(err, os.ErrNotExist):
		if err := createBoltStore(path, id); err != nil {
			return nil, fmt.Errorf("create raft store %s: %w", path, err)
		}
	case err != nil:
		return nil, fmt.Errorf("open raft store: %w", err)
	case fi.Size() == 0:
		// bbolt would initialise an empty file as a new database: a
		// silent reset of whatever history the file was meant to hold.
		return nil, fmt.Errorf("open raft store %s: %w: the file is empty", path, ErrCorruptStore)
	}
	s, err := openBolt(path, id)
	if err != nil {
		return nil, fmt.Errorf("open raft store %s: %w", path, err)
	}
	return s, nil
}

// createBoltStore writes an empty store under a temporary name and renames
// it into place, so that a crash during creation never leaves a file that
// later opens as an empty history.
func createBoltStore(path string, id Identity) error {
	tmp := path + ".new"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	db, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(metaBucket)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucket(entriesBucket); err != nil {
			return err
		}
		return errors.Join(
			meta.Put(keyFormat, []byte(storeFormat)),
			meta.Put(keyCluster, []byte(id.ClusterID)),
			meta.Put(keyNode, u64(uint64(id.Node))),
		)
	})
	if err = errors.Join(err, db.Close()); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

func openBolt(path string, id Identity) (*BoltStore, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		// Another process holding the file lock is another node using
		// this directory: give up quickly with a clear error.
		Timeout: time.Second,
		// Skipping the freelist on commit makes every fsync'd commit
		// smaller; bbolt rebuilds the freelist by scanning on open.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	switch {
	case errors.Is(err, bolt.ErrTimeout):
		return nil, fmt.Errorf("the file is locked; is another node process using this data directory? %w", err)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrCorruptStore, err)
	}
	s := &BoltStore{db: db, path: path}
	if err := s.load(id); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return s, nil
}

// load checks the identity and reads the cached state, walking every
// entry once so that a damaged log is found now rather than mid-run.
func (s *BoltStore) load(id Identity) (err error) {
	defer func() {
		// bbolt trusts its pages; a damaged one can make it panic.
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrCorruptStore, r)
		}
	}()
	return s.db.View(func(tx *bolt.Tx) error {
		meta, ents := tx.Bucket(metaBucket), tx.Bucket(entriesBucket)
		if meta == nil || ents == nil {
			return fmt.Errorf("%w: its buckets are missing", ErrCorruptStore)
		}
		if f := meta.Get(keyFormat); string(f) != storeFormat {
			return fmt.Errorf("%w: format %q, want %q", ErrCorruptStore, f, storeFormat)
		}
		if c := meta.Get(keyCluster); string(c) != id.ClusterID {
			return fmt.Errorf("%w: it holds cluster %q, not %q", ErrForeignStore, c, id.ClusterID)
		}
		if n := meta.Get(keyNode); len(n) != 8 || consensus.NodeID(binary.BigEndian.Uint64(n)) != id.Node {
			return fmt.Errorf("%w: it holds node %x, not node %d", ErrForeignStore, n, id.Node)
		}
		s.hardState = &pb.HardState{}
		if err := unmarshalIfSet(meta.Get(keyHardState), s.hardState); err != nil {
			return fmt.Errorf("%w: hard state: %w", ErrCorruptStore, err)
		}
		s.snapMeta = pb.EnsureSnapshotMetadata(nil)
		if err := unmarshalIfSet(meta.Get(keySnapMeta), s.snapMeta); err != nil {
			return fmt.Errorf("%w: snapshot metadata: %w", ErrCorruptStore, err)
		}
		s.snapMeta = pb.EnsureSnapshotMetadata(s.snapMeta)
		if c := meta.Get(keyCompacted); c != nil {
			if len(c) != 16 {
				return fmt.Errorf("%w: compaction marker is %d bytes", ErrCorruptStore, len(c))
			}
			s.compacted = entryID{binary.BigEndian.Uint64(c), binary.BigEndian.Uint64(c[8:])}
		}
		s.last = s.compacted.index
		return ents.ForEach(func(k, v []byte) error {
			want := s.last + 1
			var e pb.Entry
			if len(k) != 8 || binary.BigEndian.Uint64(k) != want || len(v) < 8 {
				return fmt.Errorf("%w: log entry key %x where index %d was expected", ErrCorruptStore, k, want)
			}
			if err := proto.Unmarshal(v[8:], &e); err != nil || e.GetIndex() != want {
				return fmt.Errorf("%w: log entry %d does not decode", ErrCorruptStore, want)
			}
			s.last = want
			return nil
		})
	})
}

func unmarshalIfSet(b []byte, m proto.Message) error {
	if b == nil {
		return nil
	}
	return proto.Unmarshal(b, m)
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// Path is the store's file.
func (s *BoltStore) Path() string { return s.path }

// InitialState implements raft.Storage. The configuration is the
// snapshot's: the engine re-applies later configuration changes as it
// re-delivers the entries after the snapshot.
func (s *BoltStore) InitialState() (*pb.HardState, *pb.ConfState, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return proto.Clone(s.hardState).(*pb.HardState), proto.Clone(s.snapMeta.GetConfState()).(*pb.ConfState), nil
}

// FirstIndex implements raft.Storage.
func (s *BoltStore) FirstIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.compacted.index + 1, nil
}

// LastIndex implements raft.Storage.
func (s *BoltStore) LastIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.last, nil
}

// Term implements raft.Storage.
func (s *BoltStore) Term(i uint64) (uint64, error) {
	s.mu.RLock()
	compacted, last := s.compacted, s.last
	s.mu.RUnlock()
	switch {
	case i == compacted.index:
		return compacted.term, nil
	case i < compacted.index:
		return 0, raft.ErrCompacted
	case i > last:
		return 0, raft.ErrUnavailable
	}
	var term uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(entriesBucket).Get(u64(i))
		if len(v) < 8 {
			return fmt.Errorf("%w: log entry %d is missing", ErrCorruptStore, i)
		}
		term = binary.BigEndian.Uint64(v)
		return nil
	})
	return term, err
}

// Entries implements raft.Storage: entries [lo, hi), at least one, at most
// maxSize bytes in all.
func (s *BoltStore) Entries(lo, hi, maxSize uint64) ([]*pb.Entry, error) {
	s.mu.RLock()
	compacted, last := s.compacted, s.last
	s.mu.RUnlock()
	switch {
	case lo <= compacted.index:
		return nil, raft.ErrCompacted
	case hi > last+1 || lo >= hi:
		return nil, fmt.Errorf("raft store: entries [%d,%d) requested, log holds (%d,%d]", lo, hi, compacted.index, last)
	}
	var out []*pb.Entry
	var size uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(entriesBucket).Cursor()
		for k, v := c.Seek(u64(lo)); k != nil && binary.BigEndian.Uint64(k) < hi; k, v = c.Next() {
			e := &pb.Entry{}
			if len(v) < 8 {
				return fmt.Errorf("%w: log entry %x is truncated", ErrCorruptStore, k)
			}
			if err := proto.Unmarshal(v[8:], e); err != nil {
				return fmt.Errorf("%w: log entry %x: %w", ErrCorruptStore, k, err)
			}
			size += uint64(proto.Size(e))
			if len(out) > 0 && size > maxSize {
				break
			}
			out = append(out, e)
		}
		return nil
	})
	if err == nil && (len(out) == 0 || out[0].GetIndex() != lo) {
		err = fmt.Errorf("%w: log entry %d is missing", ErrCorruptStore, lo)
	}
	return out, err
}

// Snapshot implements raft.Storage.
func (s *BoltStore) Snapshot() (*pb.Snapshot, error) {
	snap := &pb.Snapshot{}
	err := s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(metaBucket)
		snap.Data = bytes.Clone(meta.Get(keySnapData))
		snap.Metadata = &pb.SnapshotMetadata{}
		return unmarshalIfSet(meta.Get(keySnapMeta), snap.Metadata)
	})
	if err != nil {
		return nil, fmt.Errorf("raft store: read snapshot: %w", err)
	}
	return pb.EnsureSnapshot(snap), nil
}

// Save implements Store.
func (s *BoltStore) Save(hs *pb.HardState, entries []*pb.Entry, snap *pb.Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := struct {
		compacted entryID
		last      uint64
		snapMeta  *pb.SnapshotMetadata
	}{s.compacted, s.last, s.snapMeta}
	err := s.db.Update(func(tx *bolt.Tx) error {
		meta, ents := tx.Bucket(metaBucket), tx.Bucket(entriesBucket)
		if snap != nil && !raft.IsEmptySnap(snap) {
			m := snap.GetMetadata()
			if err := putSnapshot(meta, snap); err != nil {
				return err
			}
			if err := deleteFrom(ents, 0); err != nil {
				return err
			}
			next.compacted = entryID{m.GetIndex(), m.GetTerm()}
			next.last = m.GetIndex()
			next.snapMeta = m
			if err := meta.Put(keyCompacted, append(u64(m.GetIndex()), u64(m.GetTerm())...)); err != nil {
				return err
			}
		}
		if len(entries) > 0 {
			first := entries[0].GetIndex()
			if first <= next.compacted.index || first > next.last+1 {
				return fmt.Errorf("append at %d to a log holding (%d,%d]", first, next.compacted.index, next.last)
			}
			if first <= next.last {
				if err := deleteFrom(ents, first); err != nil {
					return err
				}
			}
			for _, e := range entries {
				v, err := proto.MarshalOptions{}.MarshalAppend(u64(e.GetTerm()), e)
				if err != nil {
					return err
				}
				if err := ents.Put(u64(e.GetIndex()), v); err != nil {
					return err
				}
			}
			next.last = entries[len(entries)-1].GetIndex()
		}
		if hs != nil {
			b, err := proto.Marshal(hs)
			if err != nil {
				return err
			}
			return meta.Put(keyHardState, b)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("raft store %s: save: %w", s.path, err)
	}
	s.compacted, s.last, s.snapMeta = next.compacted, next.last, next.snapMeta
	if hs != nil {
		s.hardState = proto.Clone(hs).(*pb.HardState)
	}
	return nil
}

// SaveSnapshot implements Store.
func (s *BoltStore) SaveSnapshot(snap *pb.Snapshot, compactTo uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := snap.GetMetadata()
	if m.GetIndex() <= s.snapMeta.GetIndex() || m.GetIndex() > s.last || compactTo > m.GetIndex() {
		return fmt.Errorf("raft store %s: snapshot at %d compacting to %d does not fit: last snapshot %d, log (%d,%d]",
			s.path, m.GetIndex(), compactTo, s.snapMeta.GetIndex(), s.compacted.index, s.last)
	}
	compacted := s.compacted
	err := s.db.Update(func(tx *bolt.Tx) error {
		meta, ents := tx.Bucket(metaBucket), tx.Bucket(entriesBucket)
		if err := putSnapshot(meta, snap); err != nil {
			return err
		}
		if compactTo <= compacted.index {
			return nil
		}
		v := ents.Get(u64(compactTo))
		if len(v) < 8 {
			return fmt.Errorf("%w: log entry %d is missing", ErrCorruptStore, compactTo)
		}
		compacted = entryID{compactTo, binary.BigEndian.Uint64(v)}
		if err := deleteThrough(ents, compactTo); err != nil {
			return err
		}
		return meta.Put(keyCompacted, append(u64(compacted.index), u64(compacted.term)...))
	})
	if err != nil {
		return fmt.Errorf("raft store %s: save snapshot: %w", s.path, err)
	}
	s.compacted, s.snapMeta = compacted, m
	return nil
}

// InstallSnapshot replaces the user's state in a stopped node's store with
// snap, a snapshot another node made at an index committed in this
// cluster, as raft does when a leader sends one: the log after snap's index
// stays if this store agrees with snap at that index, and is dropped
// otherwise. The hard state's commit index moves up to snap's index, and
// its term up to snap's term (dropping a vote cast in an older term), so
// that no entry in the store is newer than the node's term. A node whose
// replica diverged takes a healthy peer's state this way.
func (s *BoltStore) InstallSnapshot(snap *pb.Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := snap.GetMetadata()
	idx, term := m.GetIndex(), m.GetTerm()
	if idx == 0 || idx < s.snapMeta.GetIndex() || len(m.GetConfState().GetVoters()) == 0 {
		return fmt.Errorf("raft store %s: cannot install a snapshot at index %d (term %d, voters %v): the store's snapshot is at %d",
			s.path, idx, term, m.GetConfState().GetVoters(), s.snapMeta.GetIndex())
	}
	last := s.last
	hs := proto.Clone(s.hardState).(*pb.HardState)
	hs.Commit = new(max(hs.GetCommit(), idx))
	if term > hs.GetTerm() {
		hs.Term, hs.Vote = new(term), new(uint64(0))
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		meta, ents := tx.Bucket(metaBucket), tx.Bucket(entriesBucket)
		keep := false
		switch v := ents.Get(u64(idx)); {
		case idx == s.compacted.index:
			keep = term == s.compacted.term
		case len(v) >= 8:
			keep = binary.BigEndian.Uint64(v) == term
		}
		var err error
		if keep {
			err = deleteThrough(ents, idx)
		} else {
			err = deleteFrom(ents, 0)
			last = idx
		}
		hb, merr := proto.Marshal(hs)
		return errors.Join(err, merr, putSnapshot(meta, snap),
			meta.Put(keyCompacted, append(u64(idx), u64(term)...)),
			meta.Put(keyHardState, hb))
	})
	if err != nil {
		return fmt.Errorf("raft store %s: install snapshot: %w", s.path, err)
	}
	s.compacted, s.last, s.snapMeta, s.hardState = entryID{idx, term}, last, m, hs
	return nil
}

func putSnapshot(meta *bolt.Bucket, snap *pb.Snapshot) error {
	b, err := proto.Marshal(snap.GetMetadata())
	if err != nil {
		return err
	}
	return errors.Join(meta.Put(keySnapMeta, b), meta.Put(keySnapData, snap.GetData()))
}

// deleteFrom removes every entry with index ≥ from.
func deleteFrom(b *bolt.Bucket, from uint64) error {
	c := b.Cursor()
	for k, _ := c.Seek(u64(from)); k != nil; k, _ = c.Seek(u64(from)) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// deleteThrough removes every entry with index ≤ through.
func deleteThrough(b *bolt.Bucket, through uint64) error {
	c := b.Cursor()
	for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) <= through; k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// Close implements Store.
func (s *BoltStore) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("raft store %s: close: %w", s.path, err)
	}
	return nil
}
