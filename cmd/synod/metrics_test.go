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

// scrape returns the value of the first sample of /metrics that matches
// series (a regular expression for the series name and labels).
func scrape(t *testing.T, statusAddr, series string) (float64, bool) {
	t.Helper()
	resp, err := http.Get("http://" + statusAddr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^` + series + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	require.NoError(t, err)
	return v, true
}

// A node's /metrics carries the replica's progress, its outputs by kind
// and the standard Go and process series, beside raft's.
func TestNodeMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	c := startCluster(t, 3, testMachine(""))
	c.waitServing()
	addr := c.cfg.Nodes[0].StatusAddr
	c.eventually("the replica's series", func() bool {
		v, ok := scrape(t, addr, `synod_replica_instructions_total`)
		return ok && v > 0
	})
	for _, series := range []string{
		`synod_replica_epoch`,
		`synod_replica_booted`,
		`synod_replica_outputs_performed_total\{kind="listen"\}`,
		`synod_raft_commit_index`,
		`go_goroutines`,
		`process_cpu_seconds_total`,
	} {
		v, ok := scrape(t, addr, series)
		if assert.True(t, ok, "%s missing", series) {
			assert.Positive(t, v, series)
		}
	}
}
