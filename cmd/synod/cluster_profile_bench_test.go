package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus/cluster"
)

// profileDirEnv names a directory where BenchmarkReplicatedKVProfile
// saves each node's CPU profile: that is how the table of "Where a
// replicated request's CPU goes" in docs/replication.md is made.
const profileDirEnv = "SYNOD_PROFILE_DIR"

// BenchmarkReplicatedKVProfile holds the replicated load of
// BenchmarkReplicatedKV (16 clients spread over three nodes, SET/GET
// pairs) and, after a warm-up, takes a CPU profile of every node from its
// status address for 20 s. It reports the requests answered in that
// window, their rate, and the CPU the three processes used per request
// (process_cpu_seconds_total of their /metrics):
//
//	SYNOD_PROFILE_DIR=<dir> go test ./cmd/synod -run '^$' -bench ReplicatedKVProfile -benchtime 1x
//	go tool pprof -top -cum <dir>/node*-run1.pprof
func BenchmarkReplicatedKVProfile(b *testing.B) {
	profileKV(b, cluster.Spec{Nodes: 3}, 16, "")
}

// BenchmarkReplicatedKVProfile64 is BenchmarkReplicatedKVProfile under
// the 64 clients of BenchmarkReplicatedKV, whose batches are larger: what
// a request costs there is what decides the ratio to etcd. Its
// profiles are named node<id>-c64-run<n>.pprof.
func BenchmarkReplicatedKVProfile64(b *testing.B) {
	profileKV(b, cluster.Spec{Nodes: 3}, 64, "c64-")
}

// BenchmarkByzantineKVProfile is BenchmarkReplicatedKVProfile for the
// 4-node Byzantine cluster of BenchmarkByzantineKV; its profiles are
// named node<id>-bft-run<n>.pprof.
func BenchmarkByzantineKVProfile(b *testing.B) {
	profileKV(b, cluster.Spec{Nodes: 4, Engine: cluster.EngineBFT}, 16, "bft-")
}

// BenchmarkByzantineKVProfile64 is BenchmarkByzantineKVProfile under 64
// clients, the load at which issue 11 compares the Byzantine cluster's
// throughput with raft's; its profiles are named node<id>-bft-c64-run<n>.pprof.
func BenchmarkByzantineKVProfile64(b *testing.B) {
	profileKV(b, cluster.Spec{Nodes: 4, Engine: cluster.EngineBFT}, 64, "bft-c64-")
}

// profileKV holds the load of clients on a cluster of spec, naming its
// profiles with prefix.
func profileKV(b *testing.B, spec cluster.Spec, clients int, prefix string) {
	const warmUp, window = 3 * time.Second, 20 * time.Second
	var requests, seconds, cpu, instructions, messages, syncSeconds, syncs, switches, faults float64
	runs := 0
	for b.Loop() {
		b.StopTimer()
		runs++
		c, addrs := startServingClusterOf(b, spec)
		var answered atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for i := range clients {
			wg.Go(func() {
				kv, err := dialKV(addrs[i%len(addrs)])
				if err != nil {
					b.Error(err)
					return
				}
				defer kv.Close()
				for j := 0; ; j++ {
					key := fmt.Sprintf("c%d-k%d", i, j%64)
					for _, args := range [][]string{{"SET", key, strconv.Itoa(j)}, {"GET", key}} {
						select {
						case <-stop:
							return
						default:
						}
						if _, err := kv.do(args...); err != nil {
							b.Error(err)
							return
						}
						answered.Add(1)
					}
				}
			})
		}
		time.Sleep(warmUp)
		messagesSent := "synod_raft_messages_sent_total"
		if spec.Engine == cluster.EngineBFT {
			messagesSent = `synod_p2p_sent_messages_total\{[^}]*\}`
		}
		cpu0, instructions0, messages0 := c.cpuSeconds(b), c.guestInstructions(b), c.sum(b, messagesSent)
		syncSeconds0, syncs0 := c.durableWrites(b, spec)
		switches0, faults0 := machineCount(b, "/proc/stat", "ctxt"), machineCount(b, "/proc/vmstat", "pgfault")
		answered0 := answered.Load()
		start := time.Now()
		c.saveProfiles(b, window, fmt.Sprintf("%srun%d", prefix, runs))
		requests += float64(answered.Load() - answered0)
		seconds += time.Since(start).Seconds()
		cpu += c.cpuSeconds(b) - cpu0
		instructions += c.guestInstructions(b) - instructions0
		messages += c.sum(b, messagesSent) - messages0
		syncSeconds1, syncs1 := c.durableWrites(b, spec)
		switches += machineCount(b, "/proc/stat", "ctxt") - switches0
		faults += machineCount(b, "/proc/vmstat", "pgfault") - faults0
		syncSeconds += syncSeconds1 - syncSeconds0
		syncs += syncs1 - syncs0
		close(stop)
		wg.Wait()
		c.stopAll()
		b.StartTimer()
	}
	b.ReportMetric(requests/float64(runs), "requests")
	b.ReportMetric(requests/seconds, "cluster-req/s")
	b.ReportMetric(cpu/requests*1e6, "cluster-cpu-µs/req")
	b.ReportMetric(instructions/requests, "guest-instr/req")
	if switches > 0 {
		b.ReportMetric(switches/requests, "ctx-switches/req")
	}
	if faults > 0 {
		b.ReportMetric(faults/requests, "page-faults/req")
	}
	if syncs > 0 {
		b.ReportMetric(syncSeconds/syncs*1e3, "durable-write-ms")
		b.ReportMetric(syncs/requests, "durable-writes/req")
	}
	if spec.Engine == cluster.EngineBFT {
		b.ReportMetric(messages/requests, "p2p-msgs/req")
	} else {
		b.ReportMetric(messages/requests, "raft-msgs/req")
	}
}

// durableWrites is the time the raft log's durable writes took on every
// node together, and how many there were; none for a Byzantine cluster,
// whose engine keeps no such histogram.
func (c *testCluster) durableWrites(b *testing.B, spec cluster.Spec) (seconds, count float64) {
	if spec.Engine == cluster.EngineBFT {
		return 0, 0
	}
	return c.sum(b, "synod_raft_fsync_seconds_sum"), c.sum(b, "synod_raft_fsync_seconds_count")
}

// machineCount is the machine-wide counter name in file since boot, or 0
// where there is no such file: the ctxt line of /proc/stat, how many
// times the processors switched threads, or pgfault of /proc/vmstat, the
// page faults. Over a window's requests each counts what every process,
// the load generator and the kernel's threads included, spent on
// hand-offs or on memory given back and taken again, which the machine's
// speed moves less than CPU time.
func machineCount(b *testing.B, file, name string) float64 {
	stat, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(stat)) {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			require.NoError(b, err)
			return n
		}
	}
	return 0
}

// guestInstructions is how many guest instructions node 1's replica has
// executed: every replica runs the same ones, so over the requests of a
// window it is what the guest spends on each, epochs and polls included.
func (c *testCluster) guestInstructions(b *testing.B) float64 {
	v, ok := scrape(b, c.cfg.Nodes[0].StatusAddr, "synod_replica_instructions_total")
	require.True(b, ok, "node 1 has no synod_replica_instructions_total")
	return v
}

// cpuSeconds is the CPU time all the cluster's node processes have used.
func (c *testCluster) cpuSeconds(b *testing.B) float64 {
	return c.sum(b, "process_cpu_seconds_total")
}

// sum adds up every sample that matches series (a regular expression, as
// for scrape) over every node of the cluster.
func (c *testCluster) sum(b *testing.B, series string) float64 {
	var sum float64
	for _, n := range c.cfg.Nodes {
		values := scrapeAll(b, n.StatusAddr, series)
		require.NotEmpty(b, values, "node %d has no %s", n.ID, series)
		for _, v := range values {
			sum += v
		}
	}
	return sum
}

// saveProfiles takes a CPU profile and an allocation profile of every
// node at once, for window, and saves them as node<id>-<run>.pprof and
// node<id>-<run>-allocs.pprof in $SYNOD_PROFILE_DIR when that is set.
func (c *testCluster) saveProfiles(b *testing.B, window time.Duration, run string) {
	var wg sync.WaitGroup
	for _, n := range c.cfg.Nodes {
		for kind, suffix := range map[string]string{"profile": "", "allocs": "-allocs"} {
			wg.Go(func() {
				if err := saveNodeProfile(n, kind, window, fmt.Sprintf("node%d-%s%s.pprof", n.ID, run, suffix)); err != nil {
					b.Error(err)
				}
			})
		}
	}
	wg.Wait()
}

// saveNodeProfile fetches one of node n's Go profiles (kind: "profile"
// for CPU, "allocs" for allocations, "trace" for an execution trace) over window from its status
// address, and saves it as name in $SYNOD_PROFILE_DIR when that is set.
func saveNodeProfile(n cluster.Node, kind string, window time.Duration, name string) error {
	url := fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", n.StatusAddr, kind, int(window.Seconds()))
	resp, err := http.Get(url)
	if err != nil {
		return fmt.Errorf("node %d: %s: %w", n.ID, kind, err)
	}
	defer resp.Body.Close()
	profile, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("node %d: %s: %v (HTTP %d)", n.ID, kind, err, resp.StatusCode)
	}
	dir := os.Getenv(profileDirEnv)
	if dir == "" {
		return nil
	}
	return os.WriteFile(filepath.Join(dir, name), profile, 0o644)
}
