package bft

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

func TestBoltStorageAppendsReplacesAndReopens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bft.db")
	s, err := OpenBoltStorage(path)
	require.NoError(t, err)
	require.NoError(t, s.Append([][]byte{[]byte("a"), []byte("b")}, false))
	require.NoError(t, s.Append([][]byte{[]byte("c")}, false))
	require.NoError(t, s.Close())

	s, err = OpenBoltStorage(path)
	require.NoError(t, err)
	got, err := s.Load()
	require.NoError(t, err)
	require.Equal(t, [][]byte{[]byte("a"), []byte("b"), []byte("c")}, got)
	require.NoError(t, s.Append([][]byte{[]byte("d")}, true))
	require.NoError(t, s.Append([][]byte{[]byte("e")}, false))
	got, err = s.Load()
	require.NoError(t, err)
	require.Equal(t, [][]byte{[]byte("d"), []byte("e")}, got, "a replace drops everything before it")
	require.NoError(t, s.Close())
}

func TestBoltStorageRefusesADamagedRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bft.db")
	s, err := OpenBoltStorage(path)
	require.NoError(t, err)
	require.NoError(t, s.Append([][]byte{[]byte("prepare view 3 seq 7")}, false))
	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(recordsBucket).Cursor()
		k, v := c.First()
		damaged := append([]byte(nil), v...)
		damaged[len(damaged)-1] ^= 1
		return tx.Bucket(recordsBucket).Put(k, damaged)
	}))
	_, err = s.Load()
	require.ErrorIs(t, err, ErrCorruptStorage)
	require.NoError(t, s.Close())
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		ok     bool
	}{
		{"defaults", func(*Config) {}, true},
		{"id 0", func(c *Config) { c.ID = 0 }, false},
		{"not a member", func(c *Config) { c.ID = 9 }, false},
		{"another member's key", func(c *Config) { c.PrivateKey = testKey(2) }, false},
		{"window below the checkpoint interval", func(c *Config) { c.CheckpointInterval, c.Window = 8, 4 }, false},
		{"request larger than a batch", func(c *Config) { c.MaxRequestBytes, c.MaxBatchBytes = 2048, 1024 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{ID: 1, PublicKeys: testMembers(4), PrivateKey: testKey(1)}
			tt.change(&cfg)
			err := cfg.Validate()
			if tt.ok {
				require.NoError(t, err)
				require.Equal(t, 2*cfg.CheckpointInterval, cfg.Window)
			} else {
				require.Error(t, err)
			}
		})
	}
}
