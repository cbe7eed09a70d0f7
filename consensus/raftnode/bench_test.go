package raftnode

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/cluster"
)

// benchCluster is three Nodes in this process, each with its own libp2p
// transport on loopback and its own bbolt store with fsync on: everything
// a real cluster does except the process boundaries.
type benchCluster struct {
	nodes []*Node
	// waiters maps a proposal id (the first 8 bytes of its data) to the
	// channel closed when the leader delivers it.
	mu      sync.Mutex
	waiters map[uint64]chan struct{}
	drained sync.WaitGroup
}

func startBenchCluster(b *testing.B) *benchCluster {
	dir := b.TempDir()
	cfg, err := CreateCluster(dir, cluster.Spec{Nodes: 3})
	require.NoError(b, err)
	c := &benchCluster{waiters: map[uint64]chan struct{}{}}
	for _, n := range cfg.Nodes {
		node, err := Start(cfg, n.ID, Options{Logger: slog.New(slog.DiscardHandler)})
		require.NoError(b, err)
		c.nodes = append(c.nodes, node)
		c.drained.Go(func() {
			for a := range node.Applies() {
				c.delivered(a)
			}
		})
	}
	b.Cleanup(func() {
		for _, n := range c.nodes {
			require.NoError(b, n.Stop())
		}
		c.drained.Wait()
	})
	return c
}

// delivered wakes the proposers whose entries a has (on whichever node
// delivers them first: the leader, since it commits before its followers
// learn of the commit).
func (c *benchCluster) delivered(a consensus.Apply) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range a.Entries {
		if len(e.Data) < 8 {
			continue
		}
		id := binary.BigEndian.Uint64(e.Data)
		if w, ok := c.waiters[id]; ok {
			close(w)
			delete(c.waiters, id)
		}
	}
}

func (c *benchCluster) leader(b *testing.B) *Node {
	deadline := time.Now().Add(patience)
	for time.Now().Before(deadline) {
		for _, n := range c.nodes {
			if n.Status().IsLeader {
				return n
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.Fatal("no leader")
	return nil
}

// BenchmarkCommit measures committed entries per second and the latency
// from Propose to delivery, through the leader of a 3-node loopback
// cluster with fsync on.
func BenchmarkCommit(b *testing.B) {
	c := startBenchCluster(b)
	var nextID atomic.Uint64
	for _, size := range []int{64, 1024} {
		for _, proposers := range []int{1, 64} {
			b.Run(fmt.Sprintf("bytes=%d/proposers=%d", size, proposers), func(b *testing.B) {
				lead := c.leader(b)
				ctx, cancel := context.WithTimeout(context.Background(), 10*patience)
				defer cancel()
				var remaining atomic.Int64
				remaining.Store(int64(b.N))
				latencies := make([][]time.Duration, proposers)
				var wg sync.WaitGroup
				b.ResetTimer()
				start := time.Now()
				for p := range proposers {
					wg.Go(func() {
						data := make([]byte, size)
						for remaining.Add(-1) >= 0 {
							id := nextID.Add(1)
							binary.BigEndian.PutUint64(data, id)
							w := make(chan struct{})
							c.mu.Lock()
							c.waiters[id] = w
							c.mu.Unlock()
							t0 := time.Now()
							if err := lead.Propose(ctx, slices.Clone(data)); err != nil {
								b.Error(err)
								return
							}
							select {
							case <-w:
							case <-ctx.Done():
								b.Error("proposal not delivered")
								return
							}
							latencies[p] = append(latencies[p], time.Since(t0))
						}
					})
				}
				wg.Wait()
				elapsed := time.Since(start)
				b.StopTimer()
				all := slices.Concat(latencies...)
				slices.Sort(all)
				if len(all) == 0 {
					return
				}
				b.ReportMetric(float64(len(all))/elapsed.Seconds(), "entries/s")
				b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}
