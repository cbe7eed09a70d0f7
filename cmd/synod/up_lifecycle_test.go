package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
)

// upProcess is a synod up a test started, and what it printed.
type upProcess struct {
	cmd            *exec.Cmd
	stdout, stderr syncBuffer
	done           chan struct{}
}

// startUp starts synod up with args and env added to the environment;
// the test's end stops it, and any node of its cluster still running.
func startUp(t *testing.T, env []string, args ...string) *upProcess {
	t.Helper()
	u := &upProcess{cmd: synodCommand(append([]string{"up"}, args...)...), done: make(chan struct{})}
	u.cmd.Env = append(u.cmd.Env, env...)
	u.cmd.Stdout, u.cmd.Stderr = &u.stdout, &u.stderr
	require.NoError(t, u.cmd.Start())
	go func() {
		_ = u.cmd.Wait()
		close(u.done)
	}()
	t.Cleanup(func() {
		if u.running() {
			_ = u.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-u.done:
			case <-time.After(patience):
				_ = u.cmd.Process.Kill()
				<-u.done
			}
		}
		if t.Failed() {
			t.Logf("synod up's stderr:\n%s", u.stderr.String())
		}
	})
	return u
}

func (u *upProcess) running() bool {
	select {
	case <-u.done:
		return false
	default:
		return true
	}
}

// wait waits for synod up to end and reports whether it succeeded.
func (u *upProcess) wait(t *testing.T) bool {
	t.Helper()
	select {
	case <-u.done:
		return u.cmd.ProcessState.Success()
	case <-time.After(patience):
		t.Fatalf("synod up did not end within %v", patience)
		return false
	}
}

// table waits for synod up's node table and returns each node's service
// address and the cluster's directory.
func (u *upProcess) table(t *testing.T) (services map[consensus.NodeID]string, dir string) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !strings.Contains(u.stdout.String(), "\ncluster: ") {
		if !u.running() || time.Now().After(deadline) {
			t.Fatalf("no node table from synod up; stdout:\n%s\nstderr:\n%s", u.stdout.String(), u.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	services = map[consensus.NodeID]string{}
	inTable := false
	sc := bufio.NewScanner(strings.NewReader(u.stdout.String()))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) > 1 && f[0] == "NODE":
			inTable = true
		case len(f) > 1 && f[0] == "cluster:":
			return services, filepath.Dir(f[1])
		case inTable && len(f) > 1:
			id, err := strconv.ParseUint(f[0], 10, 64)
			require.NoError(t, err, "a row of the node table: %q", sc.Text())
			services[consensus.NodeID(id)] = f[1]
		}
	}
	t.Fatalf("no cluster line after the node table:\n%s", u.stdout.String())
	return nil, ""
}

// synod up shows the node table only once every node serves: a client
// that connects as soon as it sees the table is served. Stopped with
// Ctrl-C, a synod up without --dir leaves no directory behind.
func TestUpServesOnceItShowsTheTable(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	tmp := t.TempDir()
	up := startUp(t, []string{"TMPDIR=" + tmp}, "--service-offset", strconv.Itoa(freeServiceOffset(t, 3)))
	services, dir := up.table(t)
	require.Len(t, services, 3)
	for id, addr := range services {
		kv, err := dialKV(addr)
		require.NoError(t, err, "node %d's service at %s, right after the table", id, addr)
		r, err := kv.do("PING")
		kv.Close()
		require.NoError(t, err, "node %d's service at %s, right after the table", id, addr)
		require.Equal(t, "PONG", r)
	}
	require.DirExists(t, dir)

	require.NoError(t, up.cmd.Process.Signal(syscall.SIGINT))
	require.True(t, up.wait(t), "synod up stopped by Ctrl-C succeeds")
	require.NoDirExists(t, dir, "synod up made the directory and removes it on a clean stop")
}

// A service port something else holds (another cluster, most often) is
// named by synod up as soon as the node reports it, not after a minute
// of waiting; the node keeps trying, and serves once the port is free.
func TestUpSaysAtOnceWhichServicePortIsTaken(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	offset := freeServiceOffset(t, 3)
	taken := net.JoinHostPort("127.0.0.1", strconv.Itoa(serviceGuestPort+offset+1000)) // node 2's
	holder, err := net.Listen("tcp", taken)
	require.NoError(t, err)
	defer holder.Close()

	dir := filepath.Join(t.TempDir(), "cluster")
	up := startUp(t, nil, "--dir", dir, "--service-offset", strconv.Itoa(offset))
	require.Eventually(t, func() bool { return strings.Contains(up.stderr.String(), "synod up: node 2 cannot serve yet") },
		patience, 20*time.Millisecond, "synod up names the node whose port is taken; stderr:\n%s", up.stderr.String())
	warning := up.stderr.String()
	require.Contains(t, warning, taken)
	require.Contains(t, warning, "address already in use")
	require.Contains(t, warning, "--service-offset")
	require.NotContains(t, warning, "nodes serve after", "the warning came before synod up gave up waiting")
	require.NotContains(t, up.stdout.String(), "\ncluster: ", "no table while a node does not serve")
	status, err := synodCommand("status", "--dir", dir).CombinedOutput()
	require.NoError(t, err, "%s", status)
	require.Contains(t, string(status), "; node 2 cannot serve yet (serve guest port", "synod status says it too")

	require.NoError(t, holder.Close())
	services, _ := up.table(t)
	kv, err := dialKV(services[2])
	require.NoError(t, err, "node 2 serves once its port is free")
	defer kv.Close()
	r, err := kv.do("PING")
	require.NoError(t, err)
	require.Equal(t, "PONG", r)
}

// synod up --byzantine starts a cluster of 4 nodes on the Byzantine
// engine, each serving; synod status shows the engine, its view and its
// primary.
func TestUpByzantineServesThroughFourNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 4-node cluster")
	}
	up := startUp(t, nil, "--byzantine", "--service-offset", strconv.Itoa(freeServiceOffset(t, 4)))
	services, dir := up.table(t)
	require.Len(t, services, 4)
	for id, addr := range services {
		kv, err := dialKV(addr)
		require.NoError(t, err, "node %d's service at %s", id, addr)
		r, err := kv.do("SET", "k", fmt.Sprint(id))
		kv.Close()
		require.NoError(t, err, "node %d's service at %s", id, addr)
		require.Equal(t, "OK", r)
	}
	var status bytes.Buffer
	require.NoError(t, runStatus(context.Background(), []string{"--dir", dir}, &status))
	require.Regexp(t, `(?m)^health: quorum yes \(4 of 4 nodes answer\), engine bft, view \d+, primary [1-4], max lag`, status.String())

	require.NoError(t, up.cmd.Process.Signal(syscall.SIGINT))
	require.True(t, up.wait(t), "synod up stopped by Ctrl-C succeeds")
}

// synod start detaches: it returns once the node answers, the node goes
// on and cluster.json has its pid. synod up goes on while nodes started
// again serve, even when none of its own is left, and Ctrl-C on it stops
// them too.
func TestStartDetachesAndUpStopsEveryNodeOfItsCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	dir := t.TempDir()
	t.Cleanup(func() { killClusterNodes(t, dir) })
	up := startUp(t, nil, "--dir", dir, "--service-offset", strconv.Itoa(freeServiceOffset(t, 3)))
	up.table(t)

	startAgain := func(id consensus.NodeID) upNode {
		t.Helper()
		before := clusterNodeOf(t, dir, id)
		require.NoError(t, syscall.Kill(before.PID, syscall.SIGKILL))
		require.Eventually(t, func() bool { _, err := fetchReport(before.Status); return err != nil },
			patience, 20*time.Millisecond, "node %d killed", id)
		start := synodCommand("start", "--dir", dir, strconv.FormatUint(uint64(id), 10))
		var stderr syncBuffer
		start.Stderr = &stderr
		require.NoError(t, start.Start())
		waitFor(t, start, patience)
		require.True(t, start.ProcessState.Success(), "synod start: %s", stderr.String())

		after := clusterNodeOf(t, dir, id)
		require.NotEqual(t, before.PID, after.PID)
		require.True(t, processAlive(after.PID), "node %d runs on after synod start returned", id)
		r, err := fetchReport(after.Status)
		require.NoError(t, err, "synod start returns once the node answers")
		require.Equal(t, after.PID, r.PID, "cluster.json has the pid of the node that answers")
		return after
	}
	node2 := startAgain(2)
	node1 := startAgain(1)
	node3 := clusterNodeOf(t, dir, 3)
	require.NoError(t, syscall.Kill(node3.PID, syscall.SIGKILL))
	require.Eventually(t, func() bool { return strings.Contains(up.stderr.String(), "node 3 (pid") },
		patience, 20*time.Millisecond, "synod up reports that node 3 ended")

	// None of synod up's own nodes is left; the two started again serve.
	waitDial(t, node1.Service)
	kv1, err := dialKV(node1.Service)
	require.NoError(t, err)
	defer kv1.Close()
	r, err := kv1.do("SET", "after-restarts", "yes")
	require.NoError(t, err)
	require.Equal(t, "OK", r)
	waitDial(t, node2.Service)
	kv2, err := dialKV(node2.Service)
	require.NoError(t, err)
	defer kv2.Close()
	r, err = kv2.do("GET", "after-restarts")
	require.NoError(t, err)
	require.Equal(t, "yes", r)
	require.True(t, up.running(), "synod up goes on while nodes of its cluster serve")
	require.NotContains(t, up.stderr.String(), "every node has ended")

	require.NoError(t, up.cmd.Process.Signal(syscall.SIGINT))
	require.True(t, up.wait(t), "synod up stopped by Ctrl-C succeeds")
	for _, n := range []upNode{node1, node2} {
		require.False(t, processAlive(n.PID), "Ctrl-C on synod up stopped node %d, started again by synod start", n.ID)
	}
	require.DirExists(t, dir, "a directory given with --dir stays")
}

func clusterNodeOf(t *testing.T, dir string, id consensus.NodeID) upNode {
	t.Helper()
	cj, err := readCluster(dir)
	require.NoError(t, err)
	n, err := clusterNode(dir, &cj, id)
	require.NoError(t, err)
	return *n
}

// killClusterNodes kills the nodes of the cluster in dir that still run,
// for a test that failed before synod up stopped them.
func killClusterNodes(t *testing.T, dir string) {
	cj, err := readCluster(dir)
	if err != nil {
		return
	}
	for _, n := range cj.Nodes {
		if r, err := fetchReport(n.Status); err == nil && r.PID == n.PID {
			t.Logf("killing node %d (pid %d), still running", n.ID, n.PID)
			_ = syscall.Kill(n.PID, syscall.SIGKILL)
		}
	}
}
