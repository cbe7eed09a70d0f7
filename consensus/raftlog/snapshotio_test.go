package raftlog

import (
	"bytes"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A snapshot larger than the burst is written whole, paced, with the
// checksum of the whole, computed a chunk at a time.
func TestPacedWriteWritesEveryByte(t *testing.T) {
	data := make([]byte, snapshotWriteBurst+2*snapshotWriteChunk+12345)
	_, _ = rand.NewChaCha8([32]byte{1}).Read(data)
	path := filepath.Join(t.TempDir(), "paced")
	f, err := os.Create(path)
	require.NoError(t, err)
	sum, err := writePaced(f, data)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	assert.Equal(t, crc32.Checksum(data, castagnoli), sum)
	written, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(data, written), "the file holds the data")
}

// A replaced snapshot file larger than a slice is cut down off the
// caller's goroutine and is gone once the store closes; the current
// one stays.
func TestReplacedLargeSnapshotFileIsRemoved(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	require.NoError(t, s.Save(hardState(1, 1, 10), ents(1, 1, 10), nil))
	require.NoError(t, s.SaveSnapshot(snapshotAt(4, 1, "state@4"), 2))
	// A file left by an earlier life, as large as a machine snapshot.
	stale := filepath.Join(dir, snapshotFile{index: 3, term: 1, crc: 7}.name())
	require.NoError(t, os.WriteFile(stale, nil, 0o600))
	require.NoError(t, os.Truncate(stale, 3*reapSlice+1))

	require.NoError(t, s.SaveSnapshot(snapshotAt(8, 1, "state@8"), 6))
	require.NoError(t, s.Close())
	files, err := filepath.Glob(filepath.Join(dir, snapshotFilePrefix+"*"))
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(dir, s.snapFile.name())}, files)
}

// A staged snapshot file survives the removal of stale files that
// another snapshot's save makes meanwhile, and can still be saved.
func TestStagedSnapshotFileIsNotRemovedBeforeItIsSaved(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	require.NoError(t, s.Save(hardState(1, 1, 10), ents(1, 1, 10), nil))
	staged, err := s.stageSnapshot(8, []byte("state@8"))
	require.NoError(t, err)
	require.NoError(t, s.SaveSnapshot(snapshotAt(4, 1, "state@4"), 2))
	m := snapshotAt(8, 1, "").GetMetadata()
	require.NoError(t, s.saveStagedSnapshot(staged, m, 6))
	snap, err := s.Snapshot()
	require.NoError(t, err)
	assert.Equal(t, "state@8", string(snap.GetData()))
}
