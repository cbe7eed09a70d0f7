package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/cluster"
	"github.com/synodvm/synod/replica"
)

// patience bounds every wait of the cluster tests: generous, because the
// machine is shared and a replicated guest runs three times over.
const patience = 60 * time.Second

// testCluster is a real cluster: one `synod node` process per node (this
// test binary re-executed as synod), talking libp2p on loopback, each with
// its own data directory.
type testCluster struct {
	t          testing.TB
	cfg        *cluster.Config
	configPath string
	m          machineFlags
	guestArgs  []string
	// stdin is what every node reads as its console (empty: none).
	stdin string

	mu      sync.Mutex
	procs   map[consensus.NodeID]*nodeProc
	console map[consensus.NodeID]*syncBuffer
}

// syncBuffer is a bytes.Buffer safe for a process's output copier and the
// test reading it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testMachine is the machine configuration of the cluster tests: frequent
// state hashes, so that replicas compare notes often, and a quick raft.
func testMachine(guest string) machineFlags {
	return machineFlags{
		guest:             guest,
		engine:            newEngineFlag(),
		epochInstructions: 200_000,
		sealWindow:        32,
		unreachedWindow:   replica.DefaultUnreachedWindow,
		hashEvery:         4,
		nanosPerInstr:     10,
		downAfter:         2 * time.Second,
		tick:              50 * time.Millisecond,
		snapshotEvery:     10_000,
	}
}

func startCluster(t testing.TB, nodes int, m machineFlags, guestArgs ...string) *testCluster {
	t.Helper()
	c := newTestCluster(t, nodes, m, guestArgs...)
	for _, n := range c.cfg.Nodes {
		c.start(n.ID)
	}
	return c
}

// newTestCluster makes a cluster's config and stores without starting it.
func newTestCluster(t testing.TB, nodes int, m machineFlags, guestArgs ...string) *testCluster {
	t.Helper()
	return newTestClusterOf(t, cluster.Spec{Nodes: nodes}, m, guestArgs...)
}

// newTestClusterOf is newTestCluster for a cluster of any spec.
func newTestClusterOf(t testing.TB, spec cluster.Spec, m machineFlags, guestArgs ...string) *testCluster {
	t.Helper()
	cfg, err := createCluster(t.TempDir(), spec)
	require.NoError(t, err)
	// synod init gives nodes on one host fixed service offsets (1000, 2000,
	// ...); tests move each node's service to a port free right now, so
	// that concurrent test runs on the machine do not collide.
	ports := unclaimedPorts(t, cfg, len(cfg.Nodes))
	for i := range cfg.Nodes {
		cfg.Nodes[i].ServicePortOffset = ports[i] - serviceGuestPort
	}
	require.NoError(t, cluster.Write(filepath.Join(cfg.Dir(), cluster.FileName), cfg))
	c := &testCluster{
		t: t, cfg: cfg, configPath: filepath.Join(cfg.Dir(), cluster.FileName), m: m, guestArgs: guestArgs,
		procs: map[consensus.NodeID]*nodeProc{}, console: map[consensus.NodeID]*syncBuffer{},
	}
	t.Cleanup(c.stopAll)
	return c
}

func (c *testCluster) start(id consensus.NodeID) {
	c.t.Helper()
	c.startWith(id)
}

// startWith starts node id with extra flags for synod node.
func (c *testCluster) startWith(id consensus.NodeID, flags ...string) {
	c.t.Helper()
	c.mu.Lock()
	if c.console[id] == nil {
		c.console[id] = &syncBuffer{}
	}
	console := c.console[id]
	c.mu.Unlock()
	proc := c.spawn(c.configPath, id, fmt.Sprintf("node%d.log", id), console, flags...)
	c.mu.Lock()
	c.procs[id] = proc
	c.mu.Unlock()
}

// spawn starts a node process as node id of the config at configPath,
// its log in logName in the cluster's directory and its stdout to
// console.
func (c *testCluster) spawn(configPath string, id consensus.NodeID, logName string, console io.Writer, flags ...string) *nodeProc {
	c.t.Helper()
	logFile, err := os.OpenFile(filepath.Join(c.cfg.Dir(), logName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(c.t, err)
	defer logFile.Close()
	args := nodeArgs(configPath, id, c.m, c.guestArgs)
	args = append(args[:1], append(flags, args[1:]...)...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), runAsSynodEnv+"=1")
	cmd.Stdout = console
	cmd.Stderr = logFile
	if c.stdin != "" {
		cmd.Stdin = strings.NewReader(c.stdin)
	}
	require.NoError(c.t, cmd.Start())
	proc := &nodeProc{cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(proc.done)
	}()
	return proc
}

// kill ends a node the hard way, as a crash would.
func (c *testCluster) kill(id consensus.NodeID) {
	c.t.Helper()
	c.mu.Lock()
	p := c.procs[id]
	c.mu.Unlock()
	require.NoError(c.t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.done
}

func (c *testCluster) stopAll() {
	c.mu.Lock()
	var procs []*nodeProc
	for _, p := range c.procs {
		procs = append(procs, p)
	}
	c.mu.Unlock()
	stopNodes(procs)
	if c.t.Failed() {
		logs, _ := filepath.Glob(filepath.Join(c.cfg.Dir(), "*.log"))
		for _, path := range logs {
			b, _ := os.ReadFile(path)
			lines := strings.Split(string(b), "\n")
			c.t.Logf("%s (last lines):\n%s", filepath.Base(path), strings.Join(lines[max(0, len(lines)-25):], "\n"))
		}
	}
}

func (c *testCluster) running(id consensus.NodeID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.procs[id].running()
}

func (c *testCluster) node(id consensus.NodeID) cluster.Node {
	n, err := c.cfg.Node(id)
	require.NoError(c.t, err)
	return n
}

func (c *testCluster) serviceAddr(id consensus.NodeID) string {
	addr, err := c.node(id).ServiceAddr(serviceGuestPort)
	require.NoError(c.t, err)
	return addr
}

func (c *testCluster) report(id consensus.NodeID) (nodeReport, error) {
	return fetchReport(c.node(id).StatusAddr)
}

// eventually polls cond until it holds, failing the test after patience.
func (c *testCluster) eventually(what string, cond func() bool) {
	c.t.Helper()
	c.eventuallyWithin(patience, what, cond)
}

// eventuallyWithin polls cond until it holds, failing the test after
// limit.
func (c *testCluster) eventuallyWithin(limit time.Duration, what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// consoleOfAll returns what every node printed, in node order, once
// done says it is complete: the node that performs the guest's last
// console line may do so just after the nodes report the guest's exit.
func (c *testCluster) consoleOfAll(done func(console string) bool) string {
	c.t.Helper()
	var console strings.Builder
	c.eventually("the guest's console output", func() bool {
		console.Reset()
		for _, n := range c.cfg.Nodes {
			console.WriteString(c.console[n.ID].String())
		}
		return done(console.String())
	})
	return console.String()
}

// leader returns the node that currently leads the log (raft's leader,
// the Byzantine engine's primary).
func (c *testCluster) leader() consensus.NodeID {
	c.t.Helper()
	var leader consensus.NodeID
	c.eventually("a leader", func() bool {
		for _, n := range c.cfg.Nodes {
			if r, err := c.report(n.ID); err == nil && r.leads() {
				leader = n.ID
				return true
			}
		}
		return false
	})
	return leader
}

// waitServing waits until every running node answers PING.
func (c *testCluster) waitServing() {
	c.t.Helper()
	c.waitServingWithin(patience)
}

// waitServingWithin waits until every running node answers PING, for at
// most limit for each.
func (c *testCluster) waitServingWithin(limit time.Duration) {
	c.t.Helper()
	for _, n := range c.cfg.Nodes {
		if c.running(n.ID) {
			c.waitServingOn(limit, n.ID)
		}
	}
}

// waitServingOn waits until each of the given nodes answers PING, for at
// most limit for each.
func (c *testCluster) waitServingOn(limit time.Duration, nodes ...consensus.NodeID) {
	c.t.Helper()
	for _, id := range nodes {
		c.eventuallyWithin(limit, fmt.Sprintf("node %d serving", id), func() bool {
			kv, err := dialKV(c.serviceAddr(id))
			if err != nil {
				return false
			}
			defer kv.Close()
			r, err := kv.do("PING")
			return err == nil && r == "PONG"
		})
	}
}

// converged waits until every running node has reached the same
// checkpoint, and returns its state hash: equal hashes mean the replicas
// hold the same registers, memory, kernel and world state.
func (c *testCluster) converged() string {
	c.t.Helper()
	var running []consensus.NodeID
	for _, n := range c.cfg.Nodes {
		if c.running(n.ID) {
			running = append(running, n.ID)
		}
	}
	return c.convergedAmong(running)
}

// convergedAmong waits until the given nodes report the same state hash
// at the same point, and returns it.
func (c *testCluster) convergedAmong(nodes []consensus.NodeID) string {
	c.t.Helper()
	var hash string
	c.eventually(fmt.Sprintf("identical state hashes on nodes %v", nodes), func() bool {
		var reports []nodeReport
		for _, id := range nodes {
			r, err := c.report(id)
			if err != nil || r.StateHash == "" {
				return false
			}
			reports = append(reports, r)
		}
		for _, r := range reports[1:] {
			if r.HashEpoch != reports[0].HashEpoch || r.Delivered != reports[0].Delivered {
				return false
			}
			require.Equal(c.t, reports[0].StateHash, r.StateHash, "nodes %d and %d at epoch %d", reports[0].ID, r.ID, r.HashEpoch)
		}
		hash = reports[0].StateHash
		return true
	})
	return hash
}

// setKeys sets k0..k9 to the numbers from..to-1 in turn, through kv.
func setKeys(t testing.TB, kv *kvClient, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		r, err := kv.do("SET", fmt.Sprintf("k%d", i%10), strconv.Itoa(i))
		require.NoError(t, err)
		require.Equal(t, "OK", r)
	}
}

// unclaimedPorts returns n distinct loopback ports that nothing listens
// on right now and that cfg does not name either: until its nodes start,
// the ports cfg gives them are free too, and a node that finds its port
// taken by a sibling waits for it forever.
func unclaimedPorts(t testing.TB, cfg *cluster.Config, n int) []int {
	t.Helper()
	claimed := map[int]bool{}
	for _, node := range cfg.Nodes {
		listen, err := node.Listen.ValueForProtocol(ma.P_TCP)
		require.NoError(t, err)
		_, status, err := net.SplitHostPort(node.StatusAddr)
		require.NoError(t, err)
		for _, p := range []string{listen, status} {
			port, err := strconv.Atoi(p)
			require.NoError(t, err)
			claimed[port] = true
		}
		claimed[serviceGuestPort+node.ServicePortOffset] = true
	}
	var ports []int
	for range 100 * n {
		if len(ports) == n {
			return ports
		}
		if p := freeTCPPort(t); !claimed[p] {
			claimed[p] = true
			ports = append(ports, p)
		}
	}
	t.Fatalf("found %d of %d unclaimed ports", len(ports), n)
	return nil
}

// freeTCPPort returns a loopback port nothing listens on right now (see
// cluster.FreePorts).
func freeTCPPort(t testing.TB) int {
	t.Helper()
	ports, err := cluster.FreePorts(1)
	require.NoError(t, err)
	return ports[0]
}

// kvClient speaks the Redis protocol (RESP) to the bundled service.
type kvClient struct {
	conn net.Conn
	r    *bufio.Reader
}

func dialKV(addr string) (*kvClient, error) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	return &kvClient{conn: conn, r: bufio.NewReader(conn)}, nil
}

func (k *kvClient) Close() error { return k.conn.Close() }

// do sends one command and returns its reply: the status or bulk string,
// "(nil)" for a missing value, the integer as text, or an error for -ERR.
func (k *kvClient) do(args ...string) (string, error) {
	var b strings.Builder
	writeRESP(&b, args)
	if err := k.conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return "", err
	}
	if _, err := k.conn.Write([]byte(b.String())); err != nil {
		return "", err
	}
	return k.reply()
}

// writeRESP appends one command in the Redis protocol.
func writeRESP(b *strings.Builder, args []string) {
	fmt.Fprintf(b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(b, "$%d\r\n%s\r\n", len(a), a)
	}
}

func (k *kvClient) reply() (string, error) {
	line, err := k.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply line")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("server error: %s", line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", fmt.Errorf("bad bulk length %q", line)
		}
		if n < 0 {
			return "(nil)", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(k.r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}
