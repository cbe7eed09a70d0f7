package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/cluster"
)

func TestClusterIsOneMachine(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	c := startCluster(t, 3, testMachine(""))
	c.waitServing()

	kv1, err := dialKV(c.serviceAddr(1))
	require.NoError(t, err)
	defer kv1.Close()
	kv3, err := dialKV(c.serviceAddr(3))
	require.NoError(t, err)
	defer kv3.Close()

	r, err := kv1.do("SET", "greeting", "hello")
	require.NoError(t, err)
	require.Equal(t, "OK", r)
	r, err = kv3.do("GET", "greeting")
	require.NoError(t, err)
	require.Equal(t, "hello", r, "written through node 1, read through node 3")
	r, err = kv3.do("INCR", "n")
	require.NoError(t, err)
	require.Equal(t, "1", r)
	r, err = kv1.do("INCR", "n")
	require.NoError(t, err)
	require.Equal(t, "2", r)
	c.converged()
}

// kvInput and kvOutput are the operations of the porcupine model: a
// register per key.
type kvInput struct {
	set        bool
	key, value string
}

type kvOutput struct {
	value   string // for a get; "(nil)" when absent
	unknown bool   // the client never learned the outcome
}

var kvModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(kvInput).key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		var parts [][]porcupine.Operation
		for _, k := range keys {
			parts = append(parts, byKey[k])
		}
		return parts
	},
	Init: func() any { return "(nil)" },
	Step: func(state, input, output any) (bool, any) {
		in, out := input.(kvInput), output.(kvOutput)
		if in.set {
			return true, in.value
		}
		return out.value == state.(string), state
	},
	Equal: func(a, b any) bool { return a == b },
	DescribeOperation: func(input, output any) string {
		in, out := input.(kvInput), output.(kvOutput)
		if in.set {
			return fmt.Sprintf("set %s=%s", in.key, in.value)
		}
		return fmt.Sprintf("get %s -> %s", in.key, out.value)
	},
}

// history collects the operations of concurrent clients.
type history struct {
	mu    sync.Mutex
	start time.Time
	ops   []porcupine.Operation
	acked int
}

func (h *history) now() int64 { return int64(time.Since(h.start)) }

func (h *history) add(op porcupine.Operation) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, op)
	if !op.Output.(kvOutput).unknown {
		h.acked++
	}
}

// clientLoad is clients running on a cluster, recording one history.
type clientLoad struct {
	c    *testCluster
	h    *history
	stop chan struct{}
	wg   sync.WaitGroup
}

// startClients starts n clients on keys k0..k<keys-1>, each with depth
// requests in flight.
func startClients(c *testCluster, n, keys, depth int) *clientLoad {
	l := &clientLoad{c: c, h: &history{start: time.Now()}, stop: make(chan struct{})}
	for i := range n {
		l.wg.Go(func() { client(c, i, keys, depth, l.h, l.stop) })
	}
	return l
}

// progress waits until the clients have had n more operations
// acknowledged.
func (l *clientLoad) progress(what string, n int) {
	l.h.mu.Lock()
	before := l.h.acked
	l.h.mu.Unlock()
	l.c.eventually(what, func() bool {
		l.h.mu.Lock()
		defer l.h.mu.Unlock()
		return l.h.acked >= before+n
	})
}

// finish stops the clients and returns their history.
func (l *clientLoad) finish() []porcupine.Operation {
	close(l.stop)
	l.wg.Wait()
	l.c.t.Logf("%d operations, %d acknowledged", len(l.h.ops), l.h.acked)
	return l.h.ops
}

// client runs random sets and gets on keys k0..k<keys-1> through one
// node until stop closes, depth requests in flight at a time (written at
// once, their replies read in order), moving to the next node whenever
// its connection fails (the node died). An operation whose reply never
// came has an unknown outcome: a set may or may not have happened, so it
// stays open until the end of the history; a get constrains nothing and
// is dropped.
func client(c *testCluster, id, keys, depth int, h *history, stop <-chan struct{}) {
	rng := rand.New(rand.NewPCG(uint64(id), 11))
	nodes := c.cfg.Nodes
	target := id % len(nodes)
	var kv *kvClient
	for seq := 0; ; seq += depth {
		select {
		case <-stop:
			if kv != nil {
				kv.Close()
			}
			return
		default:
		}
		if kv == nil {
			var err error
			if kv, err = dialKV(c.serviceAddr(nodes[target].ID)); err != nil {
				target = (target + 1) % len(nodes)
				time.Sleep(20 * time.Millisecond)
				continue
			}
		}
		var batch strings.Builder
		ins := make([]kvInput, depth)
		for i := range ins {
			ins[i] = kvInput{key: fmt.Sprintf("k%d", rng.IntN(keys))}
			args := []string{"GET", ins[i].key}
			if rng.IntN(2) == 0 {
				ins[i].set, ins[i].value = true, fmt.Sprintf("c%d-%d", id, seq+i)
				args = []string{"SET", ins[i].key, ins[i].value}
			}
			writeRESP(&batch, args)
		}
		call := h.now()
		err := kv.conn.SetDeadline(time.Now().Add(10 * time.Second))
		if err == nil {
			_, err = kv.conn.Write([]byte(batch.String()))
		}
		answered := 0
		for err == nil && answered < len(ins) {
			var reply string
			if reply, err = kv.reply(); err == nil {
				h.add(porcupine.Operation{ClientId: id, Input: ins[answered], Call: call, Output: kvOutput{value: reply}, Return: h.now()})
				answered++
			}
		}
		if err != nil {
			for _, in := range ins[answered:] {
				if in.set {
					h.add(porcupine.Operation{ClientId: id, Input: in, Call: call, Output: kvOutput{unknown: true}, Return: 1 << 62})
				}
			}
			kv.Close()
			kv = nil
			target = (target + 1) % len(nodes)
		}
	}
}

// requireLinearizable fails the test unless ops are a linearizable
// history of the key-value store. On failure it logs the operations on
// the first key whose history is not, in call order (a CI log shows them;
// the visualization stays on the machine that ran the test).
func requireLinearizable(t *testing.T, ops []porcupine.Operation) {
	t.Helper()
	start := time.Now()
	res, info := porcupine.CheckOperationsVerbose(kvModel, ops, 2*time.Minute)
	t.Logf("checked %d operations in %v", len(ops), time.Since(start).Round(time.Millisecond))
	if res == porcupine.Ok {
		return
	}
	for _, part := range kvModel.Partition(ops) {
		if porcupine.CheckOperations(kvModel, part) {
			continue
		}
		slices.SortFunc(part, func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })
		for _, op := range part {
			t.Logf("client %d [%d, %d]: %s%s", op.ClientId, op.Call, op.Return,
				kvModel.DescribeOperation(op.Input, op.Output), map[bool]string{true: " (outcome unknown)"}[op.Output.(kvOutput).unknown])
		}
		break
	}
	path := t.TempDir() + "/history.html"
	if err := porcupine.VisualizePath(kvModel, info, path); err != nil {
		t.Logf("visualize: %v", err)
	}
	t.Fatalf("history is %s (visualization: %s)", res, path)
}

// The central promise: concurrent clients writing through
// different nodes see one linearizable key-value store, while the leader
// and then another node (each with clients connected) are killed with
// SIGKILL and restarted; no acknowledged write is lost, and the restarted
// nodes end with the same state as the others.
func TestClusterLinearizableThroughFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	c := startCluster(t, 3, testMachine(""))
	c.waitServing()

	load := startClients(c, 6, 4, 1)
	load.progress("acknowledged operations before the first crash", 50)

	leader := c.leader()
	c.kill(leader)
	load.progress("acknowledged operations after killing the leader", 50)
	c.start(leader)

	other := consensus.NodeID(1 + int(leader)%3)
	c.kill(other)
	load.progress("acknowledged operations after killing a second node", 50)
	c.start(other)
	c.waitServing()
	load.progress("acknowledged operations after both restarts", 50)
	requireLinearizable(t, load.finish())
	c.converged()
}

// TestPipeliningClientsLinearizableThroughALeaderChange: 64 clients, each
// with several requests in flight on its connection and spread over the
// three nodes, see one linearizable key-value store while the leader is
// killed with SIGKILL and restarted: pipelining, batching and the leader
// change together lose or reorder nothing.
func TestPipeliningClientsLinearizableThroughALeaderChange(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	const clients, keys = 64, 64 // 4 requests in flight each
	c := startCluster(t, 3, testMachine(""))
	c.waitServing()

	load := startClients(c, clients, keys, 4)
	load.progress("acknowledged operations before the leader is killed", 500)
	leader := c.leader()
	c.kill(leader)
	load.progress("acknowledged operations after killing the leader", 500)
	c.start(leader)
	c.waitServing()
	load.progress("acknowledged operations after its restart", 500)
	requireLinearizable(t, load.finish())
	c.converged()
}

// A CPU-bound guest on three nodes prints its output exactly once (the
// console node performs it) and every replica ends in the same state.
func TestClusterCPUBoundGuest(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	c := startCluster(t, 3, testMachine("guests/primes"))
	exitCodes := map[consensus.NodeID]nodeReport{}
	c.eventually("the guest to exit on every node", func() bool {
		for _, n := range c.cfg.Nodes {
			r, err := c.report(n.ID)
			if err != nil || !r.Exited {
				return false
			}
			exitCodes[n.ID] = r
		}
		return true
	})
	run := exec.Command(os.Args[0], "run", "guests/primes")
	run.Env = append(os.Environ(), runAsSynodEnv+"=1")
	want, err := run.Output()
	require.NoError(t, err)
	console := c.consoleOfAll(func(s string) bool { return len(s) >= len(want) })
	require.Equal(t, string(want), console, "the output appears once, as synod run prints it")
	for _, r := range exitCodes {
		require.Equal(t, 0, r.exitCode())
		require.Equal(t, exitCodes[1].StateHash, r.StateHash, "final state of node %d", r.ID)
		require.False(t, r.BootedAt.IsZero(), "node %d says when the guest booted", r.ID)
		require.True(t, r.ExitedAt.After(r.BootedAt), "node %d: the guest exited at %v, after its boot at %v", r.ID, r.ExitedAt, r.BootedAt)
	}
}

// A node that was down while the log moved on and was compacted catches
// up from a snapshot of the replicated machine sent by the leader, and
// ends in the same state as the others.
func TestClusterRejoinThroughSnapshot(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	m := testMachine("")
	m.snapshotEvery = 40
	c := startCluster(t, 3, m)
	c.waitServing()
	r3, err := c.report(3)
	require.NoError(t, err)
	c.kill(3)

	kv, err := dialKV(c.serviceAddr(1))
	require.NoError(t, err)
	defer kv.Close()
	// Until the others' snapshots are past node 3's log with room to
	// spare, so that their compacted logs cannot catch it up: how many
	// entries a request makes depends on how the leader merges them.
	keys := 0
	c.eventually("the others compact their logs past node 3's", func() bool {
		setKeys(t, kv, keys, keys+50)
		keys += 50
		for _, id := range []consensus.NodeID{1, 2} {
			if r, err := c.report(id); err != nil || r.Snapshot < r3.Commit+3*m.snapshotEvery {
				return false
			}
		}
		return true
	})
	c.start(3)
	// Asked through its status first: restarted behind the compacted log,
	// it may hear from the leader only the snapshot, and it stayed "not
	// serving" when that did not count as hearing the leader's commit.
	c.eventually("node 3 takes clients", func() bool { return c.takesClients(3) })
	c.waitServing()
	kv3, err := dialKV(c.serviceAddr(3))
	require.NoError(t, err)
	defer kv3.Close()
	r, err := kv3.do("GET", "k9")
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(keys-1), r, "node 3 serves what it missed")
	c.converged()
	log, err := os.ReadFile(filepath.Join(c.cfg.Dir(), "node3.log"))
	require.NoError(t, err)
	require.Contains(t, string(log), "installed snapshot", "node 3 caught up through a snapshot")
}

// A node that falls so far behind that it takes the others' state hangs
// up on its clients, whose replies lay in the history it skipped; the
// operator sees how often, and how many clients it cost, in its status
// and in the health line of synod status: a node whose count keeps
// growing executes more slowly than the cluster decides. A Byzantine
// member installs the others' state once it is more than
// bft.Config.CatchUpWindows windows behind their stable checkpoint; a
// member stopped while the others go on is such a member. Whether it
// installs or executes what it missed depends on how much of the others'
// traffic its peers kept queued for it (under load it may hear of each
// checkpoint in turn, and stay within the span), so the test holds the
// count to what the client saw: hung up on exactly when counted.
func TestClusterStatusCountsClientsHungUpByAStateInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 4-node Byzantine cluster")
	}
	// Declared down while it is stopped, the member would have its client
	// hung up on by the cluster before the install (the install then
	// costs it none); a stop under load may last longer than the tests'
	// usual two seconds.
	m := testMachine("")
	m.downAfter = time.Minute
	c := newTestClusterOf(t, cluster.Spec{Nodes: 4, Engine: cluster.EngineBFT}, m)
	for _, n := range c.cfg.Nodes {
		c.start(n.ID)
	}
	c.waitServing()
	y := c.follower()
	client, err := dialKV(c.serviceAddr(y))
	require.NoError(t, err)
	defer client.Close()
	_, err = client.do("SET", "before", "1")
	require.NoError(t, err)
	before, err := c.report(y)
	require.NoError(t, err)
	require.Zero(t, before.StateInstalls)

	primary := c.leader()
	kv, err := dialKV(c.serviceAddr(primary))
	require.NoError(t, err)
	defer kv.Close()
	c.signal(y, syscall.SIGSTOP)
	// Each SET waits for its answer, so each takes a sequence number of
	// its own at least: 1,000 of them put the stopped member far more than
	// the 256 sequence numbers of the default catch-up span behind the
	// others' stable checkpoint.
	setKeys(t, kv, 0, 1000)
	r, err := c.report(primary)
	require.NoError(t, err)
	stable := r.Snapshot
	require.Greater(t, stable, before.Applied, "the others' checkpoint moved on")
	c.signal(y, syscall.SIGCONT)

	c.eventually("the resumed member past the others' checkpoint", func() bool {
		r, err := c.report(y)
		return err == nil && r.Applied >= stable
	})
	// The engine reports the index applied before the node's loop has
	// installed the state and published its status: the client's answer
	// comes after both.
	_, hungUp := client.do("GET", "before")
	status := func() string {
		var out bytes.Buffer
		require.NoError(t, runStatus(context.Background(), []string{"--config", c.configPath}, &out))
		return out.String()
	}
	counted := regexp.MustCompile(fmt.Sprintf(`(?m)^health: .*; node %d fell too far behind once and hung up on 1 client$`, y))
	if hungUp == nil {
		t.Logf("node %d executed what it missed and kept its client", y)
		after, err := c.report(y)
		require.NoError(t, err)
		require.Zero(t, after.StateInstalls, "node %d kept its client: no install that cost one", y)
		require.Zero(t, after.ClientsHungUp)
		require.NotRegexp(t, counted, status())
		return
	}
	t.Logf("node %d took the others' state; its client: %v", y, hungUp)
	c.eventually("the install counted in node's status", func() bool {
		r, err := c.report(y)
		return err == nil && r.StateInstalls > 0
	})
	after, err := c.report(y)
	require.NoError(t, err)
	require.EqualValues(t, 1, after.StateInstalls, "node %d hung up on its client: one install that cost clients", y)
	require.EqualValues(t, 1, after.ClientsHungUp, "and one client")
	out := status()
	t.Logf("synod status:\n%s", out)
	require.Regexp(t, counted, out)
}
