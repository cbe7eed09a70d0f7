package raftlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/internal/durable"
)

// StoreFileName is the raft store's file inside a node's data directory.
const StoreFileName = "raft.db"

// storeFormatNumber is the layout below, the write-ahead log's included.
// Raise it whenever the layout changes incompatibly: this synod then
// tells a later one's store from a damaged one by the number alone.
const storeFormatNumber = 3

// storeFormatPrefix begins the format of every synod raft store.
const storeFormatPrefix = "synod-raft/"

// storeFormat is written into every store and checked on open.
var storeFormat = storeFormatPrefix + strconv.Itoa(storeFormatNumber)

// storeFormatBeforeWAL is the format of stores made before the write-ahead
// log: they open, and their first write upgrades them.
const storeFormatBeforeWAL = storeFormatPrefix + "2"

// Layout. Bucket "meta" holds the keys below; bucket "entries" maps an
// 8-byte big-endian index to a sealed value (checksum.go): the entry's
// 8-byte big-endian term followed by the marshalled entry, so Term reads
// 8 bytes instead of a whole entry. The snapshot's data lives in a file
// of its own beside the store (snapshotfile.go): a machine snapshot can be
// hundreds of megabytes, which bbolt would copy into every transaction
// that rewrites it and hold in one value.
var (
	metaBucket    = []byte("meta")
	entriesBucket = []byte("entries")

	keyFormat    = []byte("format")
	keyCluster   = []byte("cluster-id")
	keyNode      = []byte("node-id")
	keyHardState = []byte("hard-state")
	keySnapMeta  = []byte("snapshot-meta")
	// keySnapFile is the size and CRC-32C of the snapshot's data file.
	keySnapFile = []byte("snapshot-file")
	// keyCompacted is the index and term of the last discarded entry:
	// raft must still learn the term of the entry before the first one.
	keyCompacted = []byte("compacted")
	// keyIncarnation counts the lives of this node's store: 1 when synod
	// init made it, one more each time the node rejoined after losing it.
	keyIncarnation = []byte("incarnation")
	// keyRejoining is present while a rejoined node has not yet caught up
	// with a leader: until then it must neither vote nor campaign (see
	// Core), because the store it lost may have held votes and
	// acknowledgements the cluster counted on. keyVoteFloor then replaces
	// it: the term the node caught up in, at or below which it never votes.
	keyRejoining = []byte("rejoining")
	keyVoteFloor = []byte("vote-floor")
)

// entryHeaderSize is the checksum and term in front of a stored entry.
const entryHeaderSize = ChecksumSize + 8

// ErrCorruptStore means the store file is damaged or is not a synod raft
// store. The node refuses to start rather than reset its history.
var ErrCorruptStore = errors.New("raft store is corrupted or not a synod raft store")

// ErrLaterFormat means the store was written by a later synod, whose
// layout this one does not know. It is not damage: --rejoin leaves it in
// place, and the later synod reads it.
var ErrLaterFormat = errors.New("raft store of a later format")

// ErrForeignStore means the store belongs to another cluster or node.
var ErrForeignStore = errors.New("raft store belongs to another cluster or node")

// ErrMissingStore means a node's data directory holds no store. synod init
// creates every node's store, so a missing one was lost (a deleted or
// replaced directory), and with it the votes and acknowledgements the node
// gave: starting afresh as if nothing happened could elect a leader that
// lacks acknowledged writes. The node must rejoin instead.
var ErrMissingStore = errors.New("raft store is missing")

// Identity names whose data a store holds.
type Identity struct {
	ClusterID string
	Node      consensus.NodeID
}

// StoreLife is what a new store records about the node's history.
type StoreLife struct {
	// Incarnation is 1 for a store synod init made, and counts up with
	// each rejoin.
	Incarnation uint64
	// Rejoining marks a store made to replace a lost one: the node must
	// not vote until it has caught up with a leader.
	Rejoining bool
}

// BoltStore is a Store in one bbolt file, a write-ahead log (wal.go) and
// the current snapshot's data file. A Save without a snapshot is one
// record in the log, synced once; bbolt takes the log in later
// (walstore.go). Every other write is one bbolt transaction, synced.
type BoltStore struct {
	db   *bolt.DB
	path string
	dir  string

	// mu guards the cached state below, which mirrors the file so that
	// raft's frequent FirstIndex/LastIndex/Term calls need no transaction.
	mu          sync.RWMutex
	compacted   entryID  // last discarded entry; first stored is compacted.index+1
	last        uint64   // last stored index, or compacted.index when none
	terms       termRuns // of the entries (compacted.index, last]
	hardState   *pb.HardState
	snapMeta    *pb.SnapshotMetadata
	snapFile    snapshotFile
	incarnation uint64
	rejoining   bool
	voteFloor   uint64

	// The write-ahead log and what bbolt lacks of it (walstore.go).
	// flushMu orders bbolt's writes: a background flush writes without
	// holding mu. failed is the error of a write to the log or of a
	// flush: the store takes no more Saves after it.
	flushMu    sync.Mutex
	wal        *walFile
	pending    walPending
	takenAt    walTaken // what bbolt holds of the log
	failed     error
	flushDelay time.Duration
	walMaxSize int64
	flushKick  chan struct{}
	flushStop  chan struct{}
	flushDone  chan struct{}
	closeOnce  sync.Once

	// filesMu orders the writing and mapping of snapshot data files with
	// their removal, which leaves alone the files in unsaved (written, or
	// being written, and not yet pointed to by a transaction) and in
	// mapped (how many times each is mapped: snapshotmap.go).
	filesMu sync.Mutex
	unsaved map[string]bool
	mapped  map[string]int
	reaper  *reaper
}

type entryID struct{ index, term uint64 }

var _ Store = (*BoltStore)(nil)

// CreateBoltStore makes a new, empty store in dataDir (creating the
// directory). It refuses to replace an existing store.
func CreateBoltStore(dataDir string, id Identity, life StoreLife) error {
	if id.ClusterID == "" || id.Node == 0 {
		return fmt.Errorf("create raft store in %s: identity needs a cluster id and a node id", dataDir)
	}
	if life.Incarnation == 0 {
		life.Incarnation = 1
	}
	path := filepath.Join(dataDir, StoreFileName)
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("create raft store %s: %w", path, describeOSError(err))
	}
	switch _, err := os.Lstat(path); {
	case err == nil:
		return fmt.Errorf("create raft store %s: a store is already there", path)
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("create raft store %s: %w", path, describeOSError(err))
	}
	if err := createBoltStore(path, id, life); err != nil {
		return fmt.Errorf("create raft store %s: %w", path, describeOSError(err))
	}
	return nil
}

// OpenBoltStore opens the store in dataDir, which must carry this format
// and identity. It never creates one: a missing store is ErrMissingStore.
func OpenBoltStore(dataDir string, id Identity) (*BoltStore, error) {
	if id.ClusterID == "" || id.Node == 0 {
		return nil, fmt.Errorf("open raft store in %s: identity needs a cluster id and a node id", dataDir)
	}
	path := filepath.Join(dataDir, StoreFileName)
	switch fi, err := os.Stat(path); {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("open raft store %s: %w", path, ErrMissingStore)
	case err != nil:
		return nil, fmt.Errorf("open raft store %s: %w", path, describeOSError(err))
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

// checkStoreFormat accepts the formats this synod reads and tells a later
// synod's store from a damaged one.
func checkStoreFormat(format []byte) error {
	f := string(format)
	if f == storeFormat || f == storeFormatBeforeWAL {
		return nil
	}
	if n, ok := strings.CutPrefix(f, storeFormatPrefix); ok {
		if number, err := strconv.Atoi(n); err == nil && number > storeFormatNumber {
			return fmt.Errorf("%w: format %q, written by a later synod than this one (format %q): run that synod", ErrLaterFormat, f, storeFormat)
		}
	}
	return fmt.Errorf("%w: format %q, want %q", ErrCorruptStore, f, storeFormat)
}

// describeOSError adds the likely cause to the errors an operator can fix.
func describeOSError(err error) error {
	switch {
	case errors.Is(err, syscall.EROFS), errors.Is(err, os.ErrPermission):
		return fmt.Errorf("%w (is the data directory read-only or owned by another user?)", err)
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("%w (the disk is full)", err)
	}
	return err
}

// createBoltStore writes an empty store under a temporary name and renames
// it into place, so that a crash during creation never leaves a file that
// later opens as an empty history.
func createBoltStore(path string, id Identity, life StoreLife) error {
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
		err = errors.Join(
			meta.Put(keyFormat, []byte(storeFormat)),
			meta.Put(keyCluster, []byte(id.ClusterID)),
			meta.Put(keyNode, u64(uint64(id.Node))),
			meta.Put(keyIncarnation, Seal(u64(life.Incarnation))),
		)
		if life.Rejoining {
			err = errors.Join(err, meta.Put(keyRejoining, Seal(nil)))
		}
		return err
	})
	if err = errors.Join(err, db.Close()); err != nil {
		return err
	}
	// A log left by a store that was lost must not be replayed into
	// this one.
	if err := createWAL(filepath.Join(filepath.Dir(path), WALFileName), 1); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return durable.SyncDir(filepath.Dir(path))
}

func openBolt(path string, id Identity) (s *BoltStore, err error) {
	// bbolt trusts its pages: a damaged one can make it panic while it
	// opens the file (it walks the free pages) or reads it.
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("%w: bbolt: %v", ErrCorruptStore, r)
		}
	}()
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		// Another process holding the file lock is another node using
		// this directory: give up quickly with a clear error.
		Timeout: time.Second,
		// The freelist is written with every commit (a page or two more
		// per fsync) rather than rebuilt by scanning the file when it is
		// first needed: bbolt scans on a goroutine of its own, where a
		// damaged page panics beyond any recover and kills the node.
		// Loading it now, inside this function's recover, turns a
		// damaged freelist into an error.
		FreelistType:    bolt.FreelistMapType,
		PreLoadFreelist: true,
	})
	switch {
	case errors.Is(err, bolt.ErrTimeout):
		return nil, fmt.Errorf("the file is locked; is another node process using this data directory? %w", err)
	case errors.Is(err, os.ErrPermission), errors.Is(err, syscall.EROFS):
		return nil, describeOSError(err)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrCorruptStore, err)
	}
	s = &BoltStore{db: db, path: path, dir: filepath.Dir(path), unsaved: map[string]bool{}, mapped: map[string]int{},
		reaper: newReaper(), flushDelay: walFlushDelay, walMaxSize: walMaxSize,
		flushKick: make(chan struct{}, 1), flushStop: make(chan struct{}), flushDone: make(chan struct{})}
	if err := s.load(id); err != nil {
		s.reaper.close()
		if s.wal != nil {
			err = errors.Join(err, s.wal.close())
		}
		return nil, errors.Join(err, db.Close())
	}
	go s.flushLoop()
	return s, nil
}

// load checks the identity and reads the cached state, checking every
// entry and the snapshot once so that a damaged store is found now rather
// than mid-run, then replays the write-ahead log.
func (s *BoltStore) load(id Identity) error {
	var taken walTaken
	err := s.view(func(tx *bolt.Tx) error {
		meta, ents := tx.Bucket(metaBucket), tx.Bucket(entriesBucket)
		if meta == nil {
			return fmt.Errorf("%w: its buckets are missing", ErrCorruptStore)
		}
		// The format first: a later synod's store may lay out the rest
		// differently.
		if err := checkStoreFormat(meta.Get(keyFormat)); err != nil {
			return err
		}
		if ents == nil {
			return fmt.Errorf("%w: its buckets are missing", ErrCorruptStore)
		}
		if c := meta.Get(keyCluster); string(c) != id.ClusterID {
			return fmt.Errorf("%w: it holds cluster %q, not %q", ErrForeignStore, c, id.ClusterID)
		}
		if n := meta.Get(keyNode); len(n) != 8 || consensus.NodeID(binary.BigEndian.Uint64(n)) != id.Node {
			return fmt.Errorf("%w: it holds node %x, not node %d", ErrForeignStore, n, id.Node)
		}
		inc, err := Unseal(meta.Get(keyIncarnation), "incarnation")
		if err != nil || len(inc) != 8 {
			return fmt.Errorf("%w: incarnation: %w", ErrCorruptStore, err)
		}
		s.incarnation = binary.BigEndian.Uint64(inc)
		if taken, err = readWALTaken(meta.Get(keyWAL)); err != nil {
			return err
		}
		s.rejoining = meta.Get(keyRejoining) != nil
		if v := meta.Get(keyVoteFloor); v != nil {
			b, err := Unseal(v, "vote floor")
			if err != nil || len(b) != 8 {
				return fmt.Errorf("%w: vote floor: %w", ErrCorruptStore, err)
			}
			s.voteFloor = binary.BigEndian.Uint64(b)
		}
		s.hardState = &pb.HardState{}
		if err := UnmarshalSealed(meta.Get(keyHardState), s.hardState, "hard state"); err != nil {
			return err
		}
		s.snapMeta = pb.EnsureSnapshotMetadata(nil)
		if err := UnmarshalSealed(meta.Get(keySnapMeta), s.snapMeta, "snapshot metadata"); err != nil {
			return err
		}
		s.snapMeta = pb.EnsureSnapshotMetadata(s.snapMeta)
		if s.snapFile, err = readSnapshotFileRecord(meta.Get(keySnapFile)); err != nil {
			return err
		}
		if c := meta.Get(keyCompacted); c != nil {
			b, err := Unseal(c, "compaction marker")
			if err != nil {
				return err
			}
			if len(b) != 16 {
				return fmt.Errorf("%w: compaction marker is %d bytes", ErrCorruptStore, len(b))
			}
			s.compacted = entryID{binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])}
		}
		s.last = s.compacted.index
		return ents.ForEach(func(k, v []byte) error {
			want := s.last + 1
			if len(k) != 8 || binary.BigEndian.Uint64(k) != want {
				return fmt.Errorf("%w: log entry key %x where index %d was expected", ErrCorruptStore, k, want)
			}
			e, err := DecodeEntry(want, v)
			if err != nil {
				return err
			}
			s.terms = s.terms.appending([]*pb.Entry{e})
			s.last = want
			return nil
		})
	})
	if err != nil {
		return err
	}
	if err := s.checkSnapshotFile(); err != nil {
		return err
	}
	if err := s.openLog(taken); err != nil {
		return err
	}
	return s.removeStaleSnapshotFiles()
}

// Incarnation is the number of lives of this node's store (see StoreLife).
func (s *BoltStore) Incarnation() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.incarnation
}

// Rejoin implements Store.
func (s *BoltStore) Rejoin() (bool, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.rejoining, s.voteFloor
}

// SetCaughtUp implements Store.
func (s *BoltStore) SetCaughtUp(term uint64) error {
	s.lockWriter()
	defer s.unlockWriter()
	err := s.update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(metaBucket)
		return errors.Join(meta.Delete(keyRejoining), meta.Put(keyVoteFloor, Seal(u64(term))))
	})
	if err != nil {
		return fmt.Errorf("raft store %s: record that the node caught up: %w", s.path, describeOSError(err))
	}
	s.rejoining, s.voteFloor = false, term
	return nil
}

// view and update run a bbolt transaction and turn a panic inside bbolt
// (a damaged page it trusted) into ErrCorruptStore, so that the node
// stops with an error naming the file instead of crashing.
func (s *BoltStore) view(f func(*bolt.Tx) error) error {
	return recoverCorruption(func() error { return s.db.View(f) })
}

func (s *BoltStore) updateBolt(f func(*bolt.Tx) error) error {
	return recoverCorruption(func() error { return s.db.Update(f) })
}

func recoverCorruption(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: bbolt: %v", ErrCorruptStore, r)
		}
	}()
	return f()
}

// EncodeEntry is the stored form of e: sealed term and entry.
func EncodeEntry(e *pb.Entry) ([]byte, error) {
	v, err := proto.MarshalOptions{}.MarshalAppend(u64(e.GetTerm()), e)
	if err != nil {
		return nil, err
	}
	return Seal(v), nil
}

// DecodeEntry checks and decodes the stored entry at index.
func DecodeEntry(index uint64, v []byte) (*pb.Entry, error) {
	what := fmt.Sprintf("log entry %d", index)
	b, err := Unseal(v, what)
	if err != nil {
		return nil, err
	}
	e := &pb.Entry{}
	if len(b) < 8 {
		return nil, fmt.Errorf("%w: %s is truncated", ErrCorruptStore, what)
	}
	if err := proto.Unmarshal(b[8:], e); err != nil || e.GetIndex() != index || e.GetTerm() != binary.BigEndian.Uint64(b) {
		return nil, fmt.Errorf("%w: %s does not decode", ErrCorruptStore, what)
	}
	return e, nil
}

// UnmarshalSealed decodes a sealed protobuf value, if set.
func UnmarshalSealed(v []byte, m proto.Message, what string) error {
	if v == nil {
		return nil
	}
	b, err := Unseal(v, what)
	if err != nil {
		return err
	}
	if err := proto.Unmarshal(b, m); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrCorruptStore, what, err)
	}
	return nil
}

// MarshalSealed is the stored form of m: marshalled and sealed.
func MarshalSealed(m proto.Message) ([]byte, error) {
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	return Seal(b), nil
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// CompactedMarker is the stored form of the last entry a compaction
// discarded: its index and term, sealed.
func CompactedMarker(index, term uint64) []byte { return Seal(append(u64(index), u64(term)...)) }

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

// Term implements raft.Storage from the terms kept in memory (termRuns),
// which mirror the entries stored.
func (s *BoltStore) Term(i uint64) (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	switch {
	case i == s.compacted.index:
		return s.compacted.term, nil
	case i < s.compacted.index:
		return 0, raft.ErrCompacted
	case i > s.last:
		return 0, raft.ErrUnavailable
	}
	term, ok := s.terms.term(i)
	if !ok {
		return 0, fmt.Errorf("raft store %s: %w: no term known for log entry %d", s.path, ErrCorruptStore, i)
	}
	return term, nil
}

// Entries implements raft.Storage: entries [lo, hi), at least one, at most
// maxSize bytes in all.
func (s *BoltStore) Entries(lo, hi, maxSize uint64) ([]*pb.Entry, error) {
	s.mu.RLock()
	compacted, last, pending := s.compacted, s.last, s.pending
	s.mu.RUnlock()
	switch {
	case lo <= compacted.index:
		return nil, raft.ErrCompacted
	case hi > last+1 || lo >= hi:
		return nil, fmt.Errorf("raft store: entries [%d,%d) requested, log holds (%d,%d]", lo, hi, compacted.index, last)
	}
	// Entries from pending.first on are the write-ahead log's, in memory;
	// those before it are bbolt's.
	boltHi := hi
	if len(pending.entries) > 0 {
		boltHi = min(hi, pending.first)
	}
	var out []*pb.Entry
	var size uint64
	full := false
	add := func(e *pb.Entry) bool {
		size += uint64(proto.Size(e))
		if len(out) > 0 && size > maxSize {
			full = true
			return false
		}
		out = append(out, e)
		return true
	}
	var err error
	if lo < boltHi {
		err = s.view(func(tx *bolt.Tx) error {
			c := tx.Bucket(entriesBucket).Cursor()
			for k, v := c.Seek(u64(lo)); k != nil && binary.BigEndian.Uint64(k) < boltHi; k, v = c.Next() {
				e, err := DecodeEntry(binary.BigEndian.Uint64(k), v)
				if err != nil {
					return err
				}
				if !add(e) {
					break
				}
			}
			return nil
		})
	}
	for i := max(lo, boltHi); err == nil && !full && i < hi; i++ {
		add(pending.entries[i-pending.first])
	}
	if err == nil && (len(out) == 0 || out[0].GetIndex() != lo || out[len(out)-1].GetIndex() != lo+uint64(len(out))-1) {
		err = fmt.Errorf("%w: log entry %d is missing", ErrCorruptStore, lo+uint64(len(out)))
	}
	if err != nil {
		return nil, fmt.Errorf("raft store %s: %w", s.path, err)
	}
	return out, nil
}

// Snapshot implements raft.Storage. The data is read from its file and
// checked against its checksum each time.
func (s *BoltStore) Snapshot() (*pb.Snapshot, error) {
	s.mu.RLock()
	meta, file := s.snapMeta, s.snapFile
	s.mu.RUnlock()
	snap := &pb.Snapshot{Metadata: proto.Clone(meta).(*pb.SnapshotMetadata)}
	if meta.GetIndex() > 0 {
		data, err := file.read(s.dir, meta)
		if err != nil {
			return nil, fmt.Errorf("raft store %s: read snapshot: %w", s.path, err)
		}
		snap.Data = data
	}
	return pb.EnsureSnapshot(snap), nil
}

// Save implements Store.
func (s *BoltStore) Save(hs *pb.HardState, entries []*pb.Entry, snap *pb.Snapshot) error {
	if snap == nil || raft.IsEmptySnap(snap) {
		return s.appendLog(hs, entries)
	}
	s.lockWriter()
	defer s.unlockWriter()
	var file snapshotFile
	{
		var err error
		file, err = s.writeSnapshotFile(snap.GetMetadata().GetIndex(), snap.GetMetadata().GetTerm(), snap.GetData())
		if err != nil {
			return fmt.Errorf("raft store %s: save: %w", s.path, describeOSError(err))
		}
		defer s.forgetUnsaved(file.name())
	}
	return s.saveLocked(hs, entries, snap, file)
}

// saveLocked is Save of a Ready that carries snap, once its data file is
// written: one bbolt transaction, which takes in the write-ahead log too.
func (s *BoltStore) saveLocked(hs *pb.HardState, entries []*pb.Entry, snap *pb.Snapshot, file snapshotFile) error {
	next := struct {
		compacted entryID
		last      uint64
		terms     termRuns
		snapMeta  *pb.SnapshotMetadata
		snapFile  snapshotFile
	}{s.compacted, s.last, s.terms, s.snapMeta, s.snapFile}
	hasSnap := snap != nil && !raft.IsEmptySnap(snap)
	if hasSnap {
		next.snapFile = file
	}
	err := s.update(func(tx *bolt.Tx) error {
		meta, ents := tx.Bucket(metaBucket), tx.Bucket(entriesBucket)
		if hasSnap {
			m := snap.GetMetadata()
			if err := putSnapshot(meta, m, next.snapFile); err != nil {
				return err
			}
			if err := deleteFrom(ents, 0); err != nil {
				return err
			}
			next.compacted = entryID{m.GetIndex(), m.GetTerm()}
			next.last = m.GetIndex()
			next.terms = nil
			next.snapMeta = m
			if err := meta.Put(keyCompacted, CompactedMarker(next.compacted.index, next.compacted.term)); err != nil {
				return err
			}
		}
		if len(entries) > 0 {
			first := entries[0].GetIndex()
			if first <= next.compacted.index || first > next.last+1 {
				return fmt.Errorf("append at %d to a log holding (%d,%d]", first, next.compacted.index, next.last)
			}
			if err := replaceEntries(ents, entries); err != nil {
				return err
			}
			next.last = entries[len(entries)-1].GetIndex()
			next.terms = next.terms.appending(entries)
		}
		if hs != nil {
			b, err := MarshalSealed(hs)
			if err != nil {
				return err
			}
			return meta.Put(keyHardState, b)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("raft store %s: save: %w", s.path, describeOSError(err))
	}
	s.compacted, s.last, s.terms, s.snapMeta, s.snapFile = next.compacted, next.last, next.terms, next.snapMeta, next.snapFile
	if hs != nil {
		s.hardState = proto.Clone(hs).(*pb.HardState)
	}
	if hasSnap {
		s.dropOldSnapshotFiles()
	}
	return nil
}

// SaveSnapshot implements Store.
func (s *BoltStore) SaveSnapshot(snap *pb.Snapshot, compactTo uint64) error {
	s.lockWriter()
	defer s.unlockWriter()
	m := snap.GetMetadata()
	if m.GetIndex() <= s.snapMeta.GetIndex() || m.GetIndex() > s.last || compactTo > m.GetIndex() {
		return fmt.Errorf("raft store %s: snapshot at %d compacting to %d does not fit: last snapshot %d, log (%d,%d]",
			s.path, m.GetIndex(), compactTo, s.snapMeta.GetIndex(), s.compacted.index, s.last)
	}
	file, err := s.writeSnapshotFile(m.GetIndex(), m.GetTerm(), snap.GetData())
	if err != nil {
		return fmt.Errorf("raft store %s: save snapshot: %w", s.path, describeOSError(err))
	}
	defer s.forgetUnsaved(file.name())
	compacted := s.compacted
	err = s.update(func(tx *bolt.Tx) error {
		meta, ents := tx.Bucket(metaBucket), tx.Bucket(entriesBucket)
		if err := putSnapshot(meta, m, file); err != nil {
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
	s.compacted, s.terms, s.snapMeta, s.snapFile = compacted, s.terms.compactedThrough(compacted.index), m, file
	s.dropOldSnapshotFiles()
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
	s.lockWriter()
	defer s.unlockWriter()
	m := snap.GetMetadata()
	idx, term := m.GetIndex(), m.GetTerm()
	if idx == 0 || idx < s.snapMeta.GetIndex() || len(m.GetConfState().GetVoters()) == 0 {
		return fmt.Errorf("raft store %s: cannot install a snapshot at index %d (term %d, voters %v): the store's snapshot is at %d",
			s.path, idx, term, m.GetConfState().GetVoters(), s.snapMeta.GetIndex())
	}
	file, err := s.writeSnapshotFile(idx, term, snap.GetData())
	if err != nil {
		return fmt.Errorf("raft store %s: install snapshot: %w", s.path, describeOSError(err))
	}
	defer s.forgetUnsaved(file.name())
	last, terms := s.last, s.terms
	hs := proto.Clone(s.hardState).(*pb.HardState)
	hs.Commit = new(max(hs.GetCommit(), idx))
	if term > hs.GetTerm() {
		hs.Term, hs.Vote = new(term), new(uint64(0))
	}
	err = s.update(func(tx *bolt.Tx) error {
		meta, ents := tx.Bucket(metaBucket), tx.Bucket(entriesBucket)
		keep := false
		switch v := ents.Get(u64(idx)); {
		case idx == s.compacted.index:
			keep = term == s.compacted.term
		case len(v) >= entryHeaderSize:
			keep = binary.BigEndian.Uint64(v[ChecksumSize:]) == term
		}
		var err error
		if keep {
			err = deleteThrough(ents, idx)
			terms = terms.compactedThrough(idx)
		} else {
			err = deleteFrom(ents, 0)
			last, terms = idx, nil
		}
		hb, merr := MarshalSealed(hs)
		return errors.Join(err, merr, putSnapshot(meta, m, file),
			meta.Put(keyCompacted, CompactedMarker(idx, term)),
			meta.Put(keyHardState, hb))
	})
	if err != nil {
		return fmt.Errorf("raft store %s: install snapshot: %w", s.path, describeOSError(err))
	}
	s.compacted, s.last, s.terms, s.snapMeta, s.snapFile, s.hardState = entryID{idx, term}, last, terms, m, file, hs
	s.dropOldSnapshotFiles()
	return nil
}

func putSnapshot(meta *bolt.Bucket, m *pb.SnapshotMetadata, file snapshotFile) error {
	b, err := MarshalSealed(m)
	if err != nil {
		return err
	}
	return errors.Join(meta.Put(keySnapMeta, b), meta.Put(keySnapFile, file.record()))
}

// replaceEntries stores entries, consecutive and non-empty, in place of
// every stored entry from the first of them on.
func replaceEntries(b *bolt.Bucket, entries []*pb.Entry) error {
	if err := deleteFrom(b, entries[0].GetIndex()); err != nil {
		return err
	}
	for _, e := range entries {
		v, err := EncodeEntry(e)
		if err != nil {
			return err
		}
		if err := b.Put(u64(e.GetIndex()), v); err != nil {
			return err
		}
	}
	return nil
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

// deleteThrough removes every entry with index ≤ through. The keys are
// listed first and then deleted one by one: a cursor cannot go on after a
// Delete, and seeking the first key again each time walked every leaf the
// transaction had already emptied (bbolt drops them only at commit), which
// made a compaction of 10,000 entries take 0.15 s on the raft loop.
func deleteThrough(b *bolt.Bucket, through uint64) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) <= through; k, _ = c.Next() {
		keys = append(keys, k)
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Close implements Store.
func (s *BoltStore) Close() error {
	s.reaper.close()
	logErr := s.closeLog()
	if err := errors.Join(logErr, s.db.Close()); err != nil {
		return fmt.Errorf("raft store %s: close: %w", s.path, err)
	}
	return nil
}
