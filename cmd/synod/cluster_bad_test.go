package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// synodCommand runs this test binary as synod.
func synodCommand(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), runAsSynodEnv+"=1")
	return cmd
}

// synodCommandContext runs this test binary as synod until ctx ends;
// then its pipes get WaitDelay to drain.
func synodCommandContext(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), runAsSynodEnv+"=1")
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// Clients that send garbage, or hang up in the middle of a request, get
// an error or nothing; the replicated machine carries on for everyone
// else and the replicas stay identical.
func TestClusterSurvivesBadClients(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	c := startCluster(t, 3, testMachine(""))
	c.waitServing()

	garbage, err := net.Dial("tcp", c.serviceAddr(1))
	require.NoError(t, err)
	_, err = garbage.Write([]byte("*zz\r\n\x00\xff\xfe junk \r\n$-7\r\n*99999999999\r\n"))
	require.NoError(t, err)
	require.NoError(t, garbage.SetReadDeadline(time.Now().Add(patience)))
	reply := make([]byte, 512)
	n, _ := garbage.Read(reply)
	require.True(t, n == 0 || bytes.HasPrefix(reply[:n], []byte("-")), "an error reply or a hang-up, got %q", reply[:n])
	garbage.Close()

	halfway, err := net.Dial("tcp", c.serviceAddr(2))
	require.NoError(t, err)
	_, err = halfway.Write([]byte("*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$10\r\nabc"))
	require.NoError(t, err)
	halfway.Close()

	for _, n := range c.cfg.Nodes {
		kv, err := dialKV(c.serviceAddr(n.ID))
		require.NoError(t, err)
		r, err := kv.do("SET", "k", "v")
		require.NoError(t, err)
		require.Equal(t, "OK", r)
		r, err = kv.do("GET", "half")
		require.NoError(t, err)
		require.Equal(t, "(nil)", r, "the unfinished SET never happened")
		kv.Close()
	}
	c.converged()
}

// A guest that crashes is reported the same way by every node: the
// fatal signal, as the exit status 128+n.
func TestClusterGuestCrashIsReportedEverywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	c := startCluster(t, 3, testMachine(filepath.Join(corpusDir, "fatal")), "segv")
	hashes := map[string]bool{}
	for _, n := range c.cfg.Nodes {
		var r nodeReport
		c.eventually("the guest's crash on every node", func() bool {
			var err error
			r, err = c.report(n.ID)
			return err == nil && r.Exited
		})
		require.Equal(t, 128+11, r.exitCode(), "node %d: killed by SIGSEGV", n.ID)
		hashes[r.StateHash] = true
	}
	require.Len(t, hashes, 1, "one final state")
}

// synod up runs a cluster for the whole life of a guest: it shows the
// guest's output once and exits with its status.
func TestUpRunsGuestToCompletion(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	up := synodCommand("up", "--dir", dir, "--guest", filepath.Join(corpusDir, "argv"), "--", "exit", "7")
	up.Stdout, up.Stderr = &stdout, &stderr
	err := up.Run()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "stderr: %s", stderr.String())
	require.Equal(t, 7, exit.ExitCode(), "the guest's exit status")

	want, err := synodCommand("run", filepath.Join(corpusDir, "argv"), "exit", "7").Output()
	require.Error(t, err, "synod run exits 7 too")
	require.Equal(t, 1, strings.Count(stdout.String(), strings.SplitN(string(want), "\n", 2)[0]),
		"the guest's first line appears once in:\n%s", stdout.String())

	var cj upCluster
	b, err := os.ReadFile(filepath.Join(dir, "cluster.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &cj))
	require.Len(t, cj.Nodes, 3)
	for _, n := range cj.Nodes {
		require.NotZero(t, n.PID)
		require.NotEmpty(t, n.Status)
	}
}

// A node started with a config it is not in, or no config, refuses to
// start with a message that says why; a node given a different guest than
// the one the cluster booted stops instead of diverging.
func TestNodeRefusesWrongStart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	c := startCluster(t, 3, testMachine(""))
	c.waitServing()

	out, err := synodCommand("node", "--config", c.configPath, "--id", "9").CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "9")

	out, err = synodCommand("node", "--config", filepath.Join(t.TempDir(), "missing.toml"), "--id", "1").CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "missing.toml")

	c.kill(3)
	m := c.m
	m.guest = "guests/primes"
	wrong := synodCommand(nodeArgs(c.configPath, 3, m, nil)...)
	var stderr bytes.Buffer
	wrong.Stderr = &stderr
	done := make(chan error, 1)
	require.NoError(t, wrong.Start())
	go func() { done <- wrong.Wait() }()
	select {
	case err := <-done:
		require.Error(t, err)
		require.Contains(t, stderr.String(), "guest")
	case <-time.After(patience):
		wrong.Process.Kill()
		t.Fatalf("a node with the wrong guest kept running; stderr:\n%s", stderr.String())
	}
}

// A replicated guest that sleeps wakes on time: its clock advances with
// the seals the leader proposes when the sleeper is due, not only with
// the instructions it runs.
func TestClusterSleepersWakeOnTime(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	c := startCluster(t, 3, testMachine("testdata/sleeps"))
	c.eventually("the guest's exit", func() bool {
		r, err := c.report(1)
		return err == nil && r.Exited
	})
	console := c.consoleOfAll(func(s string) bool { return strings.Count(s, "\n") >= 5 })
	lines := strings.Split(strings.TrimSpace(console), "\n")
	require.Len(t, lines, 5, "console:\n%s", strings.Join(lines, "\n"))
	for _, l := range lines {
		var i int
		var took float64
		_, err := fmt.Sscanf(l, "sleep %d took %f s", &i, &took)
		require.NoError(t, err, l)
		require.GreaterOrEqual(t, took, 0.1, "never early: %s", l)
	}
}
