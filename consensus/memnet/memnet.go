// Package memnet is an in-memory consensus.Transport network for unit tests
// and the deterministic whole-cluster simulator, with fault injection:
// random drops, delays, duplicates and partitions.
//
// The network has its own virtual clock. A message sent with no delay
// configured lands in the receiver's Inbound channel during Send; a delayed
// one waits in a queue until Advance moves the clock past its delivery
// time. Random choices come from one seeded generator, so a run that calls
// Send and Advance in the same order makes the same choices: the simulator
// drives everything from one goroutine and gets a reproducible run. Tests
// that use real goroutines can call Run to advance the clock with wall time.
//
// Faults model what the real transport does: a partition is a cut
// connection (Send reports consensus.ErrUnreachable, and messages already in
// flight across the cut are lost), while drops and duplicates are silent.
// Messages between two nodes keep their order even under random delays,
// as the Transport contract promises.
//
// Snapshots (SendSnapshot) travel as the real transport sends them: apart
// from the messages, one per link at a time, without the message size
// limit (SetMaxMessageSize), taking as long as their size at the snapshot
// rate (SetSnapshotRate) while messages keep flowing, and reporting their
// outcome on SnapshotsSent.
package memnet

import (
	"bytes"
	"container/heap"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/synodvm/synod/consensus"
)

// ErrMessageTooLarge is Send's answer to a message over the limit set with
// SetMaxMessageSize.
var ErrMessageTooLarge = errors.New("memnet: message larger than the network's limit")

// errSnapshotLost is the outcome of a snapshot the network dropped, or
// that arrived at a node that was gone, cut off or not keeping up.
var errSnapshotLost = errors.New("memnet: snapshot lost")

// DefaultInboundBuffer is the capacity of each endpoint's Inbound channel.
// A message that finds it full is dropped, like a real transport whose
// receiver stopped reading.
const DefaultInboundBuffer = 4096

// Network connects the endpoints that join it. All methods are safe for
// concurrent use.
type Network struct {
	mu        sync.Mutex
	rng       *rand.Rand
	now       time.Duration
	seq       uint64 // breaks ties between messages due at the same time
	queue     pendingQueue
	endpoints map[consensus.NodeID]*Endpoint
	// lastDue keeps per-link FIFO order under random delays.
	lastDue map[link]time.Duration
	// group assigns each partitioned node a group; nodes in different
	// groups cannot talk. Nodes absent from the map are in group 0.
	group   map[consensus.NodeID]int
	faults  Faults
	stats   Stats
	bufSize int
	// maxMessage bounds what Send accepts (0: no limit).
	maxMessage int
	// snapshotRate is how many snapshot bytes cross a link per second of
	// virtual time (0: a snapshot travels like a message).
	snapshotRate int
}

// Faults is the fault model applied to every message.
type Faults struct {
	// Drop is the probability in [0,1] that a message is silently lost.
	Drop float64
	// Duplicate is the probability in [0,1] that a message is delivered
	// twice.
	Duplicate float64
	// MinDelay and MaxDelay bound the delivery delay, drawn uniformly.
	// Zero for both delivers during Send.
	MinDelay, MaxDelay time.Duration
}

// Stats counts what the network did to messages, for tests to assert that
// a fault was actually exercised. Snapshots count in Snapshots and
// SnapshotsLost only.
type Stats struct {
	Sent, Delivered, Dropped, Duplicated, Cut, Overflowed uint64
	Snapshots, SnapshotsLost                              uint64
}

type link struct{ from, to consensus.NodeID }

// New makes a network whose random choices come from seed.
func New(seed uint64) *Network {
	return &Network{
		rng:       rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		endpoints: map[consensus.NodeID]*Endpoint{},
		lastDue:   map[link]time.Duration{},
		group:     map[consensus.NodeID]int{},
		bufSize:   DefaultInboundBuffer,
	}
}

// Join attaches node id and returns its transport. Joining an id again
// after its endpoint was closed gives a fresh endpoint (a restarted node).
func (n *Network) Join(id consensus.NodeID) (*Endpoint, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if id == 0 {
		return nil, fmt.Errorf("memnet: join: node id 0 is reserved")
	}
	if e, ok := n.endpoints[id]; ok && !e.closed {
		return nil, fmt.Errorf("memnet: join: node %d is already on the network", id)
	}
	e := &Endpoint{
		net: n, id: id,
		inbound:   make(chan consensus.Inbound, n.bufSize),
		sent:      make(chan consensus.SnapshotSent, n.bufSize),
		snapshots: map[consensus.NodeID]bool{},
	}
	n.endpoints[id] = e
	return e, nil
}

// SetFaults replaces the fault model for messages sent from now on.
func (n *Network) SetFaults(f Faults) error {
	if f.Drop < 0 || f.Drop > 1 || f.Duplicate < 0 || f.Duplicate > 1 {
		return fmt.Errorf("memnet: probabilities must be in [0,1]: drop %v, duplicate %v", f.Drop, f.Duplicate)
	}
	if f.MinDelay < 0 || f.MaxDelay < f.MinDelay {
		return fmt.Errorf("memnet: delay range [%v,%v] is invalid", f.MinDelay, f.MaxDelay)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.faults = f
	return nil
}

// SetMaxMessageSize makes Send refuse messages larger than size bytes
// (0: no limit), as the real transport's MaxMessageSize does. Snapshots
// are not limited.
func (n *Network) SetMaxMessageSize(size int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.maxMessage = size
}

// SetSnapshotRate makes a snapshot take its size divided by bytesPerSecond
// of virtual time to arrive, on top of the fault model's delay (0: no
// transfer time). Messages keep flowing meanwhile.
func (n *Network) SetSnapshotRate(bytesPerSecond int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.snapshotRate = bytesPerSecond
}

// Partition splits the network: each argument is a set of nodes that can
// still talk among themselves; nodes named in no set form one more group.
// It replaces any earlier partition.
func (n *Network) Partition(groups ...[]consensus.NodeID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.group = map[consensus.NodeID]int{}
	for i, g := range groups {
		for _, id := range g {
			n.group[id] = i + 1
		}
	}
}

// Heal removes every partition.
func (n *Network) Heal() { n.Partition() }

// Stats returns the counters so far.
func (n *Network) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stats
}

// Now is the network's virtual time.
func (n *Network) Now() time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.now
}

// Advance moves the virtual clock forward by d and delivers every message
// due by then, in due order.
func (n *Network) Advance(d time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.now += d
	for len(n.queue) > 0 && n.queue[0].due <= n.now {
		p := heap.Pop(&n.queue).(pending)
		if p.snapshotFrom != nil {
			n.arriveSnapshotLocked(p.snapshotFrom, p.to, p.data)
			continue
		}
		n.deliverLocked(p.from, p.to, p.data)
	}
}

// Run advances the virtual clock with wall time, every interval, until
// stop is closed: for tests whose nodes run on goroutines.
func (n *Network) Run(interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			n.Advance(interval)
		}
	}
}

func (n *Network) cut(a, b consensus.NodeID) bool { return n.group[a] != n.group[b] }

func (n *Network) send(from, to consensus.NodeID, msg []byte) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.maxMessage > 0 && len(msg) > n.maxMessage {
		return fmt.Errorf("memnet: send %d bytes %d→%d: %w", len(msg), from, to, ErrMessageTooLarge)
	}
	n.stats.Sent++
	dst, ok := n.endpoints[to]
	if !ok || dst.closed || n.cut(from, to) {
		n.stats.Cut++
		return fmt.Errorf("memnet: send %d→%d: %w", from, to, consensus.ErrUnreachable)
	}
	f := n.faults
	if f.Drop > 0 && n.rng.Float64() < f.Drop {
		n.stats.Dropped++
		return nil
	}
	copies := 1
	if f.Duplicate > 0 && n.rng.Float64() < f.Duplicate {
		n.stats.Duplicated++
		copies = 2
	}
	for c := range copies {
		if c > 0 {
			msg = bytes.Clone(msg) // each receiver owns its copy
		}
		if f.MaxDelay == 0 {
			n.deliverLocked(from, to, msg)
			continue
		}
		delay := n.delayLocked()
		l := link{from, to}
		due := max(n.now+delay, n.lastDue[l])
		n.lastDue[l] = due
		n.seq++
		heap.Push(&n.queue, pending{due: due, seq: n.seq, from: from, to: to, data: msg})
	}
	return nil
}

// delayLocked draws a delay from the fault model.
func (n *Network) delayLocked() time.Duration {
	f := n.faults
	delay := f.MinDelay
	if f.MaxDelay > f.MinDelay {
		delay += time.Duration(n.rng.Int64N(int64(f.MaxDelay - f.MinDelay + 1)))
	}
	return delay
}

func (n *Network) sendSnapshot(src *Endpoint, to consensus.NodeID, head, body []byte) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	dst, ok := n.endpoints[to]
	switch {
	case src.closed:
		return fmt.Errorf("memnet: snapshot %d→%d: endpoint closed", src.id, to)
	case !ok || dst.closed || n.cut(src.id, to):
		n.stats.Cut++
		return fmt.Errorf("memnet: snapshot %d→%d: %w", src.id, to, consensus.ErrUnreachable)
	case src.snapshots[to]:
		return fmt.Errorf("memnet: snapshot %d→%d: %w", src.id, to, consensus.ErrSnapshotInFlight)
	}
	src.snapshots[to] = true
	msg := make([]byte, 0, len(head)+len(body))
	msg = append(append(msg, head...), body...)
	delay := n.delayLocked()
	if n.snapshotRate > 0 {
		delay += time.Duration(float64(len(msg)) / float64(n.snapshotRate) * float64(time.Second))
	}
	if delay == 0 {
		n.arriveSnapshotLocked(src, to, msg)
		return nil
	}
	n.seq++
	heap.Push(&n.queue, pending{due: n.now + delay, seq: n.seq, from: src.id, to: to, data: msg, snapshotFrom: src})
	return nil
}

// arriveSnapshotLocked ends a snapshot's journey: it is delivered or lost,
// and its sender learns which.
func (n *Network) arriveSnapshotLocked(src *Endpoint, to consensus.NodeID, msg []byte) {
	var err error
	dst, ok := n.endpoints[to]
	switch {
	case !ok || dst.closed || n.cut(src.id, to):
		err = fmt.Errorf("memnet: snapshot %d→%d: %w", src.id, to, consensus.ErrUnreachable)
	case n.faults.Drop > 0 && n.rng.Float64() < n.faults.Drop:
		err = fmt.Errorf("memnet: snapshot %d→%d: %w", src.id, to, errSnapshotLost)
	default:
		select {
		case dst.inbound <- consensus.Inbound{From: src.id, Data: msg}:
			n.stats.Snapshots++
		default:
			err = fmt.Errorf("memnet: snapshot %d→%d: receiver not keeping up: %w", src.id, to, errSnapshotLost)
		}
	}
	if err != nil {
		n.stats.SnapshotsLost++
	}
	delete(src.snapshots, to)
	if src.closed {
		return
	}
	select {
	case src.sent <- consensus.SnapshotSent{To: to, Err: err}:
	default:
		n.stats.Overflowed++ // nobody reads the outcomes
	}
}

// deliverLocked hands one message to its receiver unless the receiver is
// gone, cut off since the message was sent, or not keeping up.
func (n *Network) deliverLocked(from, to consensus.NodeID, msg []byte) {
	dst, ok := n.endpoints[to]
	if !ok || dst.closed || n.cut(from, to) {
		n.stats.Cut++
		return
	}
	select {
	case dst.inbound <- consensus.Inbound{From: from, Data: msg}:
		n.stats.Delivered++
	default:
		n.stats.Overflowed++
	}
}

// Endpoint is one node's consensus.Transport on a Network.
type Endpoint struct {
	net     *Network
	id      consensus.NodeID
	inbound chan consensus.Inbound
	sent    chan consensus.SnapshotSent
	// guarded by net.mu:
	closed    bool
	snapshots map[consensus.NodeID]bool // peers a snapshot is on its way to
}

var _ consensus.Transport = (*Endpoint)(nil)

// Send queues msg for node to. It never blocks.
func (e *Endpoint) Send(to consensus.NodeID, msg []byte) error {
	return e.net.send(e.id, to, msg)
}

// SendSnapshot sends head followed by body to node to as one message, on
// the snapshot channel (see the package comment). It never blocks.
func (e *Endpoint) SendSnapshot(to consensus.NodeID, head, body []byte) error {
	return e.net.sendSnapshot(e, to, head, body)
}

// SnapshotsSent delivers the outcome of each SendSnapshot. It is never
// closed.
func (e *Endpoint) SnapshotsSent() <-chan consensus.SnapshotSent { return e.sent }

// Inbound delivers the messages sent to this node.
func (e *Endpoint) Inbound() <-chan consensus.Inbound { return e.inbound }

// Close detaches the endpoint: messages to it are lost from now on, and
// Inbound is closed. Calling it again does nothing.
func (e *Endpoint) Close() error {
	e.net.mu.Lock()
	defer e.net.mu.Unlock()
	if !e.closed {
		e.closed = true
		close(e.inbound)
	}
	return nil
}

type pending struct {
	due      time.Duration
	seq      uint64
	from, to consensus.NodeID
	data     []byte
	// snapshotFrom is the sending endpoint of a snapshot, nil for a
	// message.
	snapshotFrom *Endpoint
}

// pendingQueue is a min-heap by (due, seq).
type pendingQueue []pending

func (q pendingQueue) Len() int { return len(q) }
func (q pendingQueue) Less(i, j int) bool {
	if q[i].due != q[j].due {
		return q[i].due < q[j].due
	}
	return q[i].seq < q[j].seq
}
func (q pendingQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *pendingQueue) Push(x any)   { *q = append(*q, x.(pending)) }
func (q *pendingQueue) Pop() any {
	old := *q
	p := old[len(old)-1]
	*q = old[:len(old)-1]
	return p
}
