package main

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/cluster"
)

// A Byzantine cluster (engine bft, 4 nodes) runs the replicated machine
// as a raft cluster does: it serves the key-value service through every
// node, keeps serving when its primary is killed, and the replicas end in
// the same state, the restarted one included.
func TestByzantineClusterServesThroughAKilledPrimary(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 4-node cluster")
	}
	c := newTestClusterOf(t, cluster.Spec{Nodes: 4, Engine: cluster.EngineBFT}, testMachine(""))
	for _, n := range c.cfg.Nodes {
		c.start(n.ID)
	}
	c.waitServing()
	primary := c.leader()
	kv, err := dialKV(c.serviceAddr(primary))
	require.NoError(t, err)
	setKeys(t, kv, 0, 20)
	kv.Close()

	c.kill(primary)
	var other consensus.NodeID
	for _, n := range c.cfg.Nodes {
		if n.ID != primary {
			other = n.ID
			break
		}
	}
	c.eventually(fmt.Sprintf("node %d takes writes without primary %d", other, primary), func() bool {
		kv, err := dialKV(c.serviceAddr(other))
		if err != nil {
			return false
		}
		defer kv.Close()
		r, err := kv.do("SET", "k9", "29")
		return err == nil && r == "OK"
	})
	c.start(primary)
	c.waitServing()
	for _, n := range c.cfg.Nodes {
		c.eventually(fmt.Sprintf("node %d serves the writes of both primaries", n.ID), func() bool {
			kv, err := dialKV(c.serviceAddr(n.ID))
			if err != nil {
				return false
			}
			defer kv.Close()
			r0, err0 := kv.do("GET", "k0")
			r9, err9 := kv.do("GET", "k9")
			return err0 == nil && err9 == nil && r0 == "10" && r9 == "29"
		})
	}
	c.converged()
}
