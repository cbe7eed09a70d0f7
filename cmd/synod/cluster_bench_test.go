package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/cluster"
)

// The replication benchmarks, each printing the replicated figure and the
// single-machine one from the same run. They start real node processes;
// run them one at a time:
//
//	go test ./cmd/synod -run '^$' -bench 'Replicated|Failover' -benchtime 1x

// replicatedRounds sizes the CPU-bound guest (corpus mips.c): about 1.2 G
// instructions, some seconds under synod run.
const replicatedRounds = "100"

// BenchmarkReplicatedCPU runs a CPU-bound guest on three replicated nodes
// and under synod run. It reports the time from boot to exit of both and
// their ratio, and each node's CPU time against synod run's: on a machine
// with fewer cores than nodes, wall time mostly measures the sharing of
// cores, while CPU time shows what replication itself costs.
func BenchmarkReplicatedCPU(b *testing.B) {
	guest := filepath.Join(corpusDir, benchGuest)
	var single, singleCPU, replicated, replicatedCPU float64
	runs := 0
	for b.Loop() {
		b.StopTimer()
		cmd := synodCommand("run", guest, replicatedRounds)
		start := time.Now()
		want, err := cmd.Output()
		require.NoError(b, err)
		single += time.Since(start).Seconds()
		singleCPU += cpuSeconds(cmd)

		c := startCluster(b, 3, benchMachine(guest), replicatedRounds)
		booted := c.waitFor(b, "boot", func(r nodeReport) bool { return r.Booted })
		exited := c.waitFor(b, "the guest's exit on every node", func(r nodeReport) bool { return r.Exited })
		replicated += exited.Sub(booted).Seconds()
		var console strings.Builder
		for _, n := range c.cfg.Nodes {
			console.WriteString(c.console[n.ID].String())
		}
		require.Equal(b, string(want), console.String())
		c.stopAll()
		for _, n := range c.cfg.Nodes {
			replicatedCPU += cpuSeconds(c.procs[n.ID].cmd) / 3
		}
		runs++
		b.StartTimer()
	}
	r := float64(runs)
	b.ReportMetric(single/r, "run-s")
	b.ReportMetric(replicated/r, "3node-s")
	b.ReportMetric(replicated/single, "wall-ratio")
	b.ReportMetric(singleCPU/r, "run-cpu-s")
	b.ReportMetric(replicatedCPU/r, "node-cpu-s")
	b.ReportMetric(replicatedCPU/singleCPU, "cpu-ratio")
}

// benchMachine is the machine of synod up's defaults, which the
// benchmarks measure.
func benchMachine(guest string) machineFlags {
	m := testMachine(guest)
	m.hashEvery = 256
	return m
}

func cpuSeconds(cmd *exec.Cmd) float64 {
	if cmd.ProcessState == nil {
		return 0
	}
	return (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
}

// waitFor polls every node until cond holds for all of them (any one, for
// "boot") and returns when that happened.
func (c *testCluster) waitFor(b *testing.B, what string, cond func(nodeReport) bool) time.Time {
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		ok := 0
		for _, n := range c.cfg.Nodes {
			if r, err := c.report(n.ID); err == nil && cond(r) {
				ok++
			}
		}
		if ok == len(c.cfg.Nodes) || what == "boot" && ok > 0 {
			return time.Now()
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.Fatalf("timed out waiting for %s", what)
	return time.Time{}
}

// kvLoad is the load generator: clients each doing SET then GET of their
// own keys over one connection, recording every request's latency.
func kvLoad(b *testing.B, addrs []string, clients, requests int) (perSecond float64, latencies []time.Duration) {
	return load(b, clients, requests, func(i int) (kvRequester, error) { return dialKV(addrs[i%len(addrs)]) })
}

// kvRequester is one client of a key-value service: the example guest's
// RESP client, or etcd's.
type kvRequester interface {
	do(args ...string) (string, error)
	Close() error
}

// load runs clients concurrent clients, each doing its share of requests
// as SET/GET pairs on keys of its own, and returns the requests per second
// and every request's latency, sorted.
func load(b *testing.B, clients, requests int, dial func(client int) (kvRequester, error)) (perSecond float64, latencies []time.Duration) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for i := range clients {
		wg.Go(func() {
			kv, err := dial(i)
			if err != nil {
				b.Error(err)
				return
			}
			defer kv.Close()
			var mine []time.Duration
			for j := range requests / clients / 2 {
				key := fmt.Sprintf("c%d-k%d", i, j%64)
				for _, args := range [][]string{{"SET", key, strconv.Itoa(j)}, {"GET", key}} {
					t0 := time.Now()
					if _, err := kv.do(args...); err != nil {
						b.Error(err)
						return
					}
					mine = append(mine, time.Since(t0))
				}
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(latencies)
	return float64(len(latencies)) / time.Since(start).Seconds(), latencies
}

func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[int(float64(len(sorted)-1)*p)].Microseconds()) / 1000
}

// BenchmarkReplicatedKV measures the bundled key-value service under
// concurrent clients, replicated on three nodes (clients spread over all
// of them) and under synod run: requests per second, and p50/p99 latency
// in milliseconds. When etcd is installed (Debian etcd-server), a 3-member
// etcd cluster on loopback serves the same load for comparison.
func BenchmarkReplicatedKV(b *testing.B) {
	const clients, requests = 16, 8000
	var repRate, soloRate, repRB, soloRB, etcdRate float64
	var repLat, soloLat, etcdLat []time.Duration
	for b.Loop() {
		b.StopTimer()
		port := freeTCPPort(b)
		solo := synodCommand("run", "guests/kvd/kvd", strconv.Itoa(port), "127.0.0.1")
		require.NoError(b, solo.Start())
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		waitDial(b, addr)
		rate, lat := kvLoad(b, []string{addr}, clients, requests)
		soloRate, soloLat = soloRate+rate, append(soloLat, lat...)
		soloRB += redisBenchmark(b, addr)
		solo.Process.Signal(syscall.SIGTERM)
		solo.Wait()

		c, addrs := startServingCluster(b)
		rate, lat = kvLoad(b, addrs, clients, requests)
		repRate, repLat = repRate+rate, append(repLat, lat...)
		repRB += redisBenchmark(b, addrs[0])
		c.stopAll()

		if endpoints, ok := startEtcd(b); ok {
			rate, lat = load(b, clients, requests, func(i int) (kvRequester, error) {
				return newEtcdClient(endpoints[i%len(endpoints)]), nil
			})
			etcdRate, etcdLat = etcdRate+rate, append(etcdLat, lat...)
		}
		b.StartTimer()
	}
	slices.Sort(repLat)
	slices.Sort(soloLat)
	n := float64(b.N)
	b.ReportMetric(repRate/n, "3node-req/s")
	b.ReportMetric(percentile(repLat, .5), "3node-p50-ms")
	b.ReportMetric(percentile(repLat, .99), "3node-p99-ms")
	b.ReportMetric(soloRate/n, "run-req/s")
	b.ReportMetric(percentile(soloLat, .5), "run-p50-ms")
	b.ReportMetric(percentile(soloLat, .99), "run-p99-ms")
	if repRB > 0 {
		b.ReportMetric(repRB/n, "3node-redis-benchmark-req/s")
		b.ReportMetric(soloRB/n, "run-redis-benchmark-req/s")
	}
	if len(etcdLat) > 0 {
		slices.Sort(etcdLat)
		b.ReportMetric(etcdRate/n, "etcd-req/s")
		b.ReportMetric(percentile(etcdLat, .5), "etcd-p50-ms")
		b.ReportMetric(percentile(etcdLat, .99), "etcd-p99-ms")
	}
}

// BenchmarkByzantineKV measures the key-value service in Byzantine mode
// (engine bft, 4 nodes) against crash-fault mode (raft, 3 nodes), back to
// back in one run, with the load of BenchmarkReplicatedKV spread over
// every node: requests per second, and p50/p99 latency in milliseconds.
func BenchmarkByzantineKV(b *testing.B) {
	const clients, requests = 16, 8000
	modes := []struct {
		name string
		spec cluster.Spec
	}{
		{"raft3", cluster.Spec{Nodes: 3}},
		{"bft4", cluster.Spec{Nodes: 4, Engine: cluster.EngineBFT}},
	}
	rates := make([]float64, len(modes))
	latencies := make([][]time.Duration, len(modes))
	for b.Loop() {
		b.StopTimer()
		for i, mode := range modes {
			c := newTestClusterOf(b, mode.spec, benchMachine(""))
			var addrs []string
			for _, n := range c.cfg.Nodes {
				c.start(n.ID)
				addrs = append(addrs, c.serviceAddr(n.ID))
			}
			for _, addr := range addrs {
				waitDial(b, addr)
			}
			rate, lat := kvLoad(b, addrs, clients, requests)
			rates[i], latencies[i] = rates[i]+rate, append(latencies[i], lat...)
			c.stopAll()
		}
		b.StartTimer()
	}
	for i, mode := range modes {
		slices.Sort(latencies[i])
		b.ReportMetric(rates[i]/float64(b.N), mode.name+"-req/s")
		b.ReportMetric(percentile(latencies[i], .5), mode.name+"-p50-ms")
		b.ReportMetric(percentile(latencies[i], .99), mode.name+"-p99-ms")
	}
	b.ReportMetric(rates[1]/rates[0], "bft/raft")
}

// redisBenchmark runs redis-benchmark's SET and GET tests against addr with
// 16 clients, when it is installed, and returns the mean of their requests
// per second (0 without redis-benchmark).
func redisBenchmark(b *testing.B, addr string) float64 {
	path, err := exec.LookPath("redis-benchmark")
	if err != nil {
		return 0
	}
	host, port, err := net.SplitHostPort(addr)
	require.NoError(b, err)
	out, err := exec.Command(path, "-h", host, "-p", port, "-t", "set,get", "-n", "4000", "-c", "16", "--csv").Output()
	require.NoError(b, err)
	var sum float64
	var tests int
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Split(line, ",")
		if len(fields) < 2 || !strings.HasPrefix(fields[0], `"SET"`) && !strings.HasPrefix(fields[0], `"GET"`) {
			continue
		}
		v, err := strconv.ParseFloat(strings.Trim(fields[1], `"`), 64)
		require.NoError(b, err)
		sum += v
		tests++
	}
	require.Equal(b, 2, tests, "redis-benchmark output:\n%s", out)
	return sum / 2
}

// startServingCluster starts a 3-node cluster of the bundled service with
// the benchmarks' machine and returns it once every node answers PING,
// with the nodes' service addresses.
func startServingCluster(b *testing.B) (*testCluster, []string) {
	c := startCluster(b, 3, benchMachine(""))
	var addrs []string
	for _, n := range c.cfg.Nodes {
		addrs = append(addrs, c.serviceAddr(n.ID))
		waitDial(b, c.serviceAddr(n.ID))
	}
	return c, addrs
}

// waitDial waits until the service answers PING at addr.
func waitDial(b testing.TB, addr string) {
	deadline := time.Now().Add(patience)
	for time.Now().Before(deadline) {
		if kv, err := dialKV(addr); err == nil {
			r, err := kv.do("PING")
			kv.Close()
			if err == nil && r == "PONG" {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatalf("no service at %s", addr)
}

// BenchmarkFailover kills the leader with SIGKILL and measures the time
// until the next successful request, for a client connected to a
// surviving node (it only waits for a new leader) and for a client that
// was connected to the killed node (it must also reconnect elsewhere).
func BenchmarkFailover(b *testing.B) {
	var survivor, moved float64
	for b.Loop() {
		b.StopTimer()
		c, _ := startServingCluster(b)
		leader := c.leader()
		other := consensus.NodeID(1 + int(leader)%3)
		onOther, err := dialKV(c.serviceAddr(other))
		require.NoError(b, err)
		onLeader, err := dialKV(c.serviceAddr(leader))
		require.NoError(b, err)

		killed := time.Now()
		require.NoError(b, c.procs[leader].cmd.Process.Signal(syscall.SIGKILL))
		<-c.procs[leader].done
		_, err = onOther.do("SET", "after", "failover")
		require.NoError(b, err)
		survivor += time.Since(killed).Seconds()

		for {
			if _, err := onLeader.do("GET", "after"); err == nil {
				break
			}
			onLeader.Close()
			if onLeader, err = dialKV(c.serviceAddr(other)); err != nil {
				require.NoError(b, err)
			}
		}
		moved += time.Since(killed).Seconds()
		onOther.Close()
		onLeader.Close()
		c.stopAll()
		b.StartTimer()
	}
	b.ReportMetric(survivor/float64(b.N)*1000, "survivor-ms")
	b.ReportMetric(moved/float64(b.N)*1000, "reconnect-ms")
}

// BenchmarkLeaderStability loads a 3-node cluster with 16 clients for
// SYNOD_STABILITY_DURATION (a Go duration, default 1m; the figure
// is for 10m) and reports how often a node saw the leader change
// meanwhile. No fault is injected, so every change is a false alarm of
// failure detection under load; the cluster must keep its leader.
func BenchmarkLeaderStability(b *testing.B) {
	duration := time.Minute
	if s := os.Getenv("SYNOD_STABILITY_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		require.NoError(b, err, "SYNOD_STABILITY_DURATION")
		duration = d
	}
	leaderChanges := func(c *testCluster) (changes []float64) {
		for _, n := range c.cfg.Nodes {
			v, ok := scrape(b, n.StatusAddr, "synod_raft_leader_changes_total")
			require.True(b, ok, "node %d reports leader changes", n.ID)
			changes = append(changes, v)
		}
		return changes
	}
	var changes, perSecond float64
	for b.Loop() {
		b.StopTimer()
		c, _ := startServingCluster(b)
		before := leaderChanges(c)
		load := startClients(c, 16, 64, 1)
		time.Sleep(duration)
		ops := load.finish()
		for i, after := range leaderChanges(c) {
			changes = max(changes, after-before[i])
		}
		perSecond += float64(len(ops)) / duration.Seconds()
		c.stopAll()
		b.StartTimer()
	}
	b.ReportMetric(changes, "leader-changes")
	b.ReportMetric(perSecond/float64(b.N), "req/s")
	b.ReportMetric(duration.Seconds(), "seconds-loaded")
}
