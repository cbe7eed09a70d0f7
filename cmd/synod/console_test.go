package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// With --console-input every node proposes what it reads from its stdin;
// the guest reads each byte once, in order, then end of input, even
// though three nodes proposed it.
func TestConsoleInputReachesTheGuestOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	guest, err := filepath.Abs("testdata/console")
	require.NoError(t, err)
	m := testMachine(guest)
	m.consoleInput = true
	c := newTestCluster(t, 3, m)
	var typed strings.Builder
	for i := range 200 {
		fmt.Fprintf(&typed, "line %d typed at the console\n", i)
	}
	c.stdin = typed.String()
	for _, n := range c.cfg.Nodes {
		c.start(n.ID)
	}
	c.consoleLine(1, "eof after")
	want := strings.ReplaceAll(typed.String(), "line ", "got: line ") + fmt.Sprintf("eof after %d bytes\n", typed.Len())
	c.mu.Lock()
	got := c.console[1].String()
	c.mu.Unlock()
	require.Equal(t, want, got)
}
