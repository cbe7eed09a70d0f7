package raftlog

import (
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// fillEntries opens a bbolt file in a fresh directory with a bucket of n
// entries keyed 1..n as the log keys them.
func fillEntries(t testing.TB, n int) *bolt.DB {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "entries.db"), 0o600, nil)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("entries"))
		if err != nil {
			return err
		}
		value := make([]byte, 100)
		for i := 1; i <= n; i++ {
			if err := b.Put(binary.BigEndian.AppendUint64(nil, uint64(i)), value); err != nil {
				return err
			}
		}
		return nil
	}))
	return db
}

func TestDeleteThroughKeepsTheLaterEntries(t *testing.T) {
	for _, through := range []uint64{0, 1, 999, 5000, 9999, 10000, 20000} {
		db := fillEntries(t, 10000)
		require.NoError(t, db.Update(func(tx *bolt.Tx) error { return deleteThrough(tx.Bucket([]byte("entries")), through) }))
		require.NoError(t, db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket([]byte("entries")).Cursor()
			want := min(through, 10000) + 1
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				require.Equal(t, want, binary.BigEndian.Uint64(k), "through %d", through)
				want++
			}
			require.Equal(t, uint64(10001), want, "through %d: every later entry is kept", through)
			return nil
		}))
	}
}

// BenchmarkDeleteThrough is a compaction after a snapshot at the nodes'
// default interval: 10,000 entries go in one transaction.
func BenchmarkDeleteThrough(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		db := fillEntries(b, 10000)
		b.StartTimer()
		require.NoError(b, db.Update(func(tx *bolt.Tx) error { return deleteThrough(tx.Bucket([]byte("entries")), 10000) }))
	}
}
