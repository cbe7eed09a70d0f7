package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus/cluster"
)

// With --console-input every node proposes what it reads from its stdin;
// the guest reads each byte once, in order, then end of input, even
// though every node proposed it. A Byzantine node proposes it in entries
// its engine takes: it proposed 64 KiB entries, which the engine (64 KiB
// requests, headers included) refused again and again, and the guest
// never read past the first.
func TestConsoleInputReachesTheGuestOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	for _, tc := range []struct {
		name  string
		spec  cluster.Spec
		bytes int
	}{
		{"raft", cluster.Spec{Nodes: 3}, 5_000},
		{"byzantine, more than a request", cluster.Spec{Nodes: 4, Engine: cluster.EngineBFT}, 150_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			guest, err := filepath.Abs("testdata/console")
			require.NoError(t, err)
			m := testMachine(guest)
			m.consoleInput = true
			c := newTestClusterOf(t, tc.spec, m)
			var typed strings.Builder
			for i := 0; typed.Len() < tc.bytes; i++ {
				fmt.Fprintf(&typed, "line %d typed at the console\n", i)
			}
			c.stdin = typed.String()
			want := strings.ReplaceAll(typed.String(), "line ", "got: line ") + fmt.Sprintf("eof after %d bytes\n", typed.Len())
			require.Equal(t, want, c.startAllUntilConsole("eof after"))
		})
	}
}

// synod up --console-input gives its own stdin to every node it starts:
// input piped into up reaches the guest once.
func TestUpFeedsItsStdinToTheGuest(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := synodCommandContext(ctx, "up", "--dir", t.TempDir(), "--guest", "testdata/console", "--console-input")
	cmd.Stdin = strings.NewReader("first line\nsecond line\n")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "stdout:\n%s\nstderr:\n%s", &stdout, &stderr)
	require.Equal(t, 1, strings.Count(stdout.String(), "got: first line\ngot: second line\neof after 23 bytes\n"), stdout.String())
	// The guest's stderr reaches up's, marked, once; not its stdout.
	require.Equal(t, 1, strings.Count(stderr.String(), guestStderrMark+"console: 2 lines read\n"), stderr.String())
	require.NotContains(t, stdout.String(), "lines read")
}
