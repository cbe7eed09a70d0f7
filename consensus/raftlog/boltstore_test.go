package raftlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

var testIdentity = Identity{ClusterID: testCluster, Node: 1}

// openStore opens the store in dir, first creating it as synod init
// would when there is none.
func openStore(dir string, id Identity) (*BoltStore, error) {
	if _, err := os.Stat(filepath.Join(dir, StoreFileName)); os.IsNotExist(err) {
		if err := CreateBoltStore(dir, id, StoreLife{}); err != nil {
			return nil, err
		}
	}
	return OpenBoltStore(dir, id)
}

func openTestStore(t *testing.T, dir string) *BoltStore {
	t.Helper()
	s, err := openStore(dir, testIdentity)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func ents(term uint64, from, to uint64) []*pb.Entry {
	var out []*pb.Entry
	for i := from; i <= to; i++ {
		out = append(out, &pb.Entry{Term: new(term), Index: new(i), Type: pb.EntryNormal.Enum(), Data: []byte{byte(i)}})
	}
	return out
}

func hardState(term, vote, commit uint64) *pb.HardState {
	return &pb.HardState{Term: new(term), Vote: new(vote), Commit: new(commit)}
}

func TestStoreSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	require.NoError(t, s.Save(hardState(1, 1, 3), ents(1, 1, 5), nil))
	// A new leader overwrites the uncommitted tail.
	require.NoError(t, s.Save(hardState(2, 2, 3), ents(2, 4, 4), nil))
	require.NoError(t, s.Close())

	s = openTestStore(t, dir)
	hs, _, err := s.InitialState()
	require.NoError(t, err)
	assert.Equal(t, uint64(2), hs.GetTerm())
	assert.Equal(t, uint64(3), hs.GetCommit())
	last, _ := s.LastIndex()
	assert.Equal(t, uint64(4), last, "the overwritten entry 5 is gone")
	for i, want := range []uint64{1, 1, 1, 2} {
		term, err := s.Term(uint64(i + 1))
		require.NoError(t, err)
		assert.Equal(t, want, term, "term of %d", i+1)
	}
	got, err := s.Entries(2, 5, 1<<20)
	require.NoError(t, err)
	require.Len(t, got, 3)
	assert.Equal(t, []byte{2}, got[0].GetData())
	one, err := s.Entries(1, 5, 1)
	require.NoError(t, err)
	assert.Len(t, one, 1, "maxSize still returns one entry")
	_, err = s.Term(5)
	assert.ErrorIs(t, err, raft.ErrUnavailable)
}

func TestStoreSnapshotAndCompaction(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	require.NoError(t, s.Save(hardState(1, 1, 10), ents(1, 1, 10), nil))
	cs := &pb.ConfState{Voters: []uint64{1, 2, 3}}
	snap := &pb.Snapshot{Data: []byte("state@8"), Metadata: &pb.SnapshotMetadata{Index: new(uint64(8)), Term: new(uint64(1)), ConfState: cs}}
	require.NoError(t, s.SaveSnapshot(snap, 6))
	require.Error(t, s.SaveSnapshot(snap, 6), "an older or equal snapshot is refused")
	require.NoError(t, s.Close())

	s = openTestStore(t, dir)
	first, _ := s.FirstIndex()
	assert.Equal(t, uint64(7), first)
	term, err := s.Term(6)
	require.NoError(t, err, "the term before the first entry stays known")
	assert.Equal(t, uint64(1), term)
	_, err = s.Entries(6, 8, 1<<20)
	assert.ErrorIs(t, err, raft.ErrCompacted)
	got, err := s.Snapshot()
	require.NoError(t, err)
	assert.Equal(t, "state@8", string(got.GetData()))
	_, gotCS, err := s.InitialState()
	require.NoError(t, err)
	assert.Equal(t, []uint64{1, 2, 3}, gotCS.GetVoters())

	// A snapshot from the leader replaces the whole log.
	leaderSnap := &pb.Snapshot{Data: []byte("state@20"), Metadata: &pb.SnapshotMetadata{Index: new(uint64(20)), Term: new(uint64(3)), ConfState: cs}}
	require.NoError(t, s.Save(hardState(3, 2, 20), nil, leaderSnap))
	first, _ = s.FirstIndex()
	last, _ := s.LastIndex()
	assert.Equal(t, []uint64{21, 20}, []uint64{first, last})
	require.NoError(t, s.Save(nil, ents(3, 21, 22), nil))
	last, _ = s.LastIndex()
	assert.Equal(t, uint64(22), last)
	require.Error(t, s.Save(nil, ents(3, 30, 30), nil), "a gap in the log is refused")
}

// A stopped node takes a peer's snapshot as raft would take the leader's:
// the log after it stays where the store agrees with it, and goes where it
// does not; the hard state never falls behind the snapshot.
func TestStoreInstallSnapshot(t *testing.T) {
	cs := &pb.ConfState{Voters: []uint64{1, 2, 3}}
	snapAt := func(index, term uint64) *pb.Snapshot {
		return &pb.Snapshot{Data: []byte("peer state"), Metadata: &pb.SnapshotMetadata{Index: new(index), Term: new(term), ConfState: cs}}
	}
	tests := []struct {
		name        string
		snap        *pb.Snapshot
		first, last uint64
		hard        *pb.HardState
	}{
		{"agrees at its index: the rest of the log stays", snapAt(6, 1), 7, 10, hardState(2, 1, 6)},
		{"beyond the log: the log goes", snapAt(15, 3), 16, 15, hardState(3, 0, 15)},
		{"disagrees at its index: the log goes", snapAt(9, 2), 10, 9, hardState(2, 1, 9)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openTestStore(t, dir)
			require.NoError(t, s.Save(hardState(2, 1, 4), ents(1, 1, 10), nil))
			require.NoError(t, s.InstallSnapshot(tt.snap))
			for i := tt.first; i <= tt.last; i++ {
				term, err := s.Term(i)
				require.NoError(t, err)
				assert.Equal(t, uint64(1), term, "the entry kept at %d", i)
			}
			require.NoError(t, s.Close())

			s = openTestStore(t, dir)
			first, _ := s.FirstIndex()
			last, _ := s.LastIndex()
			assert.Equal(t, []uint64{tt.first, tt.last}, []uint64{first, last})
			hs, gotCS, err := s.InitialState()
			require.NoError(t, err)
			assert.Equal(t, tt.hard.String(), hs.String())
			assert.Equal(t, cs.GetVoters(), gotCS.GetVoters())
			got, err := s.Snapshot()
			require.NoError(t, err)
			assert.Equal(t, "peer state", string(got.GetData()))
			term, err := s.Term(tt.snap.GetMetadata().GetIndex())
			require.NoError(t, err)
			assert.Equal(t, tt.snap.GetMetadata().GetTerm(), term)
		})
	}

	s := openTestStore(t, t.TempDir())
	require.NoError(t, s.Save(hardState(1, 1, 10), ents(1, 1, 10), nil))
	require.NoError(t, s.SaveSnapshot(snapAt(8, 1), 6))
	assert.Error(t, s.InstallSnapshot(snapAt(7, 1)), "older than the store's own snapshot")
	assert.Error(t, s.InstallSnapshot(&pb.Snapshot{Metadata: &pb.SnapshotMetadata{Index: new(uint64(9)), Term: new(uint64(1))}}), "no configuration")
}

func TestStoreRefusesForeignOrDamagedData(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string)
		id      Identity
		want    error
	}{
		{name: "another cluster", prepare: makeStore, id: Identity{ClusterID: "ffffffffffffffffffffffffffffffff", Node: 1}, want: ErrForeignStore},
		{name: "another node", prepare: makeStore, id: Identity{ClusterID: testCluster, Node: 2}, want: ErrForeignStore},
		{name: "garbage file", prepare: writeFile(make([]byte, 64<<10)), id: testIdentity, want: ErrCorruptStore},
		{name: "empty file", prepare: writeFile(nil), id: testIdentity, want: ErrCorruptStore},
		{name: "bbolt file of something else", prepare: foreignBolt, id: testIdentity, want: ErrCorruptStore},
		{name: "damaged log entry", prepare: damageEntry, id: testIdentity, want: ErrCorruptStore},
		{name: "a bit flipped inside a log entry", prepare: flipEntryBit, id: testIdentity, want: ErrCorruptStore},
		{name: "a bit flipped in the hard state", prepare: flipMetaBit(keyHardState), id: testIdentity, want: ErrCorruptStore},
		{name: "snapshot data file missing", prepare: removeSnapshotFile, id: testIdentity, want: ErrCorruptStore},
		{name: "a store of a later format", prepare: laterFormat, id: testIdentity, want: ErrLaterFormat},
		{name: "no store", prepare: func(*testing.T, string) {}, id: testIdentity, want: ErrMissingStore},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.prepare(t, dir)
			before := dirDigest(t, dir)
			_, err := OpenBoltStore(dir, tt.id)
			require.ErrorIs(t, err, tt.want)
			assert.Contains(t, err.Error(), filepath.Join(dir, StoreFileName), "the error names the file")
			assert.Equal(t, before, dirDigest(t, dir), "a refused store is left untouched")
		})
	}
}

func makeStore(t *testing.T, dir string) {
	s, err := openStore(dir, testIdentity)
	require.NoError(t, err)
	require.NoError(t, s.Save(hardState(1, 1, 2), ents(1, 1, 3), nil))
	require.NoError(t, s.Close())
}

func writeFile(b []byte) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, StoreFileName), b, 0o600))
	}
}

func foreignBolt(t *testing.T, dir string) {
	db, err := bolt.Open(filepath.Join(dir, StoreFileName), 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("something-else"))
		return err
	}))
	require.NoError(t, db.Close())
}

// laterFormat leaves a store as a later synod would: a format number
// past this one's, and a layout this one may not know.
func laterFormat(t *testing.T, dir string) {
	makeStore(t, dir)
	db, err := bolt.Open(filepath.Join(dir, StoreFileName), 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(entriesBucket); err != nil {
			return err
		}
		return tx.Bucket(metaBucket).Put(keyFormat, []byte("synod-raft/4"))
	}))
	require.NoError(t, db.Close())
}

func damageEntry(t *testing.T, dir string) {
	makeStore(t, dir)
	db, err := bolt.Open(filepath.Join(dir, StoreFileName), 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(entriesBucket).Put(binary.BigEndian.AppendUint64(nil, 2), []byte("not an entry at all"))
	}))
	require.NoError(t, db.Close())
}

func TestStoreIsLockedWhileOpen(t *testing.T) {
	dir := t.TempDir()
	openTestStore(t, dir)
	_, err := OpenBoltStore(dir, testIdentity)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "locked")
}

// dirDigest hashes the names and contents of the files in dir.
func dirDigest(t *testing.T, dir string) [32]byte {
	h := sha256.New()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		h.Write([]byte(e.Name()))
		h.Write(b)
	}
	return [32]byte(h.Sum(nil))
}

// flipEntryBit changes one bit of a stored entry's payload, where a
// store without checksums would still decode it: the entry would be
// applied with different data.
func flipEntryBit(t *testing.T, dir string) {
	makeStore(t, dir)
	updateBolt(t, dir, func(tx *bolt.Tx) error {
		b := tx.Bucket(entriesBucket)
		k := binary.BigEndian.AppendUint64(nil, 2)
		v := bytes.Clone(b.Get(k))
		v[len(v)-1] ^= 0x01 // the last byte of the entry's data
		return b.Put(k, v)
	})
}

func flipMetaBit(key []byte) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		makeStore(t, dir)
		updateBolt(t, dir, func(tx *bolt.Tx) error {
			b := tx.Bucket(metaBucket)
			v := bytes.Clone(b.Get(key))
			v[len(v)-1] ^= 0x01
			return b.Put(key, v)
		})
	}
}

func removeSnapshotFile(t *testing.T, dir string) {
	s := openTestStore(t, dir)
	require.NoError(t, s.Save(hardState(1, 1, 3), ents(1, 1, 3), nil))
	require.NoError(t, s.SaveSnapshot(snapshotAt(2, 1, "state@2"), 1))
	require.NoError(t, s.Close())
	files, err := filepath.Glob(filepath.Join(dir, snapshotFilePrefix+"*"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	require.NoError(t, os.Remove(files[0]))
}

func updateBolt(t *testing.T, dir string, f func(*bolt.Tx) error) {
	db, err := bolt.Open(filepath.Join(dir, StoreFileName), 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(f))
	require.NoError(t, db.Close())
}

func snapshotAt(index, term uint64, data string) *pb.Snapshot {
	return &pb.Snapshot{Data: []byte(data), Metadata: &pb.SnapshotMetadata{
		Index: new(index), Term: new(term), ConfState: &pb.ConfState{Voters: []uint64{1, 2, 3}}}}
}

// A damaged snapshot data file is found when it is read, and the error
// names the file and the index; a new snapshot replaces the old file.
func TestStoreSnapshotFileIsChecked(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	require.NoError(t, s.Save(hardState(1, 1, 10), ents(1, 1, 10), nil))
	require.NoError(t, s.SaveSnapshot(snapshotAt(4, 1, "state@4"), 2))
	require.NoError(t, s.SaveSnapshot(snapshotAt(8, 1, "state@8"), 6))
	files, err := filepath.Glob(filepath.Join(dir, snapshotFilePrefix+"*"))
	require.NoError(t, err)
	require.Len(t, files, 1, "the replaced snapshot's file is gone")

	b, err := os.ReadFile(files[0])
	require.NoError(t, err)
	b[0] ^= 0x80
	require.NoError(t, os.WriteFile(files[0], b, 0o600))
	_, err = s.Snapshot()
	require.ErrorIs(t, err, ErrCorruptStore)
	assert.Contains(t, err.Error(), files[0])
	assert.Contains(t, err.Error(), "index 8")
}

// bbolt trusts its pages; garbage written over any page past the two meta
// pages must come back as ErrCorruptStore from open or from a read, never
// as a panic.
func TestStoreDamagedPagesAreErrorsNotPanics(t *testing.T) {
	const pageSize = 4096
	base := t.TempDir()
	makeStore(t, base)
	s := openTestStore(t, base)
	require.NoError(t, s.Save(hardState(1, 1, 400), bigEnts(1, 400), nil))
	require.NoError(t, s.Close())
	pristine, err := os.ReadFile(filepath.Join(base, StoreFileName))
	require.NoError(t, err)
	pages := len(pristine) / pageSize
	require.Greater(t, pages, 4)
	for page := 2; page < pages; page++ {
		for _, fill := range []byte{0x00, 0xff, 0x5a} {
			dir := t.TempDir()
			damaged := bytes.Clone(pristine)
			for i := page * pageSize; i < (page+1)*pageSize; i++ {
				damaged[i] = fill
			}
			require.NoError(t, os.WriteFile(filepath.Join(dir, StoreFileName), damaged, 0o600))
			s, err := OpenBoltStore(dir, testIdentity)
			if err != nil {
				require.ErrorIs(t, err, ErrCorruptStore, "page %d filled with %#x", page, fill)
				continue
			}
			// Pages only the readers touch: every entry is read back.
			_, err = s.Entries(1, 401, 1<<30)
			if err != nil {
				require.ErrorIs(t, err, ErrCorruptStore, "page %d filled with %#x", page, fill)
			}
			require.NoError(t, s.Close())
		}
	}
}

func bigEnts(from, to uint64) []*pb.Entry {
	out := ents(1, from, to)
	for _, e := range out {
		e.Data = bytes.Repeat([]byte{byte(e.GetIndex())}, 100)
	}
	return out
}

func TestStoreErrorsSayWhatTheOperatorCanFix(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&os.PathError{Op: "open", Path: "raft.db", Err: syscall.EROFS}, "read-only"},
		{&os.PathError{Op: "open", Path: "raft.db", Err: syscall.EACCES}, "read-only or owned by another user"},
		{&os.PathError{Op: "write", Path: "raft.db", Err: syscall.ENOSPC}, "disk is full"},
	}
	for _, tt := range tests {
		assert.Contains(t, describeOSError(tt.err).Error(), tt.want)
		assert.ErrorIs(t, describeOSError(tt.err), tt.err.(*os.PathError).Err)
	}
}

// BenchmarkStoreTerm asks the term of entries near the end of a stored
// log, as raft does for every append it sends or receives (the term of the
// entry before the new ones): the most frequent store read of a serving
// node.
func BenchmarkStoreTerm(b *testing.B) {
	s, err := openStore(b.TempDir(), testIdentity)
	require.NoError(b, err)
	defer s.Close()
	require.NoError(b, s.Save(hardState(2, 1, 0), ents(1, 1, 500), nil))
	require.NoError(b, s.Save(nil, ents(2, 501, 1000), nil))
	b.ReportAllocs()
	i := uint64(0)
	for b.Loop() {
		if _, err := s.Term(1000 - i%64); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// The terms the store answers from memory are those of the entries it
// holds, through overwritten tails, snapshots from a leader, compactions
// and reopening.
func TestStoreTermsAreTheStoredEntries(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	rng := rand.New(rand.NewPCG(1, 2))
	term, snapIndex := uint64(1), uint64(0)
	cs := &pb.ConfState{Voters: []uint64{1, 2, 3}}
	for step := range 400 {
		first, _ := s.FirstIndex()
		last, _ := s.LastIndex()
		switch op := rng.IntN(10); {
		case op < 6: // a leader appends, often over an uncommitted tail
			if rng.IntN(3) == 0 {
				term++
			}
			from := last + 1
			if last >= first && rng.IntN(2) == 0 {
				from = first + rng.Uint64N(last-first+1)
			}
			require.NoError(t, s.Save(hardState(term, 1, 0), ents(term, from, from+rng.Uint64N(5)), nil), "step %d", step)
		case op < 8 && last > snapIndex: // the node snapshots and compacts
			snapIndex += 1 + rng.Uint64N(last-snapIndex)
			snapTerm, err := s.Term(snapIndex)
			require.NoError(t, err)
			snap := &pb.Snapshot{Data: []byte("state"), Metadata: &pb.SnapshotMetadata{Index: new(snapIndex), Term: new(snapTerm), ConfState: cs}}
			require.NoError(t, s.SaveSnapshot(snap, snapIndex-min(snapIndex-first+1, rng.Uint64N(4))), "step %d", step)
		case op == 8: // a leader's snapshot replaces the log
			term++
			snapIndex = last + 1 + rng.Uint64N(3)
			snap := &pb.Snapshot{Data: []byte("leader"), Metadata: &pb.SnapshotMetadata{Index: new(snapIndex), Term: new(term), ConfState: cs}}
			require.NoError(t, s.Save(hardState(term, 1, snapIndex), nil, snap), "step %d", step)
		default:
			require.NoError(t, s.Close())
			s = openTestStore(t, dir)
		}
		first, _ = s.FirstIndex()
		last, _ = s.LastIndex()
		for i := first; i <= last; i++ {
			stored, err := s.Entries(i, i+1, 1<<20)
			require.NoError(t, err)
			got, err := s.Term(i)
			require.NoError(t, err)
			require.Equal(t, stored[0].GetTerm(), got, "step %d: term of entry %d", step, i)
		}
	}
}
