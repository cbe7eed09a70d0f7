package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/raftlog"
)

// A node whose stored machine state was silently corrupted (a flipped byte
// that decodes fine) restarts from it, diverges from the other two, is
// caught at the next checkpoint with a report of what differs, takes a
// healthy peer's state and ends with the same state hash as the others,
// while the cluster serves throughout.
func TestClusterDivergedNodeTakesAPeersState(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	m := testMachine("")
	m.snapshotEvery = 40
	c := startCluster(t, 3, m)
	c.waitServing()
	kv, err := dialKV(c.serviceAddr(1))
	require.NoError(t, err)
	defer kv.Close()
	setKeys(t, kv, 0, 150)
	c.eventually("node 3 has a snapshot of its own", func() bool {
		r, err := c.report(3)
		return err == nil && r.Delivered > 2*m.snapshotEvery
	})
	c.kill(3)
	corruptStoredSnapshot(t, c, 3)

	c.start(3)
	c.eventually("node 3 detects its divergence and takes a peer's state", func() bool {
		setKeys(t, kv, 150, 160) // checkpoints come with activity
		r, err := c.report(3)
		return err == nil && r.Resyncs == 1
	})
	c.waitServing()
	setKeys(t, kv, 160, 200)
	c.converged()
	kv3, err := dialKV(c.serviceAddr(3))
	require.NoError(t, err)
	defer kv3.Close()
	r, err := kv3.do("GET", "k9")
	require.NoError(t, err)
	require.Equal(t, "199", r, "node 3 serves the cluster's state")

	log, err := os.ReadFile(filepath.Join(c.cfg.Dir(), "node3.log"))
	require.NoError(t, err)
	require.Contains(t, string(log), "replica diverged from the quorum")
	require.Contains(t, string(log), "differing: memory", "the report names what differs")
}

// corruptStoredSnapshot flips one byte near the end of the machine state
// in a stopped node's stored snapshot: inside the data of the highest page
// of guest memory, so the snapshot still decodes.
func corruptStoredSnapshot(t *testing.T, c *testCluster, id consensus.NodeID) {
	t.Helper()
	store, err := raftlog.OpenBoltStore(c.cfg.Path(c.node(id).DataDir), raftlog.Identity{ClusterID: c.cfg.ClusterID, Node: id})
	require.NoError(t, err)
	defer func() { require.NoError(t, store.Close()) }()
	snap, err := store.Snapshot()
	require.NoError(t, err)
	require.Greater(t, len(snap.GetData()), 8192, "node %d has stored a snapshot", id)
	snap.Data[len(snap.Data)-100] ^= 0x10
	require.NoError(t, store.InstallSnapshot(snap), "the same snapshot, one byte off")
}
