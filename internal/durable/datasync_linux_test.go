package durable

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// An appended log's sync keeps its goroutine's processor unless the one
// before took longer than slowSync, or the process runs on one
// processor: then it is made the usual way, and timed, and the next
// keeps its processor again if it was quick.
func TestASlowSyncLendsTheNextOnesProcessorOut(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	defer func(d time.Duration) { slowSync = d }(slowSync)
	procsAt.Store(0) // read GOMAXPROCS again
	slowSync = time.Minute
	f, err := os.Create(filepath.Join(t.TempDir(), "data"))
	require.NoError(t, err)
	defer f.Close()
	_, err = f.Write([]byte("kept"))
	require.NoError(t, err)

	lastSync.Store(int64(time.Hour))
	require.False(t, keepsP(time.Now()), "after a slow sync")
	require.NoError(t, DatasyncAppend(f))
	require.True(t, keepsP(time.Now()), "after a quick sync")
	require.NoError(t, DatasyncAppend(f), "a sync that keeps its processor")
	got, err := os.ReadFile(f.Name())
	require.NoError(t, err)
	require.Equal(t, "kept", string(got))

	runtime.GOMAXPROCS(1)
	procsAt.Store(0)
	require.False(t, keepsP(time.Now()), "with one processor")
}

// An append is written at its offset whether it keeps its processor
// (the last sync was quick) or not (it was slow), and nothing else of
// the file changes.
func TestAWriteAppendWritesAtItsOffsetEitherWay(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	procsAt.Store(0) // read GOMAXPROCS again
	defer lastSync.Store(lastSync.Load())
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	require.NoError(t, err)
	defer f.Close()
	_, err = f.Write(make([]byte, 16))
	require.NoError(t, err)

	lastSync.Store(0)
	require.True(t, keepsP(time.Now()))
	require.NoError(t, WriteAppend(f, []byte("kept"), 2))
	lastSync.Store(int64(time.Hour))
	require.False(t, keepsP(time.Now()))
	require.NoError(t, WriteAppend(f, []byte("lent"), 9))

	got, err := os.ReadFile(f.Name())
	require.NoError(t, err)
	require.Equal(t, "\x00\x00kept\x00\x00\x00lent\x00\x00\x00", string(got))
}
