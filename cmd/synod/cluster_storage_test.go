package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
)

// The scenario, step by step: a node whose data directory is
// deleted must not come back as an empty voter. Node 2 misses 20
// acknowledged writes; nodes 1 and 3 hold them; then both die and node 3
// loses its directory. Started alone with node 2, node 3 refuses to run
// until told to rejoin, and, rejoining, never votes: node 2 cannot lead
// without the writes it missed. When node 1 returns the cluster serves
// again with every acknowledged write, and node 3 catches up.
func TestClusterLostDataDirectoryNeverLosesWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	c := startCluster(t, 3, testMachine(""))
	c.waitServing()
	c.kill(2)

	kv, err := dialKV(c.serviceAddr(1))
	require.NoError(t, err)
	for i := range 20 {
		r, err := kv.do("SET", fmt.Sprintf("acked%d", i), strconv.Itoa(i))
		require.NoError(t, err)
		require.Equal(t, "OK", r)
	}
	kv.Close()
	c.kill(1)
	c.kill(3)
	require.NoError(t, os.RemoveAll(c.cfg.Path(c.node(3).DataDir)))

	c.start(2)
	c.start(3)
	c.waitExit(3)
	log := c.nodeLog(3)
	require.Contains(t, log, "--rejoin", "node 3 says how to bring it back")
	require.Contains(t, log, "missing", "node 3 says its store is missing")

	c.startWith(3, "--rejoin")
	// Node 2 lacks the acknowledged writes: it must not lead, and with
	// node 3 rejoining there is no majority that could elect it. Give
	// several election timeouts for a wrong leader to appear.
	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline) {
		for _, id := range []consensus.NodeID{2, 3} {
			if r, err := c.report(id); err == nil {
				require.NotEqual(t, "leader", r.Role, "node %d leads a cluster that lost acknowledged writes", id)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}

	c.start(1)
	c.waitServing()
	for _, id := range []consensus.NodeID{1, 2, 3} {
		kv, err := dialKV(c.serviceAddr(id))
		require.NoError(t, err)
		for i := range 20 {
			r, err := kv.do("GET", fmt.Sprintf("acked%d", i))
			require.NoError(t, err)
			require.Equal(t, strconv.Itoa(i), r, "acknowledged write %d through node %d", i, id)
		}
		setKeys(t, kv, 0, 10)
		kv.Close()
	}
	c.converged()
	require.Contains(t, c.nodeLog(3), "rejoining node caught up", "node 3 says when it votes again")
	if testing.Verbose() {
		t.Logf("node 3 log:\n%s", c.nodeLog(3))
	}
}

// waitExit waits until node id's process has ended by itself.
func (c *testCluster) waitExit(id consensus.NodeID) {
	c.t.Helper()
	c.eventually(fmt.Sprintf("node %d to exit", id), func() bool { return !c.running(id) })
}

// nodeLog is everything node id's processes have logged.
func (c *testCluster) nodeLog(id consensus.NodeID) string {
	c.t.Helper()
	b, err := os.ReadFile(filepath.Join(c.cfg.Dir(), fmt.Sprintf("node%d.log", id)))
	require.NoError(c.t, err)
	return string(b)
}
