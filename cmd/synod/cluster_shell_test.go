package main

import (
	"bufio"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/synodvm/synod/consensus"
)

// The bundled shell example (guests/shell): a multi-call program that is
// the shell and its tools, and the root file system it runs from.
const (
	shellRoot  = "guests/shell/root"
	shellGuest = shellRoot + "/bin/sh"
	shellPort  = 7000
)

// shellMachine runs the shell example: the shell serving on shellPort,
// its tools and scripts in the guest's root file system.
func shellMachine(t testing.TB) machineFlags {
	guest, err := filepath.Abs(shellGuest)
	require.NoError(t, err)
	root, err := filepath.Abs(shellRoot)
	require.NoError(t, err)
	m := testMachine(guest)
	m.root = root
	return m
}

// shellSession is one client of the shell: it sends command lines and
// reads what the commands print, up to the next prompt.
type shellSession struct {
	conn net.Conn
	in   *bufio.Reader
}

const shellPrompt = "$ "

func dialShell(addr string) (*shellSession, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, err
	}
	s := &shellSession{conn: conn, in: bufio.NewReader(conn)}
	if _, err := s.untilPrompt(10 * time.Second); err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

// untilPrompt reads up to the next prompt and returns what came before.
func (s *shellSession) untilPrompt(patience time.Duration) (string, error) {
	if err := s.conn.SetReadDeadline(time.Now().Add(patience)); err != nil {
		return "", err
	}
	var out strings.Builder
	for !strings.HasSuffix(out.String(), shellPrompt) {
		b, err := s.in.ReadByte()
		if err != nil {
			return out.String(), fmt.Errorf("read up to the prompt: %w (so far %q)", err, out.String())
		}
		out.WriteByte(b)
	}
	return strings.TrimSuffix(out.String(), shellPrompt), nil
}

// run sends one command line and returns its output.
func (s *shellSession) run(t testing.TB, line string) string {
	t.Helper()
	_, err := fmt.Fprintf(s.conn, "%s\n", line)
	require.NoError(t, err)
	out, err := s.untilPrompt(patience)
	require.NoError(t, err, "command %q", line)
	return out
}

func (c *testCluster) shellAddr(id consensus.NodeID) string {
	addr, err := c.node(id).ServiceAddr(shellPort)
	require.NoError(c.t, err)
	return addr
}

// waitShell waits until node id's shell takes a client, and returns it.
func (c *testCluster) waitShell(id consensus.NodeID) *shellSession {
	c.t.Helper()
	var s *shellSession
	c.eventually(fmt.Sprintf("node %d's shell", id), func() bool {
		var err error
		s, err = dialShell(c.shellAddr(id))
		return err == nil
	})
	c.t.Cleanup(func() { s.conn.Close() })
	return s
}

// sumOfNumbersWith7 is what `seq n | grep 7 | sum` prints.
func sumOfNumbersWith7(n int) string {
	total := 0
	for i := 1; i <= n; i++ {
		if strings.Contains(strconv.Itoa(i), "7") {
			total += i
		}
	}
	return strconv.Itoa(total) + "\n"
}

// TestClusterRunsAPipelineThroughAKilledNode: a shell on a 3-node
// cluster runs pipelines of processes it forks and execs from the
// guest's root file system, with pipes between them and output redirected
// to files the guest then reads back. A node killed while a pipeline
// runs disturbs nothing: the client's pipeline finishes with the right
// result, and the killed node comes back, from a snapshot of its machine
// taken mid-pipeline, with the same files and state as the others (equal
// state hashes; its own shell reads the file).
func TestClusterRunsAPipelineThroughAKilledNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	m := shellMachine(t)
	m.snapshotEvery = 100 // snapshots of the machine mid-pipeline, which the killed node restarts from
	m.hashEvery = 1       // every non-empty epoch's state hash compared
	c := newTestCluster(t, 3, m, "-l", strconv.Itoa(shellPort))
	for _, n := range c.cfg.Nodes {
		c.start(n.ID)
	}
	sh := c.waitShell(1)

	require.Equal(t, "", sh.run(t, "seq 300 | grep 7 | upper | wc -l > /tmp/count"))
	require.Equal(t, "57\n", sh.run(t, "cat /tmp/count"))
	require.Equal(t, "HELLO FROM THE GUEST\n", sh.run(t, "echo hello from the guest | upper"))
	require.Equal(t, "542\n586684\n", sh.run(t, "report"), "a #! script from the root file system")
	require.Equal(t, "sh: nosuch: No such file or directory\n", sh.run(t, "nosuch"))

	const n = 60_000
	_, err := fmt.Fprintf(sh.conn, "seq %d | grep 7 | sort | sum > /tmp/sum\n", n)
	require.NoError(t, err)
	time.Sleep(300 * time.Millisecond) // the pipeline is under way
	c.kill(3)
	started := time.Now()
	out, err := sh.untilPrompt(patience)
	t.Logf("pipeline finished %v after the kill", time.Since(started))
	require.NoError(t, err)
	require.Equal(t, "", out)
	require.Equal(t, sumOfNumbersWith7(n), sh.run(t, "cat /tmp/sum"))

	c.start(3)
	c.converged()
	require.Equal(t, sumOfNumbersWith7(n), c.waitShell(3).run(t, "cat /tmp/sum"),
		"the node killed mid-pipeline has the pipeline's file")
	log := c.nodeLog(3)
	require.Contains(t, log, "root=", "the node logs its root file system's digest")
	require.Contains(t, log, "installed snapshot", "the killed node restarted from a snapshot")
}
