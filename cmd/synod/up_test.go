package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A guest that is not a static hppa executable is refused before any node
// starts, in one line that names the file and says what is wrong with it.
func TestUpAndNodeRefuseAGuestTheyCannotRun(t *testing.T) {
	cases := []struct {
		name  string
		guest string
		want  string
	}{
		// This test binary: an executable, but of the host.
		{"host executable", os.Args[0], "not a 32-bit big-endian PA-RISC executable"},
		{"dynamic executable", "../../machine/linux/testdata/dynamic", "dynamically linked"},
		{"not an executable", "up.go", "not an ELF executable"},
		{"missing", "no/such/guest", "no such file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			abs, err := filepath.Abs(c.guest)
			require.NoError(t, err)

			m := machineFlags{guest: abs}
			_, _, err = m.binary()
			require.ErrorContains(t, err, c.want, "synod node's check")
			require.ErrorContains(t, err, abs)

			dir := t.TempDir()
			up := synodCommand("up", "--dir", dir, "--service-offset", strconv.Itoa(freeServiceOffset(t, 3)), "--guest", c.guest)
			var stderr syncBuffer
			up.Stderr = &stderr
			require.NoError(t, up.Start())
			waitFor(t, up, patience)
			require.False(t, up.ProcessState.Success())
			msg := strings.TrimSuffix(stderr.String(), "\n")
			require.NotContains(t, msg, "\n", "one line")
			require.Contains(t, msg, abs)
			require.Contains(t, msg, c.want)
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Empty(t, entries, "nothing was made or started")
		})
	}
}

// When most nodes of synod up have ended and none is started again, the
// rest cannot commit anything: synod up says so and exits, stopping them,
// instead of waiting for ever.
func TestUpExitsWhenAMajorityHasEnded(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	dir := t.TempDir()
	var stderr syncBuffer
	up := synodCommand("up", "--dir", dir, "--service-offset", strconv.Itoa(freeServiceOffset(t, 3)))
	up.Stderr = &stderr
	require.NoError(t, up.Start())
	defer func() {
		if up.ProcessState == nil {
			_ = up.Process.Signal(syscall.SIGTERM)
			waitFor(t, up, patience)
		}
	}()
	var cj upCluster
	require.Eventually(t, func() bool {
		var err error
		cj, err = readCluster(dir)
		return err == nil && len(cj.Nodes) == 3
	}, patience, 50*time.Millisecond)
	for _, n := range cj.Nodes {
		waitDial(t, n.Service)
	}

	for _, n := range cj.Nodes[:2] {
		require.NoError(t, syscall.Kill(n.PID, syscall.SIGKILL))
	}
	waitFor(t, up, patience+quorumPatience)
	require.False(t, up.ProcessState.Success())
	require.Contains(t, stderr.String(), "cannot make progress")
	last := cj.Nodes[2]
	require.ErrorIs(t, syscall.Kill(last.PID, 0), syscall.ESRCH, "synod up stopped node %d", last.ID)
}

// waitFor waits for cmd to end. After d it stops it, with SIGTERM first
// so that a synod up stops its nodes, and fails the test.
func waitFor(t *testing.T, cmd *exec.Cmd, d time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
		return
	case <-time.After(d):
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(patience):
		_ = cmd.Process.Kill()
		<-done
	}
	t.Fatalf("%v did not end within %v", cmd.Args, d)
}

// synod up's --memory reaches every replica through the boot entry: the
// replicated guest's malloc fails at the limit as under synod run.
func TestUpMemoryLimitReachesTheGuest(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	up := synodCommand("up", "--dir", t.TempDir(), "--service-offset", strconv.Itoa(freeServiceOffset(t, 3)),
		"--memory", "64M", "--guest", "testdata/mallocs")
	var stdout, stderr syncBuffer
	up.Stdout, up.Stderr = &stdout, &stderr
	require.NoError(t, up.Start())
	waitFor(t, up, patience)
	require.True(t, up.ProcessState.Success(), "exit %v; stderr: %s", up.ProcessState, stderr.String())

	want, err := synodCommand("run", "--memory", "64M", "testdata/mallocs").Output()
	require.NoError(t, err)
	require.Contains(t, stdout.String(), string(want))
}

// synod up shows the guest's stderr on its own stderr, each line marked
// "stderr| " and whole (a line written in parts, and the last one without
// its newline), apart from the guest's stdout and without the nodes' logs;
// only the node that performs an output prints it, so each line shows once.
func TestUpShowsTheGuestsStderrMarked(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	up := synodCommand("up", "--dir", t.TempDir(), "--service-offset", strconv.Itoa(freeServiceOffset(t, 3)),
		"--guest", "testdata/streams")
	var stdout, stderr syncBuffer
	up.Stdout, up.Stderr = &stdout, &stderr
	require.NoError(t, up.Start())
	waitFor(t, up, patience)
	require.True(t, up.ProcessState.Success(), "exit %v; stderr: %s", up.ProcessState, stderr.String())

	out, errs := stdout.String(), stderr.String()
	for _, line := range []string{"out: first\n", "out: second\n"} {
		require.Equal(t, 1, strings.Count(out, line), "%q once on stdout: %q", line, out)
	}
	require.NotContains(t, out, "err: ")
	for _, line := range []string{"err: first\n", "err: written in two parts\n", "err: no newline\n"} {
		require.Equal(t, 1, strings.Count("\n"+errs, "\n"+guestStderrMark+line), "%q once on stderr, marked: %q", line, errs)
		require.Equal(t, 1, strings.Count(errs, line), "%q once on stderr: %q", line, errs)
	}
	require.NotContains(t, errs, "out: ")
	require.NotContains(t, errs, "level=", "no node log lines")
}
