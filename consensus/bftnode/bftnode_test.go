package bftnode

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
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
