package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/bft"
	"github.com/synodvm/synod/consensus/bftnode"
)

// A Byzantine member whose stored stable checkpoint no longer matches
// its certificate (its bytes damaged before they were checksummed, so
// the store cannot tell) neither refuses to start nor runs from the
// wrong state: it fetches the certified state from the members that
// signed it and serves the cluster's state again.
func TestByzantineNodeWithADamagedCheckpointFetchesTheCertifiedState(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 4-node cluster")
	}
	const damaged = consensus.NodeID(3)
	c := startByzantineCluster(t)
	kv, err := dialKV(c.serviceAddr(1))
	require.NoError(t, err)
	defer kv.Close()
	setKeys(t, kv, 0, 100)
	c.eventually("node 3 has a stable checkpoint", func() bool {
		r, err := c.report(damaged)
		return err == nil && r.Snapshot > 0
	})
	c.kill(damaged)
	damageStableCheckpoint(t, c, damaged)

	c.start(damaged)
	setKeys(t, kv, 100, 150)
	c.waitServing()
	setKeys(t, kv, 150, 200)
	c.converged()
	// Restarted, node 3 may have been declared down meanwhile: it takes
	// clients again once it is declared up.
	c.waitServingOn(patience, damaged)
	kv3, err := dialKV(c.serviceAddr(damaged))
	require.NoError(t, err)
	defer kv3.Close()
	r, err := kv3.do("GET", "k9")
	require.NoError(t, err)
	require.Equal(t, "199", r, "node %d serves the cluster's state", damaged)
	log, err := os.ReadFile(filepath.Join(c.cfg.Dir(), "node3.log"))
	require.NoError(t, err)
	require.Contains(t, string(log), "does not match its certificate")
}

// damageStableCheckpoint flips the last byte of the largest record in a
// stopped Byzantine node's store, the stable checkpoint with the
// machine's snapshot, and stores the records again with their checksums
// computed anew: damage only the certificate can show.
func damageStableCheckpoint(t *testing.T, c *testCluster, id consensus.NodeID) {
	t.Helper()
	store, err := bft.OpenFileStorage(filepath.Join(c.cfg.Path(c.node(id).DataDir), bftnode.StoreFileName))
	require.NoError(t, err)
	defer func() { require.NoError(t, store.Close()) }()
	records, err := store.Load()
	require.NoError(t, err)
	largest := 0
	for i, r := range records {
		if len(r) > len(records[largest]) {
			largest = i
		}
	}
	require.Greater(t, len(records[largest]), 1<<16, "node %d stored a checkpoint with the machine's snapshot", id)
	records[largest][len(records[largest])-1] ^= 0x01
	require.NoError(t, store.Append(records, true))
}
