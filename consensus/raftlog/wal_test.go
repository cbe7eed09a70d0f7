package raftlog

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
	pb "go.etcd.io/raft/v3/raftpb"
)

// openLoggingStore opens a store whose log bbolt never takes in by
// itself, so that what a reopen finds comes from the log.
func openLoggingStore(t *testing.T, dir string) *BoltStore {
	t.Helper()
	s, err := openStore(dir, testIdentity)
	require.NoError(t, err)
	s.flushDelay = time.Hour
	return s
}

// crash drops the store as a killed process would: no last flush, no
// clean mark.
func crash(t *testing.T, s *BoltStore) {
	t.Helper()
	s.closeOnce.Do(func() {
		close(s.flushStop)
		<-s.flushDone
		require.NoError(t, s.wal.close())
	})
	s.reaper.close()
	require.NoError(t, s.db.Close())
}

// boltEntries is how many entries bbolt itself holds in dir's store.
func boltEntries(t *testing.T, dir string) int {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, StoreFileName), 0o600, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	defer db.Close()
	n := 0
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(entriesBucket).Stats().KeyN
		return nil
	}))
	return n
}

func entryData(t *testing.T, s *BoltStore, lo, hi uint64) [][]byte {
	t.Helper()
	got, err := s.Entries(lo, hi, 1<<30)
	require.NoError(t, err)
	var out [][]byte
	for _, e := range got {
		out = append(out, e.GetData())
	}
	return out
}

func TestWALReplayIsWhatWasSaved(t *testing.T) {
	dir := t.TempDir()
	s := openLoggingStore(t, dir)
	require.NoError(t, s.Save(hardState(1, 1, 0), ents(1, 1, 5), nil))
	require.NoError(t, s.Save(hardState(1, 1, 3), nil, nil))
	require.NoError(t, s.Save(hardState(2, 2, 3), ents(2, 4, 6), nil), "a new leader replaces 4 and 5")
	want := entryData(t, s, 1, 7)
	crash(t, s)
	require.Zero(t, boltEntries(t, dir), "the entries were only in the log")

	s = openTestStore(t, dir)
	hs, _, err := s.InitialState()
	require.NoError(t, err)
	assert.Equal(t, hardState(2, 2, 3).String(), hs.String())
	last, err := s.LastIndex()
	require.NoError(t, err)
	assert.Equal(t, uint64(6), last)
	assert.Equal(t, want, entryData(t, s, 1, 7))
	for i, term := range []uint64{1, 1, 1, 2, 2, 2} {
		got, err := s.Term(uint64(i + 1))
		require.NoError(t, err)
		assert.Equal(t, term, got, "term of %d", i+1)
	}
	crash(t, s)
	assert.Equal(t, 6, boltEntries(t, dir), "opening took the log into bbolt")
}

// A Save the background flush has taken into bbolt, and later Saves it
// has not, come back together; entries are read from both.
func TestWALEntriesSpanBoltAndLog(t *testing.T) {
	dir := t.TempDir()
	s := openLoggingStore(t, dir)
	require.NoError(t, s.Save(hardState(1, 1, 2), ents(1, 1, 4), nil))
	s.flush()
	require.NoError(t, s.Save(hardState(2, 1, 2), ents(2, 3, 8), nil))
	assert.Equal(t, [][]byte{{1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}}, entryData(t, s, 1, 9))
	crash(t, s)
	assert.Equal(t, 4, boltEntries(t, dir))

	s = openTestStore(t, dir)
	assert.Equal(t, [][]byte{{1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}}, entryData(t, s, 1, 9))
	term, err := s.Term(3)
	require.NoError(t, err)
	assert.Equal(t, uint64(2), term, "entry 3 is the replacing one, not bbolt's")
}

// savedRecords saves one record per batch, crashes, and returns where
// each record starts and where the last ends.
func savedRecords(t *testing.T, dir string, batches ...[]*pb.Entry) (starts []int64, end int64) {
	t.Helper()
	s := openLoggingStore(t, dir)
	for _, b := range batches {
		starts = append(starts, s.wal.used)
		require.NoError(t, s.Save(nil, b, nil))
	}
	end = s.wal.used
	crash(t, s)
	return starts, end
}

func bigEntry(index uint64, size int) []*pb.Entry {
	return []*pb.Entry{{Term: new(uint64(1)), Index: new(index), Type: pb.EntryNormal.Enum(), Data: bytes.Repeat([]byte{byte(index)}, size)}}
}

func patchWAL(t *testing.T, dir string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, WALFileName), os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(b, off)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// A crash in the middle of writing the last record leaves its first
// sectors written and the rest zeros: the record was never acknowledged,
// and is cut off.
func TestWALTornTailIsCutOff(t *testing.T) {
	dir := t.TempDir()
	starts, end := savedRecords(t, dir, bigEntry(1, 100), bigEntry(2, 3000))
	patchWAL(t, dir, starts[1]+1024, make([]byte, end-starts[1]-1024))

	s := openLoggingStore(t, dir)
	last, err := s.LastIndex()
	require.NoError(t, err)
	assert.Equal(t, uint64(1), last, "the torn record is gone")
	// The log goes on after the cut, and comes back whole.
	require.NoError(t, s.Save(nil, bigEntry(2, 200), nil))
	require.NoError(t, s.Save(nil, bigEntry(3, 200), nil))
	want := entryData(t, s, 1, 4)
	crash(t, s)
	s = openTestStore(t, dir)
	assert.Equal(t, want, entryData(t, s, 1, 4))
}

// A record that fails its checksum anywhere else is damage: the store
// refuses to open and names the log and the offset, whether valid records
// follow it or it is the last one (a flipped bit leaves no zero sector).
// A damaged length is never taken for a torn record either, although the
// record it claims reaches into the zeros at the end of the file.
func TestWALDamageIsRefused(t *testing.T) {
	for _, tt := range []struct {
		name   string
		record int
		at     int64 // within the record
		says   string
	}{
		{"in the middle", 0, walRecordHead + 100, "fails its checksum"},
		{"in the last record", 2, walRecordHead + 100, "fails its checksum"},
		{"in a length", 0, 1, "beyond the end of the file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			starts, _ := savedRecords(t, dir, bigEntry(1, 700), bigEntry(2, 700), bigEntry(3, 700))
			at := starts[tt.record] + tt.at
			b := make([]byte, 1)
			f, err := os.Open(filepath.Join(dir, WALFileName))
			require.NoError(t, err)
			_, err = f.ReadAt(b, at)
			require.NoError(t, err)
			require.NoError(t, f.Close())
			patchWAL(t, dir, at, []byte{b[0] ^ 0x10})

			_, err = OpenBoltStore(dir, testIdentity)
			require.ErrorIs(t, err, ErrCorruptStore)
			assert.Contains(t, err.Error(), filepath.Join(dir, WALFileName))
			assert.Contains(t, err.Error(), tt.says)
		})
	}
}

// The log file stops growing at its maximum size: bbolt takes the log in
// and the file starts over, and nothing saved is lost across rollovers.
func TestWALRollsOver(t *testing.T) {
	dir := t.TempDir()
	s := openLoggingStore(t, dir)
	s.walMaxSize = walInitialSize
	gen := s.wal.generation
	for i := uint64(1); i <= 200; i++ {
		require.NoError(t, s.Save(hardState(1, 1, i-1), bigEntry(i, 1000), nil))
		require.LessOrEqual(t, s.wal.size, int64(walInitialSize))
	}
	assert.Greater(t, s.wal.generation, gen+1, "200 KB of records rolled a 64 KiB log over more than once")
	fi, err := os.Stat(filepath.Join(dir, WALFileName))
	require.NoError(t, err)
	assert.Equal(t, int64(walInitialSize), fi.Size())
	want := entryData(t, s, 1, 201)
	crash(t, s)
	assert.Less(t, boltEntries(t, dir), 200, "the last records are in the log only")

	s = openTestStore(t, dir)
	assert.Equal(t, want, entryData(t, s, 1, 201))
	hs, _, err := s.InitialState()
	require.NoError(t, err)
	assert.Equal(t, uint64(199), hs.GetCommit())
}

// A lost log is refused unless the store was closed cleanly, with
// everything in bbolt.
func TestWALMissingLog(t *testing.T) {
	dir := t.TempDir()
	s := openLoggingStore(t, dir)
	require.NoError(t, s.Save(hardState(1, 1, 0), ents(1, 1, 3), nil))
	crash(t, s)
	require.NoError(t, os.Rename(filepath.Join(dir, WALFileName), filepath.Join(dir, "aside")))
	_, err := OpenBoltStore(dir, testIdentity)
	require.ErrorIs(t, err, ErrCorruptStore)
	assert.Contains(t, err.Error(), "write-ahead log "+filepath.Join(dir, WALFileName)+" is missing")

	require.NoError(t, os.Rename(filepath.Join(dir, "aside"), filepath.Join(dir, WALFileName)))
	s = openTestStore(t, dir)
	require.NoError(t, s.Save(nil, ents(1, 4, 5), nil))
	require.NoError(t, s.Close())
	require.NoError(t, os.Remove(filepath.Join(dir, WALFileName)))
	s = openTestStore(t, dir)
	assert.Equal(t, [][]byte{{1}, {2}, {3}, {4}, {5}}, entryData(t, s, 1, 6))
}

// A store made before the log existed opens, and keeps what it held.
func TestWALUpgradesAnOldStore(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	require.NoError(t, s.Save(hardState(1, 1, 0), ents(1, 1, 3), nil))
	require.NoError(t, s.Close())
	require.NoError(t, os.Remove(filepath.Join(dir, WALFileName)))
	updateBolt(t, dir, func(tx *bolt.Tx) error {
		meta := tx.Bucket(metaBucket)
		return errors.Join(meta.Delete(keyWAL), meta.Put(keyFormat, []byte(storeFormatBeforeWAL)))
	})
	s = openTestStore(t, dir)
	assert.Equal(t, [][]byte{{1}, {2}, {3}}, entryData(t, s, 1, 4))
}
