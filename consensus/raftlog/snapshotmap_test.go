package raftlog

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// storeWithSnapshotAt4 is a store in dir holding entries 1 to 10 and a
// snapshot at 4.
func storeWithSnapshotAt4(t *testing.T, dir string) *BoltStore {
	t.Helper()
	s := openTestStore(t, dir)
	require.NoError(t, s.Save(hardState(1, 1, 10), ents(1, 1, 10), nil))
	require.NoError(t, s.SaveSnapshot(snapshotAt(4, 1, "state@4"), 2))
	return s
}

// The stored snapshot maps with its data intact, and its file outlives a
// newer snapshot for as long as it is mapped.
func TestMappedSnapshotFileStaysUntilUnmapped(t *testing.T) {
	dir := t.TempDir()
	s := storeWithSnapshotAt4(t, dir)
	old := filepath.Join(dir, s.snapFile.name())

	snap, unmap, err := s.mapSnapshot()
	require.NoError(t, err)
	assert.Equal(t, "state@4", string(snap.GetData()))
	assert.Equal(t, uint64(4), snap.GetMetadata().GetIndex())

	require.NoError(t, s.SaveSnapshot(snapshotAt(8, 1, "state@8"), 6))
	assert.FileExists(t, old, "a mapped file is not removed")
	assert.Equal(t, "state@4", string(snap.GetData()))
	unmap()
	assert.NoFileExists(t, old, "it goes once unmapped")
}

// A mapped snapshot file is checked like a read one.
func TestMappedSnapshotFileIsChecked(t *testing.T) {
	dir := t.TempDir()
	s := storeWithSnapshotAt4(t, dir)
	path := filepath.Join(dir, s.snapFile.name())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	b[0] ^= 0x80
	require.NoError(t, os.WriteFile(path, b, 0o600))
	_, _, err = s.mapSnapshot()
	require.ErrorIs(t, err, ErrCorruptStore)
	assert.Contains(t, err.Error(), path)

	require.NoError(t, os.Truncate(path, 3))
	_, _, err = s.mapSnapshot()
	require.ErrorIs(t, err, ErrCorruptStore)
	assert.Contains(t, err.Error(), "has 3 bytes")
}

// readAhead hands raft the mapped snapshot once, and unmaps it when the
// Core releases its data, or when a newer snapshot replaces one not yet
// handed out.
func TestReadAheadUnmapsWhatItHandedOut(t *testing.T) {
	bolt := storeWithSnapshotAt4(t, t.TempDir())
	store, ra := newReadAhead(bolt)
	ra.enable()
	snap := readAheadSnapshot(t, store, ra)
	assert.Equal(t, "state@4", string(snap.GetData()))
	mappedFiles := func() int {
		bolt.filesMu.Lock()
		defer bolt.filesMu.Unlock()
		return len(bolt.mapped)
	}
	assert.Equal(t, 1, mappedFiles())
	ra.release(snap.GetData())
	assert.Equal(t, 0, mappedFiles(), "released")

	_, err := store.Snapshot() // starts another read
	require.ErrorIs(t, err, raft.ErrSnapshotTemporarilyUnavailable)
	ra.done.Wait()
	assert.Equal(t, 1, mappedFiles(), "read ahead, not handed out")
	require.NoError(t, store.SaveSnapshot(snapshotAt(8, 1, "state@8"), 6))
	assert.Equal(t, 0, mappedFiles(), "a read of a replaced snapshot is dropped")

	snap = readAheadSnapshot(t, store, ra)
	assert.Equal(t, "state@8", string(snap.GetData()))
	ra.releaseAll()
	assert.Equal(t, 0, mappedFiles())
}

// readAheadSnapshot asks store, read ahead by ra, for its snapshot until
// the read ahead is done.
func readAheadSnapshot(t *testing.T, store Store, ra *readAhead) *pb.Snapshot {
	t.Helper()
	for range 2 {
		snap, err := store.Snapshot()
		if err == nil {
			return snap
		}
		require.ErrorIs(t, err, raft.ErrSnapshotTemporarilyUnavailable)
		ra.done.Wait()
	}
	t.Fatal("the snapshot read ahead was not handed out")
	return nil
}
