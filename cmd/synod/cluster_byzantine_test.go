package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/cluster"
)

// A Byzantine cluster (engine bft, 4 nodes) runs the replicated machine
// as a raft cluster does, for as long as it is asked to: clients write
// through every node many times more requests than the engine's window
// holds, so checkpoints must become stable again and again; the primary
// is killed with SIGKILL and a view change brings another; the killed
// node, restarted, takes the state it missed and ends with the others'.
func TestByzantineClusterServesThroughAKilledPrimary(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 4-node cluster")
	}
	const perNodeBefore, perNodeAfter = 600, 300
	c := newTestClusterOf(t, cluster.Spec{Nodes: 4, Engine: cluster.EngineBFT}, testMachine(""))
	var all []consensus.NodeID
	for _, n := range c.cfg.Nodes {
		c.start(n.ID)
		all = append(all, n.ID)
	}
	c.waitServing()
	setThroughEach(t, c, all, 0, perNodeBefore)

	primary := c.leader()
	before, err := c.report(primary)
	require.NoError(t, err)
	require.Positive(t, before.Snapshot, "no checkpoint became stable")
	c.kill(primary)

	survivors := slices.DeleteFunc(slices.Clone(all), func(id consensus.NodeID) bool { return id == primary })
	c.eventually("a view change: the survivors take writes without primary "+fmt.Sprint(primary), func() bool {
		kv, err := dialKV(c.serviceAddr(survivors[0]))
		if err != nil {
			return false
		}
		defer kv.Close()
		r, err := kv.do("SET", "after-kill", "1")
		return err == nil && r == "OK"
	})
	setThroughEach(t, c, survivors, perNodeBefore, perNodeBefore+perNodeAfter)
	after, err := c.report(survivors[0])
	require.NoError(t, err)
	require.Greater(t, after.Term, before.Term, "the view changed")
	require.Greater(t, after.Snapshot, before.Snapshot, "checkpoints go on becoming stable in the new view")
	requireByzantineStatus(t, c, primary)

	c.start(primary)
	c.waitServing()
	c.eventually(fmt.Sprintf("node %d back in the current view", primary), func() bool {
		r, err := c.report(primary)
		return err == nil && r.Term >= after.Term && r.Leader != 0
	})
	for _, id := range all {
		c.eventually(fmt.Sprintf("node %d serves the last writes through every node", id), func() bool {
			kv, err := dialKV(c.serviceAddr(id))
			if err != nil {
				return false
			}
			defer kv.Close()
			for _, via := range all {
				last := perNodeBefore - 1
				if via != primary {
					last = perNodeBefore + perNodeAfter - 1
				}
				if r, err := kv.do("GET", writtenKey(via, last)); err != nil || r != fmt.Sprint(last) {
					return false
				}
			}
			return true
		})
	}
	c.converged()
	requireByzantineStatus(t, c, 0)
	recordFault(faultRow{behaviour: "primary killed (SIGKILL)", certified: certifiedBy(c, all), available: true})
}

// writtenKey is the key setThroughEach writes its i-th value to through
// node via: ten keys per node, overwritten in turn.
func writtenKey(via consensus.NodeID, i int) string { return fmt.Sprintf("n%d-k%d", via, i%10) }

// setThroughEach writes the values from..to-1 through each of the nodes
// at once, one client per node, each value to writtenKey, and requires
// every write to succeed.
func setThroughEach(t *testing.T, c *testCluster, nodes []consensus.NodeID, from, to int) {
	t.Helper()
	start := time.Now()
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for n, id := range nodes {
		wg.Go(func() {
			kv, err := dialKV(c.serviceAddr(id))
			if err != nil {
				errs[n] = err
				return
			}
			defer kv.Close()
			for i := from; i < to; i++ {
				r, err := kv.do("SET", writtenKey(id, i), fmt.Sprint(i))
				if err != nil || r != "OK" {
					errs[n] = fmt.Errorf("SET %d through node %d: %q, %v", i, id, r, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	t.Logf("%d SETs through nodes %v in %v", (to-from)*len(nodes), nodes, time.Since(start).Round(time.Millisecond))
}

// requireByzantineStatus checks what synod status shows of a Byzantine
// cluster whose node down is not running (0: every node runs): the others
// as the primary of the current view and its backups, and a health line
// with the engine, the view and the primary.
func requireByzantineStatus(t *testing.T, c *testCluster, down consensus.NodeID) {
	t.Helper()
	primary := c.leader()
	r, err := c.report(primary)
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, runStatus(context.Background(), []string{"--config", c.configPath}, &out))
	t.Logf("synod status:\n%s", out.String())
	for _, n := range c.cfg.Nodes {
		row := statusRow(t, out.String(), n.ID)
		switch n.ID {
		case down:
			require.Equal(t, "down", row[1], out.String())
		case primary:
			require.Equal(t, []string{"primary", fmt.Sprint(primary)}, row[1:3], out.String())
		default:
			require.Equal(t, []string{"backup", fmt.Sprint(primary)}, row[1:3], out.String())
		}
	}
	answering := len(c.cfg.Nodes)
	if down != 0 {
		answering--
	}
	require.Regexp(t, fmt.Sprintf(`(?m)^health: quorum yes \(%d of 4 nodes answer\), engine bft, view %d, primary %d, max lag`, answering, r.Term, primary), out.String())
}

// A client that sends more in one go than one request of the Byzantine
// engine holds (64 KiB) is answered: its bytes go in batches the engine
// takes. They went in one batch of up to 1 MiB, which the engine
// refused, again and again, and the client waited for good.
func TestByzantineClusterTakesALargeWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 4-node cluster")
	}
	c := startByzantineCluster(t)
	kv, err := dialKV(c.serviceAddr(1))
	require.NoError(t, err)
	defer kv.Close()
	value := strings.Repeat("0123456789abcdef", 200_000/16)
	r, err := kv.do("SET", "large", value)
	require.NoError(t, err)
	require.Equal(t, "OK", r)
	kv4, err := dialKV(c.serviceAddr(4))
	require.NoError(t, err)
	defer kv4.Close()
	r, err = kv4.do("STRLEN", "large")
	require.NoError(t, err)
	require.Equal(t, fmt.Sprint(len(value)), r)
	c.converged()
}

// A Byzantine cluster's guest reads 256 KiB of a disk in one pread: the
// node that read it proposes the answer in parts the engine takes. It
// proposed the whole answer as one entry, which the engine (64 KiB
// requests) refused again and again, and the guest waited for good.
func TestByzantineGuestReadsMoreThanARequestAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 4-node cluster")
	}
	dir := t.TempDir()
	addr := startDiskServer(t, dir, "big", 1<<20)
	guest, err := filepath.Abs("guests/bigio/bigio")
	require.NoError(t, err)
	c := newTestClusterOf(t, cluster.Spec{Nodes: 4, Engine: cluster.EngineBFT}, testMachine(guest), "/dev/synod/big.1", "262144")
	c.cfg.Disks = []cluster.Disk{{Name: "big", Size: 1 << 20, Paths: []cluster.DiskPath{{Node: 1, Addr: addr}}}}
	require.NoError(t, cluster.Write(c.configPath, c.cfg))
	require.Contains(t, c.startAllUntilConsole("bigio: "), "bigio: 262144 bytes in 1 reads, match\n")
}

// startAllUntilConsole starts every node and returns node 1's console
// once it holds a line that starts with prefix.
func (c *testCluster) startAllUntilConsole(prefix string) string {
	for _, n := range c.cfg.Nodes {
		c.start(n.ID)
	}
	c.consoleLine(1, prefix)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.console[1].String()
}

// A Byzantine cluster killed whole and started again serves, with what
// it acknowledged before. Its members restart from one stable checkpoint
// and order nothing new until one takes a client; each counted only
// checkpoints past its own toward knowing it had caught up, so none ever
// took one.
func TestByzantineClusterServesAfterAWholeRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 4-node cluster twice")
	}
	c := startByzantineCluster(t)
	kv, err := dialKV(c.serviceAddr(1))
	require.NoError(t, err)
	const writes = 200 // one batch each, several checkpoints' worth
	for i := range writes {
		r, err := kv.do("SET", fmt.Sprintf("key%d", i), fmt.Sprintf("value%d", i))
		require.NoError(t, err)
		require.Equal(t, "OK", r)
	}
	kv.Close()
	for _, n := range c.cfg.Nodes {
		c.kill(n.ID)
	}
	for _, n := range c.cfg.Nodes {
		c.start(n.ID)
	}
	c.waitServing()
	for _, n := range c.cfg.Nodes {
		kv, err := dialKV(c.serviceAddr(n.ID))
		require.NoError(t, err)
		r, err := kv.do("GET", fmt.Sprintf("key%d", writes-1))
		kv.Close()
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("value%d", writes-1), r, "node %d", n.ID)
	}
}

// startByzantineCluster starts a 4-node Byzantine cluster of the bundled
// service and returns it once every node answers.
func startByzantineCluster(t testing.TB) *testCluster {
	t.Helper()
	c := newTestClusterOf(t, cluster.Spec{Nodes: 4, Engine: cluster.EngineBFT}, testMachine(""))
	for _, n := range c.cfg.Nodes {
		c.start(n.ID)
	}
	c.waitServing()
	return c
}
