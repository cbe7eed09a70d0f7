package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
)

// bigheapGuest is kvd with a heap of the size given as its first argument
// (guests/bigheap/bigheap.c).
const bigheapGuest = "guests/bigheap/bigheap"

// defaultMaxMessageSize is the p2p transport's message limit, which a
// machine snapshot used to have to fit in.
const defaultMaxMessageSize = 64 << 20

// TestClusterFollowerCatchesUpThroughSnapshotOverMessageLimit: a follower
// that missed a compacted stretch of the log takes a machine snapshot
// larger than the 64 MiB message limit from the leader, while a client
// of another node keeps being answered. It used to be sent as one raft
// message, which the transport refused: the follower never caught up,
// and snapshotting on the raft loop cost leader changes.
func TestClusterFollowerCatchesUpThroughSnapshotOverMessageLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster of a guest with a 96 MiB heap")
	}
	run := catchUpThroughBigSnapshot(t, 96)
	t.Logf("snapshot %d MiB, caught up in %v; client: %d answers during the catch-up, p99 %.0f ms, longest wait %v, %d errors",
		run.snapshotBytes>>20, run.catchUp.Round(time.Millisecond), len(run.latencies), percentile(run.latencies, 0.99),
		run.longestWait.Round(time.Millisecond), run.errors)
	require.Greater(t, run.snapshotBytes, defaultMaxMessageSize)
	require.NotEmpty(t, run.latencies, "the client was answered during the catch-up")
	// A hang detector, not a speed bound: the client must never wait
	// anywhere near as long as a node takes to be declared down twice.
	require.Less(t, run.longestWait, 15*time.Second, "the client went unanswered")
}

// BenchmarkBigSnapshotCatchUp is the test above with a 500 MiB heap:
// the time a follower takes to catch up through the snapshot, its size,
// and the latency of a client of another node during the catch-up, and
// over a quiet stretch just before it (quiet-p99-ms: what the machine
// gives without a catch-up, at the same time). With $SYNOD_PROFILE_DIR
// set it saves there profiles of the nodes during the catch-up, their
// logs and the client's slow answers.
//
//	go test ./cmd/synod -run '^$' -bench BigSnapshotCatchUp -benchtime 1x
func BenchmarkBigSnapshotCatchUp(b *testing.B) {
	var catchUp, snapMiB, p50, p99, quietP99, longest, answers float64
	runs := 0
	for b.Loop() {
		run := catchUpThroughBigSnapshot(b, 500)
		catchUp += run.catchUp.Seconds()
		snapMiB += float64(run.snapshotBytes) / (1 << 20)
		p50 += percentile(run.latencies, 0.50)
		p99 += percentile(run.latencies, 0.99)
		quietP99 += percentile(run.quietLatencies, 0.99)
		longest += float64(run.longestWait.Milliseconds())
		answers += float64(len(run.latencies))
		runs++
	}
	r := float64(runs)
	b.ReportMetric(catchUp/r, "catchup-s")
	b.ReportMetric(snapMiB/r, "snapshot-MiB")
	b.ReportMetric(p50/r, "p50-ms")
	b.ReportMetric(p99/r, "p99-ms")
	b.ReportMetric(quietP99/r, "quiet-p99-ms")
	b.ReportMetric(longest/r, "max-wait-ms")
	b.ReportMetric(answers/r, "answers")
}

// bigSnapshotRun is what one catch-up through a big snapshot measured.
type bigSnapshotRun struct {
	catchUp       time.Duration
	snapshotBytes int
	// latencies are the client's answers between the follower's restart
	// and its catch-up, sorted; quietLatencies those over quietWindow
	// just before the restart, with every node but the follower quiet.
	latencies, quietLatencies []time.Duration
	// longestWait is the longest the client went without an answer over
	// the whole run; errors counts the requests that failed.
	longestWait time.Duration
	errors      int
}

var receivedSnapshotBytes = regexp.MustCompile(`received a snapshot.* bytes=(\d+)`)

// catchUpThroughBigSnapshot runs a 3-node cluster of a guest with a heap
// of heapMiB, stops node 3, writes through node 2 until the log is
// compacted past node 3, and restarts node 3, which must catch up through
// a snapshot of the machine; a client of node 1 makes requests all along.
func catchUpThroughBigSnapshot(tb testing.TB, heapMiB int) bigSnapshotRun {
	m := testMachine(bigheapGuest)
	m.snapshotEvery = 200
	c := startCluster(tb, 3, m, strconv.Itoa(heapMiB))
	// The guest fills its heap as it boots, three times over on a shared
	// machine: a minute is not always enough.
	c.waitServingWithin(compactionPatience)
	st, err := c.report(3)
	require.NoError(tb, err)
	c.kill(3)

	cl := startSteadyClient(tb, c.serviceAddr(1))
	kv, err := dialKV(c.serviceAddr(2))
	require.NoError(tb, err)
	defer kv.Close()
	setKeys(tb, kv, 0, 300)
	require.Eventually(tb, func() bool {
		for _, id := range []int{1, 2} {
			log, _ := os.ReadFile(filepath.Join(c.cfg.Dir(), fmt.Sprintf("node%d.log", id)))
			if largestNumber(compactedTo, log) <= st.Commit+10 {
				return false
			}
		}
		return true
	}, compactionPatience, 100*time.Millisecond, "snapshots on nodes 1 and 2 that compacted the log past node 3")

	// The same client over a quiet stretch first, on the same machine at
	// the same time: what the catch-up adds is the difference.
	time.Sleep(quietSettle)
	cl.mark(time.Now())
	time.Sleep(quietWindow)
	run := bigSnapshotRun{quietLatencies: cl.take()}

	restarted := time.Now()
	cl.mark(restarted)
	c.start(3)
	profiles := c.profileCatchUp(tb, 3)
	defer profiles.Wait()
	deadline := time.Now().Add(10 * time.Minute)
	for {
		if kv3, err := dialKV(c.serviceAddr(3)); err == nil {
			r, err := kv3.do("GET", "k9")
			kv3.Close()
			if err == nil && r == "299" {
				break
			}
		}
		require.True(tb, time.Now().Before(deadline), "node 3 did not catch up within 10 minutes")
		time.Sleep(50 * time.Millisecond)
	}
	run.catchUp = time.Since(restarted)
	run.latencies, run.longestWait, run.errors = cl.stop()
	c.saveCatchUpRecord(tb, restarted, cl.slow)
	c.converged()

	log, err := os.ReadFile(filepath.Join(c.cfg.Dir(), "node3.log"))
	require.NoError(tb, err)
	require.Contains(tb, string(log), "installed snapshot", "node 3 caught up through a snapshot")
	run.snapshotBytes = int(largestNumber(receivedSnapshotBytes, log))
	return run
}

// catchUpProfileWindow is how long profileCatchUp profiles the nodes:
// about as long as a catch-up through 500 MiB takes.
const catchUpProfileWindow = 30 * time.Second

// profileCatchUp, when $SYNOD_PROFILE_DIR is set, takes CPU profiles of
// every node and an execution trace of node 1 (whose client is measured)
// while node catching, just restarted, catches up, and logs who leads.
// The caller waits for the returned group before the cluster stops.
func (c *testCluster) profileCatchUp(tb testing.TB, catching consensus.NodeID) *sync.WaitGroup {
	var wg sync.WaitGroup
	if os.Getenv(profileDirEnv) == "" {
		return &wg
	}
	tb.Logf("node %d catches up from leader %d", catching, c.leader())
	for _, n := range c.cfg.Nodes {
		wg.Go(func() {
			// The restarted node's status address opens as it starts.
			for i := 0; n.ID == catching && i < 100; i++ {
				if _, err := c.report(n.ID); err == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err := saveNodeProfile(n, "profile", catchUpProfileWindow, fmt.Sprintf("node%d-catchup.pprof", n.ID)); err != nil {
				tb.Log(err)
			}
		})
	}
	wg.Go(func() {
		if err := saveNodeProfile(c.node(1), "trace", catchUpProfileWindow/2, "node1-catchup.trace"); err != nil {
			tb.Log(err)
		}
	})
	return &wg
}

// saveCatchUpRecord, when $SYNOD_PROFILE_DIR is set, saves there the
// nodes' logs and the client's slow answers (seconds after the restart,
// and how long each took), to set beside the profiles.
func (c *testCluster) saveCatchUpRecord(tb testing.TB, restarted time.Time, slow []timedAnswer) {
	dir := os.Getenv(profileDirEnv)
	if dir == "" {
		return
	}
	var record strings.Builder
	fmt.Fprintf(&record, "restarted %s\n", restarted.Format(time.RFC3339Nano))
	for _, a := range slow {
		fmt.Fprintf(&record, "%7.3f s  %v\n", a.at.Sub(restarted).Seconds(), a.took.Round(time.Millisecond))
	}
	require.NoError(tb, os.WriteFile(filepath.Join(dir, "catchup-slow-answers.txt"), []byte(record.String()), 0o644))
	for _, n := range c.cfg.Nodes {
		name := fmt.Sprintf("node%d.log", n.ID)
		log, err := os.ReadFile(filepath.Join(c.cfg.Dir(), name))
		require.NoError(tb, err)
		require.NoError(tb, os.WriteFile(filepath.Join(dir, name), log, 0o644))
	}
}

// compactionPatience bounds the wait for the log to be compacted past
// the stopped node. That takes each node two snapshots of the whole heap,
// the second no sooner than four times as long as the first took after
// it (raftlog spaces snapshots so), which on a loaded machine is minutes.
const compactionPatience = 5 * time.Minute

var compactedTo = regexp.MustCompile(`snapshot taken, log compacted.* compacted_to=(\d+)`)

// largestNumber is the largest number re's first group matches in log.
func largestNumber(re *regexp.Regexp, log []byte) uint64 {
	var largest uint64
	for _, match := range re.FindAllSubmatch(log, -1) {
		if n, err := strconv.ParseUint(string(match[1]), 10, 64); err == nil {
			largest = max(largest, n)
		}
	}
	return largest
}

// quietSettle lets the snapshots that compacted the log settle before
// the quiet window; quietWindow is as long as a catch-up through 500 MiB
// takes on an unloaded machine.
const (
	quietSettle = 5 * time.Second
	quietWindow = 15 * time.Second
)

// steadyPace is the steady client's pause between requests: a client
// that keeps a service busy without saturating it.
const steadyPace = 20 * time.Millisecond

// slowAnswer is how long an answer must take to be listed among the slow.
const slowAnswer = 50 * time.Millisecond

// timedAnswer is when an answer came and how long it took.
type timedAnswer struct {
	at   time.Time
	took time.Duration
}

// steadyClient makes one request after another to a node, reconnecting
// after a failure, and records how long each answer took.
type steadyClient struct {
	tb   testing.TB
	done chan struct{}

	mu        sync.Mutex
	quit      bool
	from      time.Time // answers before this are not kept
	latencies []time.Duration
	// slow are the answers kept that took longer than slowAnswer, with
	// when they came, for a look at what the nodes did then.
	slow       []timedAnswer
	lastAnswer time.Time
	longest    time.Duration
	errors     int
}

func startSteadyClient(tb testing.TB, addr string) *steadyClient {
	cl := &steadyClient{tb: tb, done: make(chan struct{}), from: time.Now().Add(time.Hour), lastAnswer: time.Now()}
	go cl.run(addr)
	tb.Cleanup(func() { cl.stop() })
	return cl
}

func (cl *steadyClient) run(addr string) {
	defer close(cl.done)
	var kv *kvClient
	for i := 0; ; i++ {
		cl.mu.Lock()
		quit := cl.quit
		cl.mu.Unlock()
		if quit {
			break
		}
		if kv == nil {
			var err error
			if kv, err = dialKV(addr); err != nil {
				cl.failed()
				time.Sleep(100 * time.Millisecond)
				continue
			}
		}
		start := time.Now()
		r, err := kv.do("SET", "steady", strconv.Itoa(i))
		if err != nil || r != "OK" {
			kv.Close()
			kv = nil
			cl.failed()
			continue
		}
		now := time.Now()
		cl.mu.Lock()
		cl.longest = max(cl.longest, now.Sub(cl.lastAnswer))
		cl.lastAnswer = now
		if !start.Before(cl.from) {
			cl.latencies = append(cl.latencies, now.Sub(start))
			if now.Sub(start) > slowAnswer {
				cl.slow = append(cl.slow, timedAnswer{now, now.Sub(start)})
			}
		}
		cl.mu.Unlock()
		time.Sleep(steadyPace)
	}
	if kv != nil {
		kv.Close()
	}
}

func (cl *steadyClient) failed() {
	cl.mu.Lock()
	cl.errors++
	cl.mu.Unlock()
}

// mark starts keeping the latencies of requests sent from t on.
func (cl *steadyClient) mark(t time.Time) {
	cl.mu.Lock()
	cl.from = t
	cl.mu.Unlock()
}

// take returns the latencies kept since mark (sorted) and forgets them.
func (cl *steadyClient) take() []time.Duration {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	kept := cl.latencies
	cl.latencies, cl.slow = nil, nil
	slices.Sort(kept)
	return kept
}

// stop ends the client and returns the latencies kept (sorted), the
// longest wait for an answer up to now, and the failed requests.
func (cl *steadyClient) stop() ([]time.Duration, time.Duration, int) {
	cl.mu.Lock()
	cl.quit = true
	cl.longest = max(cl.longest, time.Since(cl.lastAnswer))
	cl.mu.Unlock()
	select {
	case <-cl.done:
	case <-time.After(30 * time.Second): // a request waits at most 10 s
		cl.tb.Error("the steady client did not stop")
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	slices.Sort(cl.latencies)
	return cl.latencies, cl.longest, cl.errors
}
