package raftlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// The store's write-ahead log (wal.go) holds what Save wrote since bbolt
// last took the log in: walPending mirrors it in memory, as the entries
// from first on (they replace bbolt's from first on) and the newest hard
// state. bbolt takes it in (fold) in a background flush walFlushDelay
// after a Save, in the transaction of every other write (snapshots,
// rejoin), and when the store opens and closes.
//
// The log file grows up to walMaxSize. A record that does not fit then
// (or when the disk has no room for the file to grow) rolls the log over:
// bbolt takes in the rest of it, the file is emptied, and the record goes
// at its start. That Save waits for one bbolt transaction and the
// emptying (four syncs), once per walMaxSize of records.
const (
	// walFlushDelay lets many Saves share one bbolt transaction.
	walFlushDelay = 250 * time.Millisecond
	walMaxSize    = 4 << 20
	// walMaxPending bounds what bbolt lacks of the log: a Save that finds
	// more takes it in first. It bounds the memory pending holds, and the
	// room bbolt needs to take the log in when the store closes on a full
	// disk (closeLog).
	walMaxPending = 128 << 10
)

// keyWAL records how far bbolt has taken in the log: its generation, the
// offset after the last record taken in, and whether the store was closed
// with nothing acknowledged after that (the log may then be missing).
var keyWAL = []byte("wal")

type walPending struct {
	first     uint64
	entries   []*pb.Entry
	hardState *pb.HardState
	// end is the offset after the last record in the log.
	end int64
}

func (p walPending) empty() bool { return len(p.entries) == 0 && p.hardState == nil }

// walTaken is keyWAL's content.
type walTaken struct {
	generation uint64
	offset     int64
	clean      bool
}

func (t walTaken) record() []byte {
	b := binary.BigEndian.AppendUint64(nil, t.generation)
	b = binary.BigEndian.AppendUint64(b, uint64(t.offset))
	if t.clean {
		return Seal(append(b, 1))
	}
	return Seal(append(b, 0))
}

// readWALTaken reads keyWAL. A store made before the log existed has
// none: it is clean, and the log starts at generation 1.
func readWALTaken(v []byte) (walTaken, error) {
	if v == nil {
		return walTaken{offset: walHeaderSize, clean: true}, nil
	}
	b, err := Unseal(v, "write-ahead log position")
	if err != nil {
		return walTaken{}, err
	}
	if len(b) != 17 {
		return walTaken{}, fmt.Errorf("%w: write-ahead log position is %d bytes", ErrCorruptStore, len(b))
	}
	return walTaken{binary.BigEndian.Uint64(b), int64(binary.BigEndian.Uint64(b[8:])), b[16] == 1}, nil
}

// appendLog is Save without a snapshot: one record in the log, then the
// cached state.
func (s *BoltStore) appendLog(hs *pb.HardState, entries []*pb.Entry) error {
	if len(entries) == 0 && hs == nil {
		return nil
	}
	record, err := encodeWALRecord(hs, entries)
	if err != nil {
		return fmt.Errorf("raft store %s: save: %w", s.path, err)
	}
	s.mu.Lock()
	if s.wal.fits(len(record)) && s.pendingBytes() <= walMaxPending {
		defer s.mu.Unlock()
		return s.appendRecord(record, hs, entries)
	}
	s.mu.Unlock()
	s.lockWriter()
	defer s.unlockWriter()
	if err := s.makeRoom(len(record)); err != nil {
		s.failed = fmt.Errorf("raft store %s: save: %w", s.path, describeOSError(err))
	}
	return s.appendRecord(record, hs, entries)
}

// makeRoom grows the log file for a record of n bytes, or rolls the log
// over. Called under lockWriter.
func (s *BoltStore) makeRoom(n int) error {
	if s.failed != nil {
		return nil
	}
	takeIn := func() error {
		if s.pending.empty() {
			return nil
		}
		return s.update(func(*bolt.Tx) error { return nil })
	}
	if s.pendingBytes() > walMaxPending {
		if err := takeIn(); err != nil {
			return err
		}
	}
	if s.wal.fits(n) || s.wal.size < s.walMaxSize && s.wal.grow(s.wal.used+int64(n)) == nil {
		return nil
	}
	if err := takeIn(); err != nil {
		return err
	}
	if err := s.wal.reset(s.wal.generation + 1); err != nil {
		return err
	}
	s.pending.end = s.wal.used
	if s.wal.fits(n) {
		return nil
	}
	return s.wal.grow(s.wal.used + int64(n))
}

// pendingBytes is the size of the records bbolt lacks. Called with mu
// held.
func (s *BoltStore) pendingBytes() int64 {
	if s.takenAt.generation != s.wal.generation {
		return s.wal.used - walHeaderSize // rolled over since bbolt took it in
	}
	return s.wal.used - s.takenAt.offset
}

// appendRecord writes a record of entries and hs to the log and remembers
// them. Called with mu held.
func (s *BoltStore) appendRecord(record []byte, hs *pb.HardState, entries []*pb.Entry) error {
	if s.failed != nil {
		return s.failed
	}
	if err := s.checkAppend(entries); err != nil {
		return fmt.Errorf("raft store %s: save: %w", s.path, err)
	}
	if err := s.wal.append(record); err != nil {
		// The record may be half written: nothing goes after it.
		s.failed = fmt.Errorf("raft store %s: save: %w", s.path, describeOSError(err))
		return s.failed
	}
	s.remember(hs, entries)
	select {
	case s.flushKick <- struct{}{}:
	default:
	}
	return nil
}

// checkAppend refuses entries that would leave a gap in the log or
// replace compacted ones.
func (s *BoltStore) checkAppend(entries []*pb.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	if first := entries[0].GetIndex(); first <= s.compacted.index || first > s.last+1 {
		return fmt.Errorf("append at %d to a log holding (%d,%d]", first, s.compacted.index, s.last)
	}
	return nil
}

// remember puts a record the log holds into the cached state and into
// pending. The slices pending shares with a flush in progress are never
// written: a replaced entry gets a new slice.
func (s *BoltStore) remember(hs *pb.HardState, entries []*pb.Entry) {
	p := &s.pending
	p.end = s.wal.used
	if hs != nil {
		p.hardState = proto.Clone(hs).(*pb.HardState)
		s.hardState = p.hardState
	}
	if len(entries) == 0 {
		return
	}
	first := entries[0].GetIndex()
	switch k := int(first - p.first); {
	case len(p.entries) == 0 || first < p.first:
		p.first, p.entries = first, slices.Clone(entries)
	case k < len(p.entries):
		p.entries = append(slices.Clone(p.entries[:k]), entries...)
	default:
		p.entries = append(p.entries, entries...)
	}
	s.last = entries[len(entries)-1].GetIndex()
	s.terms = s.terms.appending(entries)
}

// fold writes p into bbolt in tx and records the log as taken in up to
// p.end.
func (s *BoltStore) fold(tx *bolt.Tx, p walPending, clean bool) error {
	meta, ents := tx.Bucket(metaBucket), tx.Bucket(entriesBucket)
	if len(p.entries) > 0 {
		if err := replaceEntries(ents, p.entries); err != nil {
			return err
		}
	}
	if p.hardState != nil {
		b, err := MarshalSealed(p.hardState)
		if err != nil {
			return err
		}
		if err := meta.Put(keyHardState, b); err != nil {
			return err
		}
	}
	return meta.Put(keyWAL, walTaken{s.wal.generation, p.end, clean}.record())
}

// taken drops from pending what a fold of p put into bbolt. Called with
// mu held.
func (s *BoltStore) taken(p walPending) {
	s.takenAt = walTaken{generation: s.wal.generation, offset: p.end}
	cur := &s.pending
	if cur.first == p.first {
		k := 0
		for k < len(p.entries) && k < len(cur.entries) && cur.entries[k] == p.entries[k] {
			k++
		}
		cur.first, cur.entries = cur.first+uint64(k), cur.entries[k:]
	}
	if cur.hardState == p.hardState {
		cur.hardState = nil
	}
}

// lockWriter takes the locks of a write to bbolt: flushMu orders it with
// the background flush, mu with everything else.
func (s *BoltStore) lockWriter() {
	s.flushMu.Lock()
	s.mu.Lock()
}

func (s *BoltStore) unlockWriter() {
	s.mu.Unlock()
	s.flushMu.Unlock()
}

// update runs f in a bbolt transaction that first takes in the log, so
// that f sees the whole log. Called under lockWriter.
func (s *BoltStore) update(f func(*bolt.Tx) error) error {
	if s.failed != nil {
		return s.failed
	}
	p := s.pending
	err := s.updateBolt(func(tx *bolt.Tx) error {
		if err := s.fold(tx, p, false); err != nil {
			return err
		}
		return f(tx)
	})
	if err != nil {
		return err
	}
	s.taken(p)
	return nil
}

// flushLoop takes the log into bbolt walFlushDelay after a Save, until
// Close.
func (s *BoltStore) flushLoop() {
	defer close(s.flushDone)
	for {
		select {
		case <-s.flushStop:
			return
		case <-s.flushKick:
		}
		select {
		case <-s.flushStop:
			return
		case <-time.After(s.flushDelay):
		}
		s.flush()
	}
}

// flush takes the log into bbolt in a transaction of its own, while
// Saves go on.
func (s *BoltStore) flush() {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.mu.Lock()
	p, failed := s.pending, s.failed
	s.mu.Unlock()
	if p.empty() || failed != nil {
		return
	}
	err := s.updateBolt(func(tx *bolt.Tx) error { return s.fold(tx, p, false) })
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.failed = fmt.Errorf("raft store %s: take the write-ahead log into bbolt: %w", s.path, describeOSError(err))
		return
	}
	s.taken(p)
}

// openLog opens the write-ahead log of a store whose bbolt state load
// has read, replays the records bbolt lacks and takes them into bbolt;
// new records go after them.
func (s *BoltStore) openLog(taken walTaken) error {
	path := filepath.Join(s.dir, WALFileName)
	w, err := openWAL(path)
	if errors.Is(err, os.ErrNotExist) {
		if !taken.clean {
			return fmt.Errorf("%w: write-ahead log %s is missing", ErrCorruptStore, path)
		}
		if err := createWAL(path, taken.generation+1); err != nil {
			return fmt.Errorf("create write-ahead log %s: %w", path, describeOSError(err))
		}
		w, err = openWAL(path)
	}
	if err != nil {
		return fmt.Errorf("open write-ahead log %s: %w", path, describeOSError(err))
	}
	s.wal, s.takenAt = w, taken
	from := int64(walHeaderSize)
	switch w.generation {
	case taken.generation:
		from = taken.offset
	case taken.generation + 1:
	default:
		return fmt.Errorf("%w: write-ahead log %s is of generation %d, where the store took in generation %d",
			ErrCorruptStore, path, w.generation, taken.generation)
	}
	records, err := w.records(from)
	if err != nil {
		return err
	}
	s.pending.end = w.used
	for _, r := range records {
		if err := s.checkAppend(r.entries); err != nil {
			return fmt.Errorf("%w: write-ahead log %s: the record ending at %d does not fit: %w", ErrCorruptStore, path, r.end, err)
		}
		s.remember(r.hardState, r.entries)
	}
	// The same transaction upgrades a store made before the log existed.
	s.lockWriter()
	defer s.unlockWriter()
	return s.update(func(tx *bolt.Tx) error { return tx.Bucket(metaBucket).Put(keyFormat, []byte(storeFormat)) })
}

// closeLog takes the log into bbolt one last time and marks the store
// closed cleanly. Only the first call does anything.
func (s *BoltStore) closeLog() error {
	var err error
	s.closeOnce.Do(func() { err = s.closeLogOnce() })
	return err
}

func (s *BoltStore) closeLogOnce() error {
	close(s.flushStop)
	<-s.flushDone
	s.lockWriter()
	defer s.unlockWriter()
	// A store that failed takes in what it acknowledged: the record that
	// failed is after p.end.
	p := s.pending
	fold := func(tx *bolt.Tx) error { return s.fold(tx, p, true) }
	err := s.updateBolt(fold)
	if err != nil && !p.empty() {
		// On a full disk the room bbolt needs may be in the log file,
		// most of which bbolt already holds.
		if s.takenAt.generation == s.wal.generation && s.wal.release(s.takenAt.offset) == nil {
			err = s.updateBolt(fold)
		}
	}
	return errors.Join(err, s.wal.close())
}
