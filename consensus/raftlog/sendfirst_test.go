package raftlog

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/memnet"
)

// writerTransport stands for the p2p transport: Send only queues, and a
// goroutine of its own (the link's writer) takes the messages off the
// queue, as a real link puts them on the wire.
type writerTransport struct {
	*memnet.Endpoint
	queue         chan []byte
	queued, taken atomic.Int64
}

func newWriterTransport(ep *memnet.Endpoint) *writerTransport {
	t := &writerTransport{Endpoint: ep, queue: make(chan []byte, 1024)}
	go func() {
		for msg := range t.queue {
			t.taken.Add(1)
			_ = t.Endpoint.Send(consensus.NodeID(msg[0]), msg[1:])
		}
	}()
	return t
}

func (t *writerTransport) Send(to consensus.NodeID, msg []byte) error {
	t.queued.Add(1)
	t.queue <- append([]byte{byte(to)}, msg...)
	return nil
}

// syncWatch is a store that notes, at each save of entries, whether the
// writer had taken everything queued before it.
type syncWatch struct {
	*MemStore
	net *writerTransport

	mu                sync.Mutex
	lastQueued        int64
	saves, sentBefore int
}

func (s *syncWatch) Save(hs *pb.HardState, entries []*pb.Entry, snap *pb.Snapshot) error {
	queued, taken := s.net.queued.Load(), s.net.taken.Load()
	s.mu.Lock()
	if len(entries) > 0 && queued > s.lastQueued {
		s.saves++
		if taken == queued {
			s.sentBefore++
		}
	}
	s.lastQueued = queued
	s.mu.Unlock()
	return s.MemStore.Save(hs, entries, snap)
}

// A leader's appends are put on the wire before its own sync, not after:
// the sync holds the processor (durable.DatasyncAppend), and on a
// 2-processor VM the links' writers then waited 0.1-0.2 ms for the other
// one, so a follower's sync began only after the leader's had ended and
// one client alone waited for the two in turn. With one processor the
// writer runs before the sync only if the raft loop lets it. The go
// scheduler takes its global queue first one time in 61, so this asks
// for most saves, not all.
func TestALeadersAppendsLeaveBeforeItsSync(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	net := memnet.New(1)
	peers := []consensus.NodeID{1, 2, 3}
	var stores []*syncWatch
	var nodes []*Node
	for _, id := range peers {
		ep, err := net.Join(id)
		require.NoError(t, err)
		tr := newWriterTransport(ep)
		t.Cleanup(func() { close(tr.queue) }) // after the node's Stop below
		store := &syncWatch{MemStore: NewMemStore(), net: tr}
		node, err := StartNode(Config{ID: id, Peers: peers, Logger: quietLogger()}, store, tr)
		require.NoError(t, err)
		go func() {
			for range node.Applies() {
			}
		}()
		t.Cleanup(func() { _ = node.Stop() })
		stores, nodes = append(stores, store), append(nodes, node)
	}
	var leader int
	eventually(t, "a leader", func() bool {
		for i, n := range nodes {
			if n.Status().IsLeader {
				leader = i
				return true
			}
		}
		return false
	})
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	watch := stores[leader]
	watch.mu.Lock()
	watch.saves, watch.sentBefore = 0, 0
	watch.mu.Unlock()
	for i := range 50 {
		require.NoError(t, nodes[leader].Propose(ctx, []byte(fmt.Sprintf("entry %d", i))))
	}
	watch.mu.Lock()
	defer watch.mu.Unlock()
	t.Logf("%d of %d saves found their appends taken", watch.sentBefore, watch.saves)
	require.GreaterOrEqual(t, watch.saves, 40, "the leader saved its proposals")
	assert.GreaterOrEqual(t, watch.sentBefore*10, watch.saves*8,
		"%d of the leader's %d saves found its appends already taken by the writer", watch.sentBefore, watch.saves)
}
