package machine

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// readOnlyCopy returns b in a read-only mapping, as a snapshot received
// into a memory file or mapped from its file is, and unmaps it at the
// end of the test.
func readOnlyCopy(t *testing.T, b []byte) []byte {
	t.Helper()
	mapped, err := unix.Mmap(-1, 0, len(b), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	require.NoError(t, err)
	copy(mapped, b)
	require.NoError(t, unix.Mprotect(mapped, unix.PROT_READ))
	t.Cleanup(func() { _ = unix.Munmap(mapped) })
	return mapped
}

// TestRestoreRefersToTheSnapshotInPlace: a memory restored from a
// read-only snapshot reads its pages there and copies a page when it is
// first written, through WriteBytes or the store cache, so the snapshot
// never changes (a write into it would fault) and the memory has the
// state and hash of the one it was taken from.
func TestRestoreRefersToTheSnapshotInPlace(t *testing.T) {
	orig := NewMemory()
	require.NoError(t, orig.Map(dataBase, 4*PageSize, ProtRead|ProtWrite))
	for n := range uint32(4) {
		require.NoError(t, orig.StoreWord(dataBase+n*PageSize+16, 0x1000+n))
	}
	state := orig.AppendState(nil)
	snapshot := readOnlyCopy(t, state)

	m, rest, err := RestoreMemory(snapshot)
	require.NoError(t, err)
	require.Empty(t, rest)
	assert.Equal(t, orig.Hash(), m.Hash())
	v, err := m.LoadWord(dataBase + 2*PageSize + 16)
	require.NoError(t, err)
	assert.Equal(t, uint32(0x1002), v)

	require.NoError(t, m.WriteBytes(dataBase+16, []byte{9}))
	require.True(t, m.write32(dataBase+PageSize+16, 7), "through the store cache")
	require.True(t, m.write32(dataBase+PageSize+20, 8), "again, a cached store")
	v, err = m.LoadWord(dataBase + PageSize + 16)
	require.NoError(t, err)
	assert.Equal(t, uint32(7), v)
	assert.Equal(t, state, []byte(snapshot), "the snapshot did not change")
	assert.NotEqual(t, orig.Hash(), m.Hash())
	require.NoError(t, orig.WriteBytes(dataBase+16, []byte{9}))
	require.NoError(t, orig.StoreWord(dataBase+PageSize+16, 7))
	require.NoError(t, orig.StoreWord(dataBase+PageSize+20, 8))
	assert.Equal(t, orig.Hash(), m.Hash())
	assert.Equal(t, orig.AppendState(nil), m.AppendState(nil))
}

// TestRestoredMemoryKeepsItsSnapshot: the object that keeps a mapped
// snapshot valid stays reachable while anything made from the restored
// memory may still read the snapshot's pages: the memory, a clone of
// it, an image of it that is still to be encoded.
func TestRestoredMemoryKeepsItsSnapshot(t *testing.T) {
	orig := NewMemory()
	require.NoError(t, orig.Map(dataBase, PageSize, ProtRead|ProtWrite))
	require.NoError(t, orig.StoreWord(dataBase, 1))
	released := make(chan struct{})
	keep := new(int)
	runtime.AddCleanup(keep, func(ch chan struct{}) { close(ch) }, released)
	mems, _, err := RestoreGroup(orig.AppendState(nil), 1, keep)
	require.NoError(t, err)
	keep = nil

	stillKept := func(what string) {
		for range 3 {
			runtime.GC()
		}
		select {
		case <-released:
			t.Fatalf("the snapshot was released while %s could read it", what)
		default:
		}
	}
	clone := mems[0].Clone()
	mems = nil
	stillKept("a clone")
	img := clone.Freeze()
	clone = nil
	stillKept("an image")
	require.NotEmpty(t, img.AppendState(nil))
	img = nil
	for range 20 {
		runtime.GC()
		select {
		case <-released:
			return
		default:
		}
	}
	t.Fatal("the snapshot was never released once nothing used it")
}
