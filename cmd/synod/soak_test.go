package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/raftlog"
)

// soakDuration is how long TestClusterSoak injects faults: two minutes by
// default (CI), longer with SYNOD_SOAK=10m.
func soakDuration(t *testing.T) time.Duration {
	d := 2 * time.Minute
	if s := os.Getenv("SYNOD_SOAK"); s != "" {
		var err error
		d, err = time.ParseDuration(s)
		require.NoError(t, err, "SYNOD_SOAK")
	}
	return d
}

// TestClusterSoak runs clients against a 3-node cluster while one fault at
// a time strikes a node: SIGKILL of any node or of the leader, a bit
// flipped in a stopped node's log (it refuses to start, then rejoins), a
// deleted data directory (it rejoins), and a full disk (node 2's data
// directory is a small tmpfs, when the test may mount one). At the end
// every write a client saw acknowledged must be on every node: a value
// below the last acknowledged one is a lost write.
func TestClusterSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("a soak of several minutes")
	}
	duration := soakDuration(t)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SYNOD_SOAK_SEED"); s != "" {
		var err error
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "SYNOD_SOAK_SEED")
	}
	t.Logf("seed %d (SYNOD_SOAK_SEED=%d repeats the fault schedule), %v of faults", seed, seed, duration)
	rng := rand.New(rand.NewPCG(seed, seed))

	c := newTestCluster(t, 3, testMachine(""))
	disk := mountSmallDisk(t, c.cfg.Path(c.node(2).DataDir))
	for _, n := range c.cfg.Nodes {
		c.start(n.ID)
	}
	c.waitServing()

	load := startSoakLoad(c, 4)
	faults := map[string]int{}
	inject := []struct {
		name string
		run  func(id consensus.NodeID)
	}{
		{"kill", func(id consensus.NodeID) { c.kill(id); soakPause(rng); c.start(id) }},
		{"kill leader", func(consensus.NodeID) { id := c.leader(); c.kill(id); soakPause(rng); c.start(id) }},
		{"flip a bit in the log", func(id consensus.NodeID) {
			c.kill(id)
			flipLastEntryBit(t, filepath.Join(c.cfg.Path(c.node(id).DataDir), raftlog.StoreFileName))
			c.start(id)
			c.waitExit(id)
			c.startWith(id, "--rejoin")
		}},
		{"delete the data directory", func(id consensus.NodeID) {
			c.kill(id)
			emptyDir(t, c.cfg.Path(c.node(id).DataDir))
			c.startWith(id, "--rejoin")
		}},
	}
	if disk != "" {
		inject = append(inject, struct {
			name string
			run  func(consensus.NodeID)
		}{"full disk", func(consensus.NodeID) {
			filler := fillDisk(t, disk)
			// The node stops at its first write that finds no space. One
			// whose store has just been compacted reuses its own free
			// pages for a while: it writes on, which is no fault.
			stopped := c.exitsWithin(2, fullDiskPatience)
			require.NoError(t, os.Remove(filler))
			if stopped {
				c.start(2)
			}
		}})
	}
	deadline := time.Now().Add(duration)
	for time.Now().Before(deadline) {
		f := inject[rng.IntN(len(inject))]
		f.run(consensus.NodeID(1 + rng.IntN(3)))
		faults[f.name]++
		c.waitServing()
		soakPause(rng)
	}
	acked, gap := load.stop()
	lost := 0
	c.waitServing()
	c.converged()

	for _, n := range c.cfg.Nodes {
		kv, err := dialKV(c.serviceAddr(n.ID))
		require.NoError(t, err)
		for key, a := range acked {
			r, err := kv.do("GET", key)
			require.NoError(t, err)
			got, err := strconv.Atoi(r)
			require.NoError(t, err, "node %d: %s = %q", n.ID, key, r)
			if got < a.acked || got > a.tried {
				lost++
				t.Errorf("node %d: %s = %d, but %d was acknowledged (and %d the last tried)", n.ID, key, got, a.acked, a.tried)
			}
		}
		kv.Close()
	}
	divergences := 0
	for _, n := range c.cfg.Nodes {
		divergences += strings.Count(c.nodeLog(n.ID), "replica diverged")
	}
	t.Logf("faults %v; writes acknowledged %d, lost %d; divergences %d; longest time without an acknowledgement %v",
		faults, load.acks(), lost, divergences, gap.Round(time.Millisecond))
	require.Zero(t, lost, "acknowledged writes lost")
	require.Zero(t, divergences, "replicas diverged")
}

func soakPause(rng *rand.Rand) { time.Sleep(time.Duration(500+rng.IntN(2000)) * time.Millisecond) }

// mountSmallDisk puts a 64 MiB tmpfs over dir, keeping the files in it
// (a new data directory holds only its store), and returns dir; or ""
// when this machine does not let the test mount one.
func mountSmallDisk(t *testing.T, dir string) string {
	if os.Geteuid() != 0 {
		t.Log("not root: no full-disk faults")
		return ""
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	saved := map[string][]byte{}
	for _, e := range entries {
		saved[e.Name()], err = os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Logf("cannot mount a tmpfs here (%v: %s): no full-disk faults", err, out)
		return ""
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v: %s", dir, err, out)
		}
	})
	for name, b := range saved {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o600))
	}
	return dir
}

// fullDiskPatience is how long the full-disk fault waits for the node
// to stop before it frees the disk again.
const fullDiskPatience = 20 * time.Second

// fillDisk writes a file until the disk holding dir is full.
func fillDisk(t *testing.T, dir string) string {
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	block := make([]byte, 1<<20)
	for range 1 << 12 { // 4 GiB at most; the disk is far smaller
		if _, err := f.Write(block); err != nil {
			require.ErrorIs(t, err, syscall.ENOSPC)
			return path
		}
	}
	t.Fatal("the small disk never filled")
	return ""
}

// emptyDir removes everything inside dir, which may be a mount point.
func emptyDir(t *testing.T, dir string) {
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		require.NoError(t, os.RemoveAll(filepath.Join(dir, e.Name())))
	}
}

// soakLoad is clients writing increasing numbers to their own keys, each
// moving to another node when its own stops answering.
type soakLoad struct {
	c    *testCluster
	done chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	keys    map[string]*soakKey
	ackN    int
	lastAck time.Time
	gap     time.Duration
}

type soakKey struct{ acked, tried int }

func startSoakLoad(c *testCluster, clients int) *soakLoad {
	l := &soakLoad{c: c, done: make(chan struct{}), keys: map[string]*soakKey{}, lastAck: time.Now()}
	for i := range clients {
		l.wg.Add(1)
		go l.client(i)
	}
	return l
}

// keysPerClient keeps the final check short: each key holds the last
// value written, and values only grow.
const keysPerClient = 16

func (l *soakLoad) client(id int) {
	defer l.wg.Done()
	node := consensus.NodeID(1 + id%3)
	var kv *kvClient
	defer func() {
		if kv != nil {
			kv.Close()
		}
	}()
	for seq := 1; ; seq++ {
		select {
		case <-l.done:
			return
		default:
		}
		if kv == nil {
			var err error
			if kv, err = dialKV(l.c.serviceAddr(node)); err != nil {
				node = node%3 + 1
				time.Sleep(100 * time.Millisecond)
				continue
			}
		}
		key := fmt.Sprintf("c%dk%d", id, seq%keysPerClient)
		l.tried(key, seq)
		r, err := kv.do("SET", key, strconv.Itoa(seq))
		if err != nil || r != "OK" {
			kv.Close()
			kv, node = nil, node%3+1
			continue
		}
		l.ack(key, seq)
	}
}

func (l *soakLoad) tried(key string, seq int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := l.keys[key]
	if k == nil {
		k = &soakKey{}
		l.keys[key] = k
	}
	k.tried = seq
}

func (l *soakLoad) ack(key string, seq int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.keys[key].acked = seq
	l.ackN++
	now := time.Now()
	l.gap = max(l.gap, now.Sub(l.lastAck))
	l.lastAck = now
}

func (l *soakLoad) acks() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ackN
}

// stop ends the clients and returns what they saw: per key the last
// acknowledged and last tried value, and the longest time with no
// acknowledgement at all.
func (l *soakLoad) stop() (map[string]soakKey, time.Duration) {
	close(l.done)
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]soakKey{}
	for k, v := range l.keys {
		if v.acked > 0 {
			out[k] = *v
		}
	}
	return out, l.gap
}
