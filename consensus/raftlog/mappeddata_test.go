package raftlog

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/synodvm/synod/consensus"
)

// mappingTransport delivers each snapshot as a transport that mapped it
// would: with a Release, which here counts the call and overwrites the
// data, so that a use after it is seen.
type mappingTransport struct {
	consensus.Transport
	in     chan consensus.Inbound
	closed chan struct{}

	mu       sync.Mutex
	sent     int // snapshots delivered
	released int // Release calls
}

func newMappingTransport(tr consensus.Transport) *mappingTransport {
	m := &mappingTransport{Transport: tr, in: make(chan consensus.Inbound), closed: make(chan struct{})}
	go func() {
		defer close(m.in)
		for in := range tr.Inbound() {
			if msg, err := decodeMessage(in.Data); err == nil && msg.GetType() == pb.MsgSnap {
				data := slices.Clone(in.Data)
				in.Data, in.Release = data, func() {
					m.mu.Lock()
					defer m.mu.Unlock()
					m.released++
					for i := range data {
						data[i] = 0xff
					}
				}
				m.mu.Lock()
				m.sent++
				m.mu.Unlock()
			}
			select {
			case m.in <- in:
			case <-m.closed:
				return
			}
		}
	}()
	return m
}

func (m *mappingTransport) Close() error {
	close(m.closed)
	return m.Transport.Close()
}

func (m *mappingTransport) Inbound() <-chan consensus.Inbound { return m.in }

func (m *mappingTransport) counts() (sent, released int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sent, m.released
}

// A follower that receives a leader's snapshot in mapped memory hands it
// to the user without a copy, keeps it mapped while the user restores
// from it (here slowly), releases it once the user has taken a later
// Apply (here the entry proposed after the catch-up), and releases every
// snapshot the leader sent exactly once, those it dropped included.
func TestMappedSnapshotIsReleasedOnceTheUserIsDone(t *testing.T) {
	c := compactPastAFollower(t)
	ep, err := c.net.Join(c.cfg.ID)
	require.NoError(t, err)
	tr := newMappingTransport(ep)
	var releasedWhenTaken []int
	back := startBoltNodeOn(t, tr, c.dir, c.cfg, func() {}, func(a consensus.Apply) {
		if a.Snapshot != nil {
			_, released := tr.counts()
			releasedWhenTaken = append(releasedWhenTaken, released)
			time.Sleep(20 * c.cfg.TickInterval) // a user slow to restore
		}
	})
	eventually(t, "the restarted follower has every entry", func() bool { return slices.Equal(c.want, back.entries()) })
	back.mu.Lock()
	require.Equal(t, 1, back.hist.Snapshots, "it caught up through a snapshot, intact when restored from")
	back.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	require.NoError(t, c.leader.Propose(ctx, []byte("later")))
	eventually(t, "every snapshot delivered is released", func() bool {
		sent, released := tr.counts()
		return sent > 0 && released == sent
	})
	require.NoError(t, back.Stop())
	<-back.done
	sent, released := tr.counts()
	assert.Equal(t, sent, released, "released exactly once each")
	assert.Equal(t, []int{sent - 1}, releasedWhenTaken,
		"the snapshot the user took was released only after it (any other was dropped before)")
}

// A user that keeps a mapped snapshot (consensus.Snapshot.Keep), as a
// machine restored from it in place does, finds its data intact after it
// has taken later Applies; the mapping is released once the user's
// keeper is unreachable.
func TestKeptMappedSnapshotIsReleasedWhenUnreachable(t *testing.T) {
	c := compactPastAFollower(t)
	ep, err := c.net.Join(c.cfg.ID)
	require.NoError(t, err)
	tr := newMappingTransport(ep)
	var (
		mu         sync.Mutex
		keeper     any
		kept, copy []byte
	)
	back := startBoltNodeOn(t, tr, c.dir, c.cfg, func() {}, func(a consensus.Apply) {
		if a.Snapshot != nil {
			require.NotNil(t, a.Snapshot.Keep, "mapped data can be kept")
			mu.Lock()
			keeper, kept, copy = a.Snapshot.Keep(), a.Snapshot.Data, slices.Clone(a.Snapshot.Data)
			mu.Unlock()
		}
	})
	eventually(t, "the restarted follower has every entry", func() bool { return slices.Equal(c.want, back.entries()) })
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	require.NoError(t, c.leader.Propose(ctx, []byte("later")))
	eventually(t, "the entry after the snapshot is taken", func() bool {
		return slices.Equal(append(slices.Clone(c.want), "later"), back.entries())
	})
	sent, released := tr.counts()
	mu.Lock()
	require.NotNil(t, keeper)
	assert.Equal(t, sent-1, released, "all but the kept snapshot are released")
	assert.Equal(t, copy, kept, "the kept data is intact after later Applies")
	keeper = nil
	mu.Unlock()
	eventually(t, "the kept snapshot is released once its keeper is unreachable", func() bool {
		runtime.GC()
		_, released := tr.counts()
		return released == sent
	})
	require.NoError(t, back.Stop())
	<-back.done
}
