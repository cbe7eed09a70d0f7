package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A cluster whose nodes run guest code differently — one translates it to
// host code, the others interpret it — holds one replicated machine: the
// same answers, and the same state hash at every checked epoch, also after
// the translating node restarts and replays the log.
func TestClusterOfMixedEnginesAgrees(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	c := newTestCluster(t, 3, testMachine(""))
	c.startWith(1, "--engine", "jit")
	c.startWith(2, "--engine", "interp")
	c.startWith(3, "--engine", "interp")
	c.waitServing()
	kv, err := dialKV(c.serviceAddr(1))
	require.NoError(t, err)
	setKeys(t, kv, 0, 100)
	kv.Close()
	c.converged()

	c.kill(1)
	kv, err = dialKV(c.serviceAddr(2))
	require.NoError(t, err)
	setKeys(t, kv, 100, 200)
	kv.Close()
	c.startWith(1, "--engine", "jit")
	c.waitServing()
	kv, err = dialKV(c.serviceAddr(1))
	require.NoError(t, err)
	defer kv.Close()
	r, err := kv.do("GET", "k9")
	require.NoError(t, err)
	require.Equal(t, "199", r)
	c.converged()
	require.Contains(t, c.nodeLog(1), "engine=jit", "node 1 ran with the translator")
	require.Contains(t, c.nodeLog(2), "engine=interp")
}
