package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/raftlog"
)

// A node whose stored machine state was corrupted restarts from it and
// loses it: a silent corruption (it still decodes) makes the replica
// diverge from the other two until the next checkpoint catches it with a
// report of what differs; a loud one (it no longer decodes) fails the
// restore. Either way the node takes a healthy peer's state and ends with
// the same state hash as the others, while the cluster serves throughout.
func TestClusterNodeWithCorruptStateTakesAPeersState(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 3-node clusters")
	}
	tests := []struct {
		name    string
		corrupt func(t *testing.T, state []byte)
		log     []string
		// divergences is what node 3's metrics count: a state that no
		// longer restores is repaired without diverging.
		divergences float64
	}{
		{"silent", flipRandomPoolByte, []string{"replica diverged from the quorum", "differing: world"}, 1},
		{"loud", func(_ *testing.T, state []byte) { state[len(state)-100] ^= 0x10 }, []string{"replica snapshot does not restore"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
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
			corruptStoredSnapshot(t, c, 3, tt.corrupt)

			c.start(3)
			// No writes until node 3 has its own state back, or failed to
			// restore it: a restarted node waits for the leader before it
			// replays its store, and a leader whose log has moved past
			// node 3's meanwhile sends its snapshot, which replaces the
			// damaged one before anything reads it.
			c.eventually("node 3 restores its stored state or fails to", func() bool {
				r, err := c.report(3)
				return err == nil && (r.Booted || r.Resyncs == 1)
			})
			c.eventually("node 3 takes a peer's state", func() bool {
				setKeys(t, kv, 150, 160) // checkpoints come with activity
				r, err := c.report(3)
				return err == nil && r.Resyncs == 1
			})
			repairs, _ := scrape(t, c.node(3).StatusAddr, `synod_replica_repairs_total`)
			require.Equal(t, 1.0, repairs, "node 3's repairs")
			divergences, _ := scrape(t, c.node(3).StatusAddr, `synod_replica_divergences_total`)
			require.Equal(t, tt.divergences, divergences, "node 3's divergences")
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
			for _, want := range tt.log {
				require.Contains(t, string(log), want)
			}
		})
	}
}

// corruptStoredSnapshot changes the replica state in a stopped node's
// stored snapshot with corrupt.
func corruptStoredSnapshot(t *testing.T, c *testCluster, id consensus.NodeID, corrupt func(*testing.T, []byte)) {
	t.Helper()
	store, err := raftlog.OpenBoltStore(c.cfg.Path(c.node(id).DataDir), raftlog.Identity{ClusterID: c.cfg.ClusterID, Node: id})
	require.NoError(t, err)
	defer func() { require.NoError(t, store.Close()) }()
	snap, err := store.Snapshot()
	require.NoError(t, err)
	require.NotEmpty(t, snap.GetData(), "node %d has stored a snapshot", id)
	corrupt(t, snap.Data)
	require.NoError(t, store.InstallSnapshot(snap), "the same snapshot, one byte off")
}

// flipRandomPoolByte changes one byte of the replicated random pool in
// the world section of a replica snapshot, keeping the snapshot decodable:
// the kind of fault only the state hash can see. It reads the layout
// replica/snapshot.go and replica/worldstate.go write: the magic line,
// then sections of a big-endian 8-byte length and their bytes (header,
// world, process); the world starts with four 8-byte numbers, the member
// and down lists (a uvarint count of 8-byte ids each), then the pool (a
// uvarint length and its bytes).
func flipRandomPoolByte(t *testing.T, state []byte) {
	magic := []byte("synod-replica-7\n")
	require.True(t, bytes.HasPrefix(state, magic), "a snapshot of the format this test reads")
	at := len(magic)
	skipSection := func() { at += 8 + int(binary.BigEndian.Uint64(state[at:])) }
	skipSection()
	at += 8 + 4*8
	uvarint := func() int {
		v, n := binary.Uvarint(state[at:])
		require.Positive(t, n)
		at += n
		return int(v)
	}
	at += 8 * uvarint()
	at += 8 * uvarint()
	require.Positive(t, uvarint(), "the world has a random pool")
	state[at] ^= 0x01
}
