package raftlog

import (
	"runtime"
	"sync"
	"time"
	"weak"

	"github.com/synodvm/synod/consensus"
)

// A leader's snapshot that the transport received into mapped memory
// reaches the user as the Data of an Apply, without a copy (a copy into
// fresh heap memory cost the follower seconds of CPU for 500 MiB). The
// mapping is released once the user can no longer be using it: the user
// takes Applies one at a time and is done with the snapshot's Data when
// it takes the next Apply (consensus.Log's contract), so the Node
// releases it as soon as the user has taken a later one. Until then one
// mapping stays, which costs memory the size of the snapshot, as the
// heap copy did. A user that keeps the data (consensus.Snapshot.Keep: a
// machine restored in place reads its pages there until it writes them)
// takes the release with it: the garbage collector releases the mapping
// once the user's keeper is unreachable.

// pendingApply is a committed batch waiting for the user, with when it
// was committed, for the apply latency metric, and the release of its
// snapshot's data if the transport mapped it.
type pendingApply struct {
	apply   consensus.Apply
	since   time.Time
	release func()
}

// handedData is the release of mapped snapshot data sent to the user as
// the Apply numbered sent.
type handedData struct {
	release func()
	sent    uint64
}

// queue appends applies, which a HandleReady returned, to pending, with
// the release of a mapped snapshot among them.
func (n *Node) queue(pending []pendingApply, applies []consensus.Apply) []pendingApply {
	now := n.core.cfg.Clock()
	first := len(pending)
	for _, a := range applies {
		pending = append(pending, pendingApply{apply: a, since: now})
	}
	f := n.core.takeDeliveredRelease()
	for i := len(pending) - 1; f != nil && i >= first; i-- {
		if snap := pending[i].apply.Snapshot; snap != nil {
			l := &lease{release: f}
			snap.Keep, pending[i].release, f = l.keep, l.end, nil
		}
	}
	release(f) // delivered by no Apply: nothing uses it
	return pending
}

// handedOut records that the first of pending was sent to the user, and
// returns the rest.
func (n *Node) handedOut(pending []pendingApply) []pendingApply {
	n.core.m.apply.Observe(n.core.cfg.Clock().Sub(pending[0].since).Seconds())
	n.handOut(pending[0])
	return pending[1:]
}

// handOut records that p was sent to the user.
func (n *Node) handOut(p pendingApply) {
	n.sent++
	if p.release != nil {
		n.handed = append(n.handed, handedData{p.release, n.sent})
	}
}

// releaseTaken releases the mapped snapshot data sent to the user in an
// Apply that the user has since taken a later one after.
func (n *Node) releaseTaken() {
	taken := n.sent - uint64(len(n.applies))
	for len(n.handed) > 0 && n.handed[0].sent < taken {
		n.handed[0].release()
		n.handed = n.handed[1:]
	}
}

// releaseOnStop releases the mapped snapshot data that will not reach
// the user, when the loop ends: in pending and in the Core, except that
// of a receive job still running (receiveEnded false), which may still
// be reading it. Data the user may still be using stays mapped.
func (n *Node) releaseOnStop(pending []pendingApply, receiveEnded bool) {
	for _, p := range pending {
		release(p.release)
	}
	if !receiveEnded {
		n.core.receiving = nil
	}
	n.core.releaseReceived()
	n.releaseTaken()
}

// lease is the release of mapped snapshot data handed to the user, which
// either the Node calls once the user has taken a later Apply (end), or,
// if the user kept the data (keep), the garbage collector once the
// keeper is unreachable. The user keeps it before it takes the next
// Apply, so before the Node could end the lease; the mutex makes the
// order of the two calls certain all the same.
type lease struct {
	mu      sync.Mutex
	release func() // nil once released or kept
	// keeper is the user's, weak: whoever holds the Apply (and through
	// its Keep the lease) does not keep the data.
	keeper weak.Pointer[snapshotKeeper]
}

// snapshotKeeper is what a user that keeps mapped data keeps reachable.
// It is not a tiny allocation, which the garbage collector frees only
// with its neighbours.
type snapshotKeeper struct{ _ [16]byte }

// keep is consensus.Snapshot.Keep.
func (l *lease) keep() any {
	l.mu.Lock()
	defer l.mu.Unlock()
	if k := l.keeper.Value(); k != nil {
		return k
	}
	if l.release == nil {
		return nil // released already: too late to keep
	}
	k := new(snapshotKeeper)
	runtime.AddCleanup(k, func(release func()) { release() }, l.release)
	l.keeper, l.release = weak.Make(k), nil
	return k
}

// end releases the data unless the user kept it.
func (l *lease) end() {
	l.mu.Lock()
	defer l.mu.Unlock()
	release(l.release)
	l.release = nil
}
