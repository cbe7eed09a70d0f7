package main

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// synod replay re-executes a stopped node's log, from the start or from
// its snapshot, and reaches the state hashes the nodes recorded, and
// shows the outputs the node performed.
func TestReplayReproducesTheRecordedHashes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 3-node clusters")
	}
	whole := testMachine("")
	compacted := testMachine("")
	compacted.snapshotEvery = 16
	t.Run("whole log", func(t *testing.T) { testReplay(t, whole, "", 4) })
	// The last snapshot is at most 16 entries from the end: how many
	// checkpoints follow it depends on timing, so any number may.
	t.Run("from a snapshot", func(t *testing.T) { testReplay(t, compacted, "from the snapshot at index", 0) })
}

func testReplay(t *testing.T, m machineFlags, from string, minCompared int) {
	c := startCluster(t, 3, m)
	c.waitServing()
	kv, err := dialKV(c.serviceAddr(2))
	require.NoError(t, err)
	for i := range 30 {
		r, err := kv.do("SET", fmt.Sprint("key", i), fmt.Sprint("value", i))
		require.NoError(t, err)
		require.Equal(t, "OK", r)
	}
	kv.Close()
	c.eventually("node 2 has state hashes judged", func() bool {
		r, err := c.report(2)
		return err == nil && r.HashEpoch > 8
	})
	c.kill(2)

	var out bytes.Buffer
	require.NoError(t, runReplay(context.Background(), []string{"--dir", c.cfg.Dir(), "--node", "2"}, &out), out.String())
	summary := regexp.MustCompile(`(\d+) recorded state hashes compared, 0 differ`).FindStringSubmatch(out.String())
	require.NotNil(t, summary, out.String())
	compared, _ := strconv.Atoi(summary[1])
	assert.GreaterOrEqual(t, compared, minCompared, "the nodes' hashes were compared")
	assert.NotContains(t, out.String(), "the replica stopped")
	assert.Contains(t, out.String(), "output #", "the node's outputs are shown")
	assert.Contains(t, out.String(), "send 5 bytes on conn 2/", "including the +OK replies it sent its client")
	assert.Contains(t, out.String(), from)

	out.Reset()
	err = runReplay(context.Background(), []string{"--dir", c.cfg.Dir(), "--node", "1"}, &out)
	assert.ErrorContains(t, err, "stop the node first", "a running node's store is locked")
}
