package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// pipelineDepth is how many requests a pipelining client has in flight.
const pipelineDepth = 4

// pipeliningClient is client with several requests in flight: it writes
// pipelineDepth requests at once, then reads their replies in order. A
// connection that fails leaves every request without a reply unknown: a
// set may or may not have happened, a get constrains nothing.
func pipeliningClient(c *testCluster, id, keys int, h *history, stop <-chan struct{}) {
	rng := rand.New(rand.NewPCG(uint64(id), 11))
	nodes := c.cfg.Nodes
	target := id % len(nodes)
	var kv *kvClient
	for seq := 0; ; seq += pipelineDepth {
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
		ins := make([]kvInput, pipelineDepth)
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

// TestPipeliningClientsLinearizableThroughALeaderChange: 64 clients, each
// with several requests in flight on its connection and spread over the
// three nodes, see one linearizable key-value store while the leader is
// killed with SIGKILL and restarted: pipelining, batching and the leader
// change together lose or reorder nothing.
func TestPipeliningClientsLinearizableThroughALeaderChange(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	const clients, keys = 64, 64
	c := startCluster(t, 3, testMachine(""))
	c.waitServing()

	h := &history{start: time.Now()}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() { pipeliningClient(c, i, keys, h, stop) })
	}
	progress := func(what string) {
		h.mu.Lock()
		before := h.acked
		h.mu.Unlock()
		c.eventually(what, func() bool {
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.acked >= before+500
		})
	}
	progress("acknowledged operations before the leader is killed")
	leader := c.leader()
	c.kill(leader)
	progress("acknowledged operations after killing the leader")
	c.start(leader)
	c.waitServing()
	progress("acknowledged operations after its restart")
	close(stop)
	wg.Wait()

	t.Logf("%d operations, %d acknowledged", len(h.ops), h.acked)
	requireLinearizable(t, h.ops)
	c.converged()
}
