package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
)

// A node of synod up killed with SIGKILL comes back with synod start
// --foreground and serves what was written while it was gone.
func TestStartBringsBackANodeOfUp(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	dir := t.TempDir()
	var upOut, upErr syncBuffer
	up := synodCommand("up", "--dir", dir, "--service-offset", strconv.Itoa(freeServiceOffset(t, 3)))
	up.Stdout, up.Stderr = &upOut, &upErr
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

	node2 := cj.Nodes[1]
	require.NoError(t, syscall.Kill(node2.PID, syscall.SIGKILL))
	require.Eventually(t, func() bool { return strings.Contains(upErr.String(), "synod start --dir "+dir+" 2") },
		patience, 50*time.Millisecond, "synod up says how to start the node again")
	kv1, err := dialKV(cj.Nodes[0].Service)
	require.NoError(t, err)
	defer kv1.Close()
	r, err := kv1.do("SET", "while-down", "yes")
	require.NoError(t, err)
	require.Equal(t, "OK", r)

	var startErr bytes.Buffer
	start := synodCommand("start", "--foreground", "--dir", dir, "2")
	start.Stderr = &startErr
	require.NoError(t, start.Start())
	defer func() {
		_ = start.Process.Signal(syscall.SIGTERM)
		_ = start.Wait()
	}()
	waitDial(t, node2.Service)
	kv2, err := dialKV(node2.Service)
	require.NoError(t, err)
	defer kv2.Close()
	r, err = kv2.do("GET", "while-down")
	require.NoError(t, err)
	require.Equal(t, "yes", r, "node 2 caught up")

	again := synodCommand("start", "--dir", dir, "2")
	out, err := again.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "node 2 is running", "a running node is not started twice")
}

// freeServiceOffset finds a service offset for a cluster of synod up on
// this machine whose nodes' service ports are free right now: the bundled
// service's port plus it, plus 1000, 2000, …
func freeServiceOffset(t *testing.T, nodes int) int {
	t.Helper()
	for range 100 {
		first := freeTCPPort(t)
		free := true
		for i := 1; i < nodes && free; i++ {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(first+1000*i)))
			if err == nil {
				l.Close()
			}
			free = err == nil
		}
		if free {
			return first - serviceGuestPort
		}
	}
	t.Fatal("no free service ports")
	return 0
}

// Several synod starts at once, each of a different node, leave
// cluster.json whole, with every node's new pid: none reads another's
// half-written file or writes back a pid it read before another start
// wrote its own.
func TestConcurrentStartsKeepClusterJSON(t *testing.T) {
	const nodes = 12
	dir := t.TempDir()
	up := upCluster{Dir: dir, Config: filepath.Join(dir, "cluster.toml")}
	for i := range nodes {
		id := consensus.NodeID(i + 1)
		up.Nodes = append(up.Nodes, upNode{
			ID: id,
			// Nothing listens on port 1: the node is not running.
			Status: "127.0.0.1:1",
			Log:    filepath.Join(dir, fmt.Sprintf("node%d.log", id)),
			// A node that ends at once, successfully: only the
			// bookkeeping of synod start is under test.
			Command: []string{"synod", "help"},
		})
	}
	require.NoError(t, updateCluster(dir, func(c *upCluster) error { *c = up; return nil }))

	starts := make([]*exec.Cmd, nodes)
	stderrs := make([]*bytes.Buffer, nodes)
	for i := range starts {
		starts[i] = synodCommand("start", "--foreground", "--dir", dir, strconv.Itoa(i+1))
		stderrs[i] = &bytes.Buffer{}
		starts[i].Stdout, starts[i].Stderr = io.Discard, stderrs[i]
		require.NoError(t, starts[i].Start())
	}
	pids := map[consensus.NodeID]int{}
	for i, s := range starts {
		waitFor(t, s, patience)
		require.True(t, s.ProcessState.Success(), "synod start %d: %s", i+1, stderrs[i])
		var id consensus.NodeID
		var pid int
		_, err := fmt.Sscanf(stderrs[i].String(), "synod start: node %d running, pid %d", &id, &pid)
		require.NoError(t, err, "synod start %d: %s", i+1, stderrs[i])
		pids[id] = pid
	}

	b, err := os.ReadFile(filepath.Join(dir, "cluster.json"))
	require.NoError(t, err)
	var got upCluster
	require.NoError(t, json.Unmarshal(b, &got), "cluster.json:\n%s", b)
	require.Len(t, got.Nodes, nodes)
	for _, n := range got.Nodes {
		assert.Equal(t, pids[n.ID], n.PID, "node %d's pid", n.ID)
	}
}
