package main

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
)

// answerBound is how long a client may wait for a node to answer it or
// hang up on it, whatever state that node is in: it has to catch up with
// the log first, but it must never leave a client waiting for nothing.
const answerBound = 15 * time.Second

// outcome is what a client saw of one request.
type outcome struct {
	reply string // the reply, when there was one
	err   error  // the connection's end (EOF, reset) when there was none
}

// hung reports whether the client got neither a reply nor a hang-up.
func (o outcome) hung() bool {
	var ne net.Error
	return errors.As(o.err, &ne) && ne.Timeout()
}

// request sends one command on kv and waits answerBound for its reply or
// the end of the connection.
func request(kv *kvClient, args ...string) outcome {
	if err := kv.send(args...); err != nil {
		return outcome{err: err}
	}
	return kv.await()
}

// send writes one command without waiting for the reply: to a stopped node
// the kernel takes it, and the node reads it once it runs again.
func (k *kvClient) send(args ...string) error {
	var b []byte
	b = fmt.Appendf(b, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	if err := k.conn.SetWriteDeadline(time.Now().Add(answerBound)); err != nil {
		return err
	}
	_, err := k.conn.Write(b)
	return err
}

// await reads the reply to what was sent, within answerBound.
func (k *kvClient) await() outcome {
	if err := k.conn.SetReadDeadline(time.Now().Add(answerBound)); err != nil {
		return outcome{err: err}
	}
	r, err := k.reply()
	return outcome{reply: r, err: err}
}

// signal sends sig to node id's process; a node stopped with SIGSTOP is
// continued when the test ends, so that it can be stopped.
func (c *testCluster) signal(id consensus.NodeID, sig syscall.Signal) {
	c.t.Helper()
	c.mu.Lock()
	pid := c.procs[id].cmd.Process.Pid
	c.mu.Unlock()
	require.NoError(c.t, syscall.Kill(pid, sig))
	if sig == syscall.SIGSTOP {
		c.t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })
	}
}

// waitDeclaredDown waits until a node other than id logs that it declared
// id down, that is, until the log holds NodeDown{id}.
func (c *testCluster) waitDeclaredDown(id consensus.NodeID) {
	c.t.Helper()
	declared := regexp.MustCompile(fmt.Sprintf(`msg="declaring a node down".* member=%d missing_for=`, id))
	c.eventually(fmt.Sprintf("node %d declared down", id), func() bool {
		for _, n := range c.cfg.Nodes {
			if n.ID != id && declared.MatchString(c.nodeLog(n.ID)) {
				return true
			}
		}
		return false
	})
}

// follower returns a node that does not lead the log.
func (c *testCluster) follower() consensus.NodeID {
	c.t.Helper()
	leader := c.leader()
	for _, n := range c.cfg.Nodes {
		if n.ID != leader {
			return n.ID
		}
	}
	c.t.Fatal("no follower")
	return 0
}

// A node that stops for longer than --down-after (SIGSTOP, as a long GC
// pause or a frozen VM would) is declared down, and its clients'
// connections end in the replicated machine. When it runs again, each of
// its clients gets a reply or sees its connection closed within the bound:
// the one connected before the pause, the one that connected during it
// (its connection reaches the log after the node was declared down), and
// the one that connects as it resumes. Then the node serves again.
func TestClusterClientsOfAPausedNodeAreAnsweredOrClosed(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	c := startCluster(t, 3, testMachine(""))
	c.waitServing()
	y := c.follower()
	addr := c.serviceAddr(y)

	before, err := dialKV(addr)
	require.NoError(t, err)
	defer before.Close()
	r, err := before.do("SET", "before", "1")
	require.NoError(t, err)
	require.Equal(t, "OK", r)

	c.signal(y, syscall.SIGSTOP)
	during, err := dialKV(addr) // the kernel completes the handshake for the stopped node
	require.NoError(t, err)
	defer during.Close()
	require.NoError(t, during.send("SET", "during", "1"))
	require.NoError(t, before.send("SET", "before", "2"))
	c.waitDeclaredDown(y)
	c.signal(y, syscall.SIGCONT)
	after, err := dialKV(addr)
	require.NoError(t, err)
	defer after.Close()
	require.NoError(t, after.send("SET", "after", "1"))

	var wg sync.WaitGroup
	outcomes := map[string]*outcome{"before": {}, "during": {}, "after": {}}
	for name, kv := range map[string]*kvClient{"before": before, "during": during, "after": after} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			*outcomes[name] = kv.await()
		}()
	}
	wg.Wait()
	for name, o := range outcomes {
		t.Logf("client connected %s the pause: reply %q, err %v", name, o.reply, o.err)
	}
	for name, o := range outcomes {
		require.False(t, o.hung(), "the client connected %s the pause got neither a reply nor a hang-up within %v", name, answerBound)
		if o.err == nil {
			require.Equal(t, "OK", o.reply, "client connected %s the pause", name)
		}
	}

	c.waitServing()
	other, err := dialKV(c.serviceAddr(c.leader()))
	require.NoError(t, err)
	defer other.Close()
	for name, o := range outcomes {
		if o.err == nil {
			r, err := other.do("GET", name)
			require.NoError(t, err)
			require.NotEqual(t, "(nil)", r, "the SET acknowledged to the client connected %s the pause was applied", name)
		}
	}
	c.converged()
}

// startClusterAndKillAFollower starts a 3-node cluster of the key-value
// service, waits until it serves and kills a follower, which it returns.
func startClusterAndKillAFollower(t *testing.T) (*testCluster, consensus.NodeID) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	c := startCluster(t, 3, testMachine(""))
	c.waitServing()
	y := c.follower()
	c.kill(y)
	return c, y
}

// A node that restarts after it was declared down catches up with the log
// before it serves again. A client that connects to it meanwhile is
// refused, answered, or has its connection closed within the bound; none
// is left waiting.
func TestClusterClientsOfARestartingNodeAreAnsweredOrClosed(t *testing.T) {
	c, y := startClusterAndKillAFollower(t)
	c.waitDeclaredDown(y)
	kv, err := dialKV(c.serviceAddr(c.leader()))
	require.NoError(t, err)
	defer kv.Close()
	// History for the restarted node to replay before it serves.
	setKeys(t, kv, 0, 300)

	c.start(y)
	addr := c.serviceAddr(y)
	const maxProbes = 400
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		outcomes []outcome
		served   bool
	)
	for range maxProbes {
		mu.Lock()
		done := served
		mu.Unlock()
		if done {
			break
		}
		time.Sleep(25 * time.Millisecond)
		probe, err := dialKV(addr)
		if err != nil {
			continue // not listening yet: refused, as it should be
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer probe.Close()
			o := request(probe, "GET", "k9")
			mu.Lock()
			defer mu.Unlock()
			outcomes = append(outcomes, o)
			served = served || o.err == nil
		}()
	}
	wg.Wait()
	require.True(t, served, "node %d serves again after restarting", y)
	closed := 0
	for _, o := range outcomes {
		require.False(t, o.hung(), "a client of the restarting node got neither a reply nor a hang-up within %v", answerBound)
		if o.err != nil {
			closed++
			continue
		}
		require.Equal(t, "299", o.reply, "a restarted node answers only once it has caught up")
	}
	t.Logf("%d connections accepted while node %d restarted: %d closed, %d answered", len(outcomes), y, closed, len(outcomes)-closed)
	c.converged()
}

// A node that restarts while no other node runs cannot know how far the
// cluster went without it: the log on its disk may be far behind. It
// takes no client until a leader has told it where the log stands and it
// has applied that far; a client that connects meanwhile is hung up on,
// not left waiting for a quorum that may be minutes away. Once the others
// run, it serves what they acknowledged while it was away.
func TestClusterNodeRestartedAloneTakesNoClientUntilCaughtUp(t *testing.T) {
	c, y := startClusterAndKillAFollower(t)
	kv, err := dialKV(c.serviceAddr(c.leader()))
	require.NoError(t, err)
	setKeys(t, kv, 0, 50)
	kv.Close()
	var others []consensus.NodeID
	for _, n := range c.cfg.Nodes {
		if n.ID != y {
			c.kill(n.ID)
			others = append(others, n.ID)
		}
	}

	c.start(y)
	c.eventually(fmt.Sprintf("node %d's guest listens again", y), func() bool {
		return strings.Count(c.nodeLog(y), `msg="serving guest port"`) == 2 // its log goes on from its first run
	})
	early, err := dialKV(c.serviceAddr(y))
	if err == nil { // a refused connection is as good as a hang-up
		defer early.Close()
		o := request(early, "GET", "k9")
		require.False(t, o.hung(), "a client of a node that has never heard from a leader got neither a reply nor a hang-up within %v", answerBound)
		require.Error(t, o.err, "a node that does not know where the log stands answered %q", o.reply)
	}

	for _, id := range others {
		c.start(id)
	}
	c.eventually(fmt.Sprintf("node %d serves what was acknowledged while it was away", y), func() bool {
		kv, err := dialKV(c.serviceAddr(y))
		if err != nil {
			return false
		}
		defer kv.Close()
		r, err := kv.do("GET", "k9")
		return err == nil && r == "49"
	})
	c.converged()
}
