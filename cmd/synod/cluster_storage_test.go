package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/raftlog"
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
	r, err := c.report(3)
	require.NoError(t, err)
	require.Equal(t, "rejoining", r.Role, "synod status shows that node 3 does not vote yet")

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
	if !c.exitsWithin(id, patience) {
		c.t.Fatalf("timed out waiting for node %d to exit", id)
	}
}

// exitsWithin reports whether node id's process ends by itself within d.
func (c *testCluster) exitsWithin(id consensus.NodeID, d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if !c.running(id) {
			return true
		}
	}
	return !c.running(id)
}

// nodeLog is everything node id's processes have logged.
func (c *testCluster) nodeLog(id consensus.NodeID) string {
	c.t.Helper()
	b, err := os.ReadFile(filepath.Join(c.cfg.Dir(), fmt.Sprintf("node%d.log", id)))
	require.NoError(c.t, err)
	return string(b)
}

// A node whose store was damaged while it was down (a bit flipped inside
// a log entry, or a bbolt page overwritten) refuses to start with a
// one-line error naming the file, instead of skipping the entry and
// serving stale reads or panicking; with --rejoin it sets the damaged
// files aside, catches up from the others and serves the cluster's state.
func TestClusterDamagedStoreIsRefusedThenRepaired(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 3-node clusters")
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
		log    string
	}{
		{"flipped bit in a log entry", flipLastEntryBit, "fails its checksum"},
		{"overwritten bbolt page", overwriteEntriesRootPage, "raft store is corrupted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := startCluster(t, 3, testMachine(""))
			c.waitServing()
			kv, err := dialKV(c.serviceAddr(1))
			require.NoError(t, err)
			defer kv.Close()
			setKeys(t, kv, 0, 30)
			c.eventually("node 3 has every write", func() bool {
				r3, err3 := c.report(3)
				r1, err1 := c.report(1)
				return err1 == nil && err3 == nil && r3.Delivered == r1.Delivered
			})
			c.kill(3)
			// Opening and closing the store takes its write-ahead log into
			// bbolt, as a clean stop would: the damage then lands on the
			// entries and pages the node will read, whatever its background
			// flush had done before the kill.
			dataDir := c.cfg.Path(c.node(3).DataDir)
			store, err := raftlog.OpenBoltStore(dataDir, raftlog.Identity{ClusterID: c.cfg.ClusterID, Node: 3})
			require.NoError(t, err)
			require.NoError(t, store.Close())
			path := filepath.Join(dataDir, raftlog.StoreFileName)
			tt.damage(t, path)

			c.start(3)
			c.waitExit(3)
			log := c.nodeLog(3)
			require.Contains(t, log, tt.log)
			require.Contains(t, log, path, "the error names the file")
			require.Contains(t, log, "--rejoin")
			require.NotContains(t, log, "goroutine ", "no panic")
			require.NotContains(t, log, "ignoring undecodable log entr")

			setKeys(t, kv, 30, 40) // acknowledged while node 3 is down
			c.startWith(3, "--rejoin")
			c.waitServing()
			kv3, err := dialKV(c.serviceAddr(3))
			require.NoError(t, err)
			defer kv3.Close()
			for i := range 10 {
				r, err := kv3.do("GET", fmt.Sprintf("k%d", i))
				require.NoError(t, err)
				require.Equal(t, strconv.Itoa(30+i), r, "node 3 serves every acknowledged write")
			}
			c.converged()
			aside, err := filepath.Glob(filepath.Join(filepath.Dir(path), "lost-*", raftlog.StoreFileName))
			require.NoError(t, err)
			require.Len(t, aside, 1, "the damaged store is kept aside, not deleted")
		})
	}
}

// flipLastEntryBit flips one bit in the data of the newest stored entry:
// it still decodes, so only its checksum tells.
func flipLastEntryBit(t *testing.T, path string) {
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("entries"))
		k, v := b.Cursor().Last()
		require.NotNil(t, k)
		v = bytes.Clone(v)
		v[len(v)-1] ^= 0x01
		return b.Put(bytes.Clone(k), v)
	}))
}

// overwriteEntriesRootPage fills the page at the root of the log's bbolt
// bucket with garbage, as a torn or misdirected disk write would.
func overwriteEntriesRootPage(t *testing.T, path string) {
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	var root uint64
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		root = uint64(tx.Bucket([]byte("entries")).Root())
		return nil
	}))
	pageSize := db.Info().PageSize
	require.NoError(t, db.Close())
	require.NotZero(t, root, "the log is big enough to have pages of its own")
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(bytes.Repeat([]byte{0xa5}, pageSize), int64(root)*int64(pageSize))
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// The operator's path through synod up: a node whose data directory is
// deleted does not come back with a plain synod start, which says to use
// --rejoin; synod start --rejoin brings it back serving what it missed.
func TestStartRejoinsANodeOfUpThatLostItsDirectory(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	dir := t.TempDir()
	up := synodCommand("up", "--dir", dir, "--service-offset", strconv.Itoa(freeServiceOffset(t, 3)))
	up.Stdout, up.Stderr = io.Discard, io.Discard
	require.NoError(t, up.Start())
	defer func() {
		_ = up.Process.Signal(syscall.SIGTERM)
		_ = up.Wait()
	}()
	var cj upCluster
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "cluster.json"))
		return err == nil && json.Unmarshal(b, &cj) == nil && len(cj.Nodes) == 3
	}, patience, 50*time.Millisecond)
	for _, n := range cj.Nodes {
		waitDial(t, n.Service)
	}
	node3 := cj.Nodes[2]
	require.NoError(t, syscall.Kill(node3.PID, syscall.SIGKILL))
	require.NoError(t, os.RemoveAll(node3.DataDir))
	kv1, err := dialKV(cj.Nodes[0].Service)
	require.NoError(t, err)
	defer kv1.Close()
	r, err := kv1.do("SET", "while-lost", "yes")
	require.NoError(t, err)
	require.Equal(t, "OK", r)

	out, err := synodCommand("start", "--dir", dir, "3").CombinedOutput()
	require.Error(t, err, "a node without its store does not start: %s", out)
	require.Contains(t, string(out), "raft store is missing", "synod start says why the node stopped")
	require.Contains(t, string(out), "start it with --rejoin")

	start := synodCommand("start", "--rejoin", "--dir", dir, "3")
	require.NoError(t, start.Start())
	defer func() {
		_ = start.Process.Signal(syscall.SIGTERM)
		_ = start.Wait()
	}()
	waitDial(t, node3.Service)
	kv3, err := dialKV(node3.Service)
	require.NoError(t, err)
	defer kv3.Close()
	r, err = kv3.do("GET", "while-lost")
	require.NoError(t, err)
	require.Equal(t, "yes", r, "node 3 caught up")
}
