package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
)

// synod status shows each node's leader and service address, a down
// node as down (the reason only with --verbose), and a health line; with
// --watch it shows them again every interval until Ctrl-C.
func TestStatusShowsLeaderServiceAndHealth(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	c := startCluster(t, 3, testMachine(""))
	c.waitServing()
	leader := c.leader()
	status := func(flags ...string) string {
		t.Helper()
		var out bytes.Buffer
		require.NoError(t, runStatus(context.Background(), append([]string{"--config", c.configPath}, flags...), &out))
		return out.String()
	}

	out := status()
	t.Logf("synod status:\n%s", out)
	require.Regexp(t, `(?m)^NODE +ROLE +LEADER +SERVICE `, out)
	for _, n := range c.cfg.Nodes {
		row := statusRow(t, out, n.ID)
		require.Equal(t, strconv.FormatUint(uint64(leader), 10), row[2], "node %d's leader:\n%s", n.ID, out)
		require.Equal(t, c.serviceAddr(n.ID), row[3], "node %d's service address:\n%s", n.ID, out)
	}
	require.Regexp(t, fmt.Sprintf(`(?m)^health: quorum yes \(3 of 3 nodes answer\), leader %d, max lag \d+ entr`, leader), out)

	var followers []consensus.NodeID
	for _, n := range c.cfg.Nodes {
		if n.ID != leader {
			followers = append(followers, n.ID)
		}
	}
	c.kill(followers[0])
	out = status()
	row := statusRow(t, out, followers[0])
	require.Equal(t, "down", row[1], out)
	require.NotContains(t, out, "connection refused", "the raw error only with --verbose")
	require.Regexp(t, `(?m)^health: quorum yes \(2 of 3 nodes answer\)`, out)
	verbose := status("--verbose")
	t.Logf("synod status --verbose, node %d killed:\n%s", followers[0], verbose)
	require.Equal(t, "down", statusRow(t, verbose, followers[0])[1], verbose)
	require.Contains(t, verbose, "connection refused")

	// The leader declares the killed node down: its log line names the
	// leader once and the member it declares down once.
	c.eventually("the killed node declared down", func() bool {
		b, err := os.ReadFile(filepath.Join(c.cfg.Dir(), fmt.Sprintf("node%d.log", leader)))
		return err == nil && bytes.Contains(b, []byte("declaring a node down"))
	})
	requireNoRepeatedLogKeys(t, c)
	// A member declared down is a failover, counted once its NodeDown is
	// delivered.
	failover := regexp.MustCompile(`(?m)^health: quorum yes .*, 1 failover seen$`)
	c.eventually("the health line counting the failover", func() bool { return failover.MatchString(status()) })

	c.kill(followers[1])
	require.Regexp(t, `(?m)^health: quorum no \(1 of 3 nodes answer; 2 needed\)`, status())

	ctx, cancel := context.WithCancel(context.Background())
	var watched syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- runStatus(ctx, []string{"--config", c.configPath, "--watch", "--interval", "100ms"}, &watched)
	}()
	c.eventually("synod status --watch showing the nodes three times", func() bool {
		return strings.Count(watched.String(), "health:") >= 3
	})
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(patience):
		t.Fatal("synod status --watch did not stop when cancelled")
	}
}

// statusRow returns the fields of node id's row in synod status's table.
func statusRow(t *testing.T, out string, id consensus.NodeID) []string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == strconv.FormatUint(uint64(id), 10) {
			return append(f, make([]string, 4)...)
		}
	}
	t.Fatalf("no row for node %d in:\n%s", id, out)
	return nil
}

// logKey matches the key of one key=value pair of a log line; quoted
// values are removed first, since they may hold anything.
var (
	logKey      = regexp.MustCompile(`(?:^| )([A-Za-z_][A-Za-z0-9_.]*)=`)
	quotedValue = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
)

// requireNoRepeatedLogKeys fails when a line of a node's log gives a key
// twice (node=1 node=3): a reader cannot tell which is meant.
func requireNoRepeatedLogKeys(t *testing.T, c *testCluster) {
	t.Helper()
	for _, n := range c.cfg.Nodes {
		b, err := os.ReadFile(filepath.Join(c.cfg.Dir(), fmt.Sprintf("node%d.log", n.ID)))
		require.NoError(t, err)
		for _, line := range strings.Split(string(b), "\n") {
			seen := map[string]bool{}
			for _, m := range logKey.FindAllStringSubmatch(quotedValue.ReplaceAllString(line, `""`), -1) {
				require.False(t, seen[m[1]], "key %s repeated in node %d's log line:\n%s", m[1], n.ID, line)
				seen[m[1]] = true
			}
		}
	}
}

// The health line names a node that cannot serve a port its guest
// listens on, and why, so that an operator sees it without the node's log.
func TestHealthNamesANodeThatCannotServe(t *testing.T) {
	taken := "serve guest port 6379: listen tcp 127.0.0.1:7379: bind: address already in use"
	view := func(id consensus.NodeID, errs ...string) nodeView {
		return nodeView{id: id, report: nodeReport{ID: id, Engine: "raft", ServiceErrors: errs}}
	}
	for _, tc := range []struct {
		name  string
		views []nodeView
		want  string // "" for no mention
	}{
		{"every node serves", []nodeView{view(1), view(2), view(3)}, ""},
		{"one node's port is taken", []nodeView{view(1), view(2, taken), view(3)}, "; node 2 cannot serve yet (" + taken + ")"},
		{"two nodes'", []nodeView{view(1, taken), view(2, taken), view(3)}, "; node 1 cannot serve yet (" + taken + "), nor can 1 other node"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line := clusterHealth(tc.views).String()
			if tc.want == "" {
				require.NotContains(t, line, "cannot serve")
				return
			}
			require.True(t, strings.HasSuffix(line, tc.want), "health line: %s", line)
		})
	}
}
