package main

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fetchMetrics returns a node's /metrics in the text exposition format.
func fetchMetrics(t testing.TB, statusAddr string) []byte {
	t.Helper()
	resp, err := http.Get("http://" + statusAddr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return body
}

// scrape returns the value of the first sample of /metrics that matches
// series (a regular expression for the series name and labels, which
// the exposition sorts by name).
func scrape(t testing.TB, statusAddr, series string) (float64, bool) {
	t.Helper()
	values := scrapeAll(t, statusAddr, series)
	if len(values) == 0 {
		return 0, false
	}
	return values[0], true
}

// scrapeAll returns the values of every sample of /metrics that matches
// series, in the exposition's order.
func scrapeAll(t testing.TB, statusAddr, series string) []float64 {
	t.Helper()
	var values []float64
	for _, m := range regexp.MustCompile(`(?m)^`+series+` (\S+)$`).FindAllSubmatch(fetchMetrics(t, statusAddr), -1) {
		v, err := strconv.ParseFloat(string(m[1]), 64)
		require.NoError(t, err)
		values = append(values, v)
	}
	return values
}

// setRequest is what kvClient sends for SET k v.
const setRequest = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"

// metricsCluster starts a 3-node cluster, sends a SET through node 1 and
// returns node 2's status address once node 2's replica has delivered
// it and judged a state hash: every replica series has then seen
// traffic, and node 2 counts outputs addressed to another node.
func metricsCluster(t *testing.T) string {
	t.Helper()
	c := startCluster(t, 3, testMachine(""))
	c.waitServing()
	addr := c.node(2).StatusAddr
	before, ok := scrape(t, addr, `synod_replica_input_bytes_total`)
	require.True(t, ok, "synod_replica_input_bytes_total missing")

	kv, err := dialKV(c.serviceAddr(1))
	require.NoError(t, err)
	defer kv.Close()
	r, err := kv.do("SET", "k", "v")
	require.NoError(t, err)
	require.Equal(t, "OK", r)

	c.eventually("node 2 delivering the SET", func() bool {
		v, _ := scrape(t, addr, `synod_replica_input_bytes_total`)
		return v >= before+float64(len(setRequest))
	})
	c.eventually("a state hash agreed", func() bool {
		v, _ := scrape(t, addr, `synod_replica_state_hashes_agreed_total`)
		return v > 0
	})
	return addr
}

// A node's /metrics carries the replica's progress, what it delivered,
// its outputs by kind and by the node they are addressed to, its repairs,
// and the standard Go and process series, beside raft's.
func TestNodeMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	addr := metricsCluster(t)
	for _, series := range []string{
		`synod_replica_epoch`,
		`synod_replica_instructions_total`,
		`synod_replica_booted`,
		`synod_replica_input_bytes_total`,
		`synod_replica_random_refills_total`,
		`synod_replica_state_hashes_agreed_total`,
		`synod_replica_outputs_performed_total\{kind="listen"\}`,
		// The SET's reply, addressed to node 1 and counted on node 2.
		`synod_replica_outputs_total\{kind="send",node="1"\}`,
		`synod_replica_outputs_elsewhere_total`,
		`synod_raft_commit_index`,
		`synod_raft_term`,
		`go_goroutines`,
		`go_memstats_heap_alloc_bytes`,
		`process_cpu_seconds_total`,
	} {
		v, ok := scrape(t, addr, series)
		if assert.True(t, ok, "%s missing", series) {
			assert.Positive(t, v, series)
		}
	}
	for _, series := range []string{
		`synod_replica_divergences_total`,
		`synod_replica_repairs_total`,
	} {
		v, ok := scrape(t, addr, series)
		if assert.True(t, ok, "%s missing", series) {
			assert.Zero(t, v, series)
		}
	}
	// Node 2 answered waitServing's PING: it performed every send
	// addressed to it, and counts them under its own id too.
	performed, _ := scrape(t, addr, `synod_replica_outputs_performed_total\{kind="send"\}`)
	addressed, _ := scrape(t, addr, `synod_replica_outputs_total\{kind="send",node="2"\}`)
	assert.Positive(t, performed)
	assert.Equal(t, performed, addressed, "sends performed on node 2, and addressed to it")
	lag, ok := scrape(t, addr, `synod_replica_delivery_lag`)
	if assert.True(t, ok, "synod_replica_delivery_lag missing") {
		assert.GreaterOrEqual(t, lag, 0.0)
	}
}
