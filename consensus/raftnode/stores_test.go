package raftnode

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/synodvm/synod/consensus/cluster"
	"github.com/synodvm/synod/consensus/raftlog"
)

// Rejoin replaces a damaged store and keeps the damaged file aside; it
// refuses to touch an intact store, and a missing store needs it.
func TestRejoinReplacesOnlyALostStore(t *testing.T) {
	cfg, err := CreateCluster(filepath.Join(t.TempDir(), "c"), cluster.Spec{Nodes: 3})
	require.NoError(t, err)
	me := cfg.Nodes[0]
	dir := cfg.Path(me.DataDir)

	_, err = Start(cfg, me.ID, Options{Rejoin: true})
	require.ErrorContains(t, err, "intact", "an intact store is not replaced")

	require.NoError(t, os.WriteFile(filepath.Join(dir, raftlog.StoreFileName), []byte("damaged beyond repair"), 0o600))
	_, err = Start(cfg, me.ID, Options{})
	require.ErrorIs(t, err, raftlog.ErrCorruptStore)

	n, err := Start(cfg, me.ID, Options{Rejoin: true})
	require.NoError(t, err)
	n.Stop()
	aside, err := filepath.Glob(filepath.Join(dir, "lost-*", raftlog.StoreFileName))
	require.NoError(t, err)
	require.Len(t, aside, 1)
	b, err := os.ReadFile(aside[0])
	require.NoError(t, err)
	assert.Equal(t, "damaged beyond repair", string(b), "the damaged file is kept as it was")

	store, err := raftlog.OpenBoltStore(dir, identity(cfg, me.ID))
	require.NoError(t, err)
	rejoining, _ := store.Rejoin()
	assert.True(t, rejoining, "the new store does not vote until it has caught up")
	require.NoError(t, store.Close())

	require.NoError(t, os.RemoveAll(dir))
	_, err = Start(cfg, me.ID, Options{})
	require.ErrorIs(t, err, raftlog.ErrMissingStore)
}

// A store written by a later synod is not damage: --rejoin refuses to set
// it aside, so that the later synod can still read it.
func TestRejoinLeavesALaterFormatInPlace(t *testing.T) {
	cfg, err := CreateCluster(filepath.Join(t.TempDir(), "c"), cluster.Spec{Nodes: 3})
	require.NoError(t, err)
	me := cfg.Nodes[0]
	dir := cfg.Path(me.DataDir)
	db, err := bolt.Open(filepath.Join(dir, raftlog.StoreFileName), 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("format"), []byte("synod-raft/9"))
	}))
	require.NoError(t, db.Close())

	for _, rejoin := range []bool{false, true} {
		_, err = Start(cfg, me.ID, Options{Rejoin: rejoin})
		require.ErrorIs(t, err, raftlog.ErrLaterFormat, "rejoin %v", rejoin)
		assert.Contains(t, err.Error(), "later synod")
	}
	aside, err := filepath.Glob(filepath.Join(dir, "lost-*"))
	require.NoError(t, err)
	assert.Empty(t, aside, "nothing is set aside")
}
