package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A node of a Byzantine cluster whose data directory is deleted refuses
// to start with a new store, and started with --rejoin, shows itself
// rejoining until it holds a stable checkpoint past everything its lost
// store may have signed; then it takes part again: with another node
// killed, the service answers through it (its votes are needed) and
// every acknowledged write reads back.
func TestByzantineNodeWithALostStoreRejoins(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 4-node cluster")
	}
	c := startByzantineCluster(t)
	kv, err := dialKV(c.serviceAddr(1))
	require.NoError(t, err)
	defer kv.Close()
	acked := 0
	write := func(kv *kvClient, n int) {
		t.Helper()
		for range n {
			r, err := kv.do("SET", fmt.Sprintf("acked%d", acked), strconv.Itoa(acked))
			require.NoError(t, err)
			require.Equal(t, "OK", r)
			acked++
		}
	}
	write(kv, 100)
	c.kill(2)
	require.NoError(t, os.RemoveAll(c.cfg.Path(c.node(2).DataDir)))
	write(kv, 20)

	c.start(2)
	c.waitExit(2)
	require.Contains(t, c.nodeLog(2), "--rejoin", "node 2 says how to bring it back")

	c.startWith(2, "--rejoin")
	sawRejoining, metricRejoining := false, false
	c.eventually("node 2 rejoins and takes clients", func() bool {
		write(kv, 10)
		r, err := c.report(2)
		if err != nil {
			return false
		}
		if r.Role == "rejoining" {
			sawRejoining = true
			if v, ok := scrape(t, c.node(2).StatusAddr, "synod_bft_rejoining"); ok && v == 1 {
				metricRejoining = true
			}
		}
		return r.Role != "rejoining" && c.takesClients(2)
	})
	require.True(t, sawRejoining, "synod status shows node 2 rejoining")
	require.True(t, metricRejoining, "synod_bft_rejoining is 1 meanwhile")
	v, ok := scrape(t, c.node(2).StatusAddr, "synod_bft_rejoining")
	require.True(t, ok)
	require.Zero(t, v, "synod_bft_rejoining once rejoined")
	log := c.nodeLog(2)
	require.Contains(t, log, "rejoined", "node 2 says when it takes part again")
	if testing.Verbose() {
		for line := range strings.Lines(log) {
			if strings.Contains(line, "rejoin") || strings.Contains(line, "installing") {
				t.Log(strings.TrimSpace(line))
			}
		}
	}

	c.kill(3)
	kv2, err := dialKV(c.serviceAddr(2))
	require.NoError(t, err)
	defer kv2.Close()
	write(kv2, 10)
	for i := range acked {
		r, err := kv2.do("GET", fmt.Sprintf("acked%d", i))
		require.NoError(t, err)
		require.Equal(t, strconv.Itoa(i), r, "acknowledged write %d through node 2", i)
	}
}
