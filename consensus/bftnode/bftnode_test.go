package bftnode

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/bft"
	"github.com/synodvm/synod/consensus/cluster"
)

func noSnapshot() (consensus.Snapshot, error) { return consensus.Snapshot{}, nil }

// A node of a Byzantine cluster starts only on the records it made
// before: one whose store is gone refuses, saying why, rather than start
// afresh and sign what could contradict its lost promises.
func TestStartRefusesALostStore(t *testing.T) {
	cfg, err := cluster.Create(t.TempDir(), cluster.Spec{Nodes: 4, Engine: cluster.EngineBFT})
	require.NoError(t, err)
	require.NoError(t, CreateStores(cfg))
	me, err := cfg.Node(1)
	require.NoError(t, err)
	path := filepath.Join(cfg.Path(me.DataDir), StoreFileName)
	require.FileExists(t, path, "a new cluster's nodes have their stores")

	require.NoError(t, os.Remove(path))
	_, err = Start(cfg, 1, Options{}, noSnapshot)
	require.ErrorContains(t, err, "node 1")
	require.ErrorContains(t, err, path)
	require.ErrorContains(t, err, "could contradict what it signed before")
	require.ErrorContains(t, err, "--rejoin", "it says how to bring the node back")
	require.NoFileExists(t, path, "no new store was made")
}

func TestStartRefusesARaftCluster(t *testing.T) {
	cfg, err := cluster.Create(t.TempDir(), cluster.Spec{Nodes: 4})
	require.NoError(t, err)
	_, err = Start(cfg, 1, Options{}, noSnapshot)
	require.ErrorContains(t, err, `the cluster runs engine "raft"`)
}

// A node whose records are in the bbolt store of an earlier synod says
// so, rather than that its records are lost.
func TestStartNamesAnEarlierStore(t *testing.T) {
	cfg, err := cluster.Create(t.TempDir(), cluster.Spec{Nodes: 4, Engine: cluster.EngineBFT})
	require.NoError(t, err)
	require.NoError(t, CreateStores(cfg))
	me, err := cfg.Node(1)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(cfg.Path(me.DataDir), earlierStoreFileName), []byte("bbolt"), 0o600))
	_, err = Start(cfg, 1, Options{}, noSnapshot)
	require.ErrorContains(t, err, "the bbolt store of an earlier synod")
}

// --rejoin replaces a lost store, or a damaged one, which it sets aside,
// by a new one marked rejoining; an intact store it leaves alone.
func TestRejoinReplacesOnlyALostOrDamagedStore(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, StoreFileName)
	logger := slog.New(slog.DiscardHandler)
	rejoining := func() {
		t.Helper()
		store, err := bft.OpenFileStorage(path)
		require.NoError(t, err)
		records, err := store.Load()
		require.NoError(t, err)
		require.NoError(t, store.Close())
		require.Len(t, records, 1, "the new store holds the rejoin mark alone")
		core, err := bft.NewCore(testEngineConfig(t), records)
		require.NoError(t, err)
		require.True(t, core.Status().Rejoining)
	}

	require.NoError(t, replaceLostStore(dir, 1, logger), "a lost store")
	rejoining()

	require.ErrorContains(t, replaceLostStore(dir, 1, logger), "intact")
	rejoining()

	require.NoError(t, os.WriteFile(path, []byte("not a record file"), 0o600))
	require.NoError(t, replaceLostStore(dir, 1, logger), "a damaged store")
	rejoining()
	aside, err := filepath.Glob(filepath.Join(dir, "lost-*", StoreFileName))
	require.NoError(t, err)
	require.Len(t, aside, 1, "the damaged store is set aside")
	b, err := os.ReadFile(aside[0])
	require.NoError(t, err)
	require.Equal(t, "not a record file", string(b))

	later := []byte("synod-bft-records-3\n")
	require.NoError(t, os.WriteFile(path, later, 0o600))
	require.ErrorContains(t, replaceLostStore(dir, 1, logger), "later synod", "a store of a later format is not damage")
	b, err = os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, later, b, "and it stays where it is")
}

// testEngineConfig is the engine config of member 1 of a 4-member cluster.
func testEngineConfig(t *testing.T) bft.Config {
	cfg, err := cluster.Create(t.TempDir(), cluster.Spec{Nodes: 4, Engine: cluster.EngineBFT})
	require.NoError(t, err)
	private, public, err := Keys(cfg, 1)
	require.NoError(t, err)
	return bft.Config{ID: 1, PrivateKey: private, PublicKeys: public, Cluster: cfg.ClusterID, Logger: slog.New(slog.DiscardHandler)}
}
