package raftlog

import (
	"crypto/sha256"
	"encoding/binary"
	"os"
	"path/filepath"
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.prepare(t, dir)
			before := fileDigest(t, filepath.Join(dir, StoreFileName))
			_, err := OpenBoltStore(dir, tt.id)
			require.ErrorIs(t, err, tt.want)
			assert.Contains(t, err.Error(), filepath.Join(dir, StoreFileName), "the error names the file")
			assert.Equal(t, before, fileDigest(t, filepath.Join(dir, StoreFileName)), "a refused store is left untouched")
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

func fileDigest(t *testing.T, path string) [32]byte {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return sha256.Sum256(b)
}
