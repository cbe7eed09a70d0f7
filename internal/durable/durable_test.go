package durable

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// WriteFile replaces a file whole, with the mode asked for, and leaves no
// temporary file behind, whether it succeeds or fails.
func TestWriteFileReplacesWhole(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "record")
	require.NoError(t, WriteFile(path, []byte("first, and longer"), 0o600))
	require.NoError(t, WriteFile(path, []byte("second"), 0o644))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "second", string(got))
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), info.Mode().Perm())

	err = WriteFile(filepath.Join(dir, "missing", "record"), []byte("x"), 0o600)
	require.ErrorContains(t, err, filepath.Join(dir, "missing", "record"))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "only the record: no temporary file is left")
}

func TestDatasyncAndSyncDir(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "data"))
	require.NoError(t, err)
	defer f.Close()
	_, err = f.Write([]byte("kept"))
	require.NoError(t, err)
	require.NoError(t, Datasync(f))
	require.NoError(t, SyncDir(dir))
	require.ErrorContains(t, SyncDir(filepath.Join(dir, "missing")), "sync directory")
}
