package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runSynodCommand runs the test binary as the synod command and returns
// what it printed; the demo's own children inherit the environment that
// makes them synod too.
func runSynodCommand(t *testing.T, timeout time.Duration, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := synodCommandContext(ctx, args...).CombinedOutput()
	return string(out), err
}

// demoRecords is how many records the demos' guests write in the tests.
const demoRecords = 40

// killPoint picks when a demo kills its node, at random so that runs
// cover kills before a write reaches the disk, after it reached it but
// before its completion committed, and during a resync; the log line
// says how to run the same point again.
func killPoint(t *testing.T, name string) string {
	k := 2 + rand.IntN(demoRecords-4)
	t.Logf("%s: killing after %d acknowledged records (synod demo %s --records %d --kill-at %d)", name, k, name, demoRecords, k)
	return fmt.Sprint(k)
}

// The multipath demo, as a user runs it: node 1, behind the active path,
// is killed with SIGKILL; the guest fails over to node 2's path, and the
// disk ends holding every acknowledged record exactly once.
func TestDemoMultipath(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster and a disk server")
	}
	for range 2 {
		out, err := runSynodCommand(t, 3*time.Minute, "demo", "multipath", "--records", fmt.Sprint(demoRecords),
			"--interval", "20ms", "--kill-at", killPoint(t, "multipath"))
		require.NoError(t, err, out)
		assert.Contains(t, out, "SIGKILL node 1")
		assert.Contains(t, out, "multipath: journal through node 1 failed (Input/output error); now through node 2")
		assert.Contains(t, out, fmt.Sprintf("OK: the disk holds records 0 to %d, each once and in its place", demoRecords-1), out)
		assert.Regexp(t, `OK: nodes \[2 3\] end with the same state hash`, out)
	}
}

// The raid demo: node 2 is killed, the mirror runs degraded, node 2 comes
// back and the mirror resynchronises its disk; the three disks end equal.
func TestDemoRaid(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster and three disk servers")
	}
	out, err := runSynodCommand(t, 3*time.Minute, "demo", "raid", "--records", fmt.Sprint(demoRecords),
		"--interval", "20ms", "--kill-at", killPoint(t, "raid"))
	require.NoError(t, err, out)
	assert.Contains(t, out, "raid1: local-2.2 failed (Input/output error); running degraded")
	assert.Contains(t, out, "raid1: local-2.2 back and resynchronised")
	assert.Contains(t, out, fmt.Sprintf("OK: the three disks are equal and hold records 0 to %d", demoRecords-1), out)
	assert.Regexp(t, `OK: nodes \[1 2 3\] end with the same state hash`, out)
}

func TestDemoNeedsAName(t *testing.T) {
	out, err := runSynodCommand(t, time.Minute, "demo")
	require.Error(t, err)
	assert.Contains(t, out, "name a demo: multipath or raid")
	out, err = runSynodCommand(t, time.Minute, "demo", "tape")
	require.Error(t, err)
	assert.Contains(t, out, `no demo "tape"`)
}

// With --hold the multipath demo keeps its cluster running after its
// checks: the page it names shows node 1 down and the failover marked,
// and Ctrl-C ends the demo cleanly.
func TestDemoHoldShowsTheFailoverOnTheClusterPage(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster and a disk server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := synodCommandContext(ctx, "demo", "multipath", "--records", "30", "--interval", "20ms", "--hold")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())

	page := regexp.MustCompile(`its page, with the failover marked: (http://\S+)`)
	var url string
	var seen strings.Builder
	for sc := bufio.NewScanner(stdout); url == "" && sc.Scan(); {
		seen.WriteString(sc.Text() + "\n")
		if m := page.FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
		}
	}
	require.NotEmpty(t, url, "the demo names its page once its checks pass:\n%s", seen.String())
	require.Contains(t, seen.String(), "OK: the disk holds records 0 to 29")
	go io.Copy(io.Discard, stdout)

	resp, err := http.Get(url)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	html := string(body)
	assert.Contains(t, html, `<tr class="node down" data-node="1">`, "node 1 was killed")
	assert.Contains(t, html, `class="mark failover`, "the failover is marked on the timeline")
	assert.Contains(t, html, "node 1 declared down")

	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	require.NoError(t, cmd.Wait(), "Ctrl-C ends a held demo cleanly")
}
