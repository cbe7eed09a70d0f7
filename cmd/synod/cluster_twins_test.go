package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	ma "github.com/multiformats/go-multiaddr"
	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/cluster"
)

// Two processes share node 4's identity ("Twins"): the same key, each
// with its own copy of the store the cluster was created with, each
// signing what its own engine decides. To the others they are one member
// that may say two different things, which n = 3f+1 tolerates: clients of
// the correct members are answered right, and their replicas agree.
func TestByzantineClusterServesDespiteTwins(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 4-node cluster and a twin")
	}
	const twinned = consensus.NodeID(4)
	c := newTestClusterOf(t, cluster.Spec{Nodes: 4, Engine: cluster.EngineBFT}, testMachine(""))
	twin, twinStatus := startTwin(t, c, twinned)
	t.Cleanup(func() { stopNodes([]*nodeProc{twin}) })
	correct := []consensus.NodeID{1, 2, 3}
	for _, id := range correct {
		c.start(id)
	}
	c.waitServingOn(patience, correct...)
	// Until node 4 itself starts, the members' messages for node 4 can
	// only reach the twin. Once both run, a member's stream to node 4
	// goes to whichever process it reached last, and the other may hear
	// nothing at all; so the twin shows it took part before that.
	c.eventually("the twin applies what the members ordered", func() bool {
		r, err := fetchReport(twinStatus)
		return err == nil && r.Applied > 0
	})
	c.start(twinned)
	setThroughEach(t, c, correct, 0, 50)
	readBackAndRecord(t, c, "twins (two processes, one identity)", correct, 49)
	require.True(t, twin.running(), "the twin ran throughout")
	require.True(t, c.running(twinned), "node 4 ran throughout")
	c.convergedAmong(correct)
}

// startTwin starts a second process as node id, before node id itself
// starts: with its key, a copy of its store as the cluster was created,
// and addresses of its own (the other members still reach node id at
// its configured address; the twin reaches them as node id). It returns
// the twin's process and status address.
func startTwin(t *testing.T, c *testCluster, id consensus.NodeID) (proc *nodeProc, statusAddr string) {
	t.Helper()
	dir := t.TempDir()
	twin := *c.cfg
	twin.Nodes = slices.Clone(c.cfg.Nodes)
	twin.PSKFile = c.cfg.Path(c.cfg.PSKFile)
	for i := range twin.Nodes {
		twin.Nodes[i].KeyFile = c.cfg.Path(twin.Nodes[i].KeyFile)
		twin.Nodes[i].DataDir = c.cfg.Path(twin.Nodes[i].DataDir)
	}
	i := slices.IndexFunc(twin.Nodes, func(n cluster.Node) bool { return n.ID == id })
	require.GreaterOrEqual(t, i, 0)
	me := &twin.Nodes[i]
	data := filepath.Join(dir, "data")
	require.NoError(t, os.CopyFS(data, os.DirFS(me.DataDir)))
	me.DataDir = data
	ports := unclaimedPorts(t, c.cfg, 3)
	listen, err := ma.NewMultiaddr(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", ports[0]))
	require.NoError(t, err)
	me.Listen = listen
	me.StatusAddr = fmt.Sprintf("127.0.0.1:%d", ports[1])
	me.ServicePortOffset = ports[2] - serviceGuestPort
	path := filepath.Join(dir, cluster.FileName)
	require.NoError(t, cluster.Write(path, &twin))
	return c.spawn(path, id, fmt.Sprintf("node%d-twin.log", id), io.Discard), me.StatusAddr
}
