package main

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkBusyGuestRequest measures what the seal window costs a client
// of a busy guest: on a 1-node cluster of the shell example, one session
// keeps the guest computing (a pipeline of a billion numbers) while
// another sends empty command lines and times each prompt. An occasional
// client sends one every busyGuestGap, long enough for an adaptive window
// to have grown to its bound; an active one sends the next as soon as the
// prompt is back. Each round runs the window fixed at W (the default) and
// adaptive (--max-window 256) in turn, so the machine's load moves both.
//
//	go test ./cmd/synod -run '^$' -bench BusyGuestRequest -benchtime 3x
func BenchmarkBusyGuestRequest(b *testing.B) {
	policies := []struct {
		name      string
		maxWindow uint64
	}{{"fixed", testMachine("").maxSealWindow}, {"adaptive", 256}}
	occasional := make([][]time.Duration, len(policies))
	active := make([][]time.Duration, len(policies))
	for b.Loop() {
		b.StopTimer()
		for i, p := range policies {
			o, a := busyGuestRequests(b, p.maxWindow)
			occasional[i] = append(occasional[i], o...)
			active[i] = append(active[i], a...)
		}
		b.StartTimer()
	}
	for i, p := range policies {
		for _, l := range []struct {
			name      string
			latencies []time.Duration
		}{{"occasional", occasional[i]}, {"active", active[i]}} {
			slices.Sort(l.latencies)
			b.ReportMetric(percentile(l.latencies, .5), fmt.Sprintf("%s-%s-p50-ms", p.name, l.name))
			b.ReportMetric(percentile(l.latencies, .99), fmt.Sprintf("%s-%s-p99-ms", p.name, l.name))
		}
	}
}

// busyGuestGap is how long an occasional client waits between requests.
const busyGuestGap = 200 * time.Millisecond

// busyGuestRequests starts a busy shell with the given --max-window and
// returns the latencies of an occasional client's requests and an active
// client's.
func busyGuestRequests(b *testing.B, maxWindow uint64) (occasional, active []time.Duration) {
	m := shellMachine(b)
	m.hashEvery = benchMachine("").hashEvery
	m.maxSealWindow = maxWindow
	c := startCluster(b, 1, m, "-l", strconv.Itoa(shellPort))
	defer c.stopAll()
	load := c.waitShell(1)
	_, err := fmt.Fprintf(load.conn, "seq 1000000000 | sum\n")
	require.NoError(b, err)
	sh := c.waitShell(1)
	c.waitFor(b, "a busy guest", func(r nodeReport) bool { return r.Epoch > 1000 })
	request := func() time.Duration {
		start := time.Now()
		require.Equal(b, "", sh.run(b, ""))
		return time.Since(start)
	}
	for range 20 {
		time.Sleep(busyGuestGap)
		occasional = append(occasional, request())
	}
	for range 100 {
		active = append(active, request())
	}
	return occasional, active
}
