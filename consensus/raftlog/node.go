package raftlog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/synodvm/synod/consensus"
)

// Node is the production form of the engine: a Core driven by one
// goroutine with a wall-clock ticker, fed by the transport's Inbound
// channel and by Propose from any goroutine. It implements consensus.Log.
type Node struct {
	core    *Core
	net     consensus.Transport
	applies chan consensus.Apply

	proposals chan *proposal
	commands  chan func(*Core) error
	// snapshotJobs brings back the snapshot job running off the loop;
	// jobRunning is closed when it ends (nil while none runs).
	snapshotJobs chan *snapshotJob
	jobRunning   chan struct{}
	// receiveJobs brings back the leader's snapshot being written off the
	// loop; receiveRunning is closed when that ends (nil while none runs).
	receiveJobs    chan *receiveJob
	receiveRunning chan struct{}
	// reads reads the stored snapshot ahead for raft (readahead.go).
	reads *readAhead
	// sent counts the Applies sent to the user; handed holds the releases
	// of mapped snapshot data sent (mappeddata.go).
	sent     uint64
	handed   []handedData
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once

	status atomic.Pointer[consensus.Status]
	// err is the error that ended the loop, set before done closes.
	err error
}

var _ consensus.Log = (*Node)(nil)

// proposal is one Propose call waiting for the event loop. mu makes
// "the loop proposed it" and "the caller gave up" mutually exclusive, so a
// caller whose context ends never returns an error for a proposal that
// was in fact made.
type proposal struct {
	data      []byte
	mu        sync.Mutex
	cancelled bool
	reply     chan error // buffered; sent to under mu
}

// cancel gives up on p unless the loop has already answered; it returns
// the answer when there is one.
func (p *proposal) cancel(why error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case err := <-p.reply:
		return err
	default:
		p.cancelled = true
		return why
	}
}

// appliesBuffer is the capacity of the Applies channel in batches. When
// the user falls this far behind, the loop waits for it (still ticking
// and stepping messages) instead of accepting more committed entries.
const appliesBuffer = 64

// jobStopWait bounds how long Stop waits for a snapshot job that is still
// running (asking the user, or writing the data file), for the writing of
// a leader's snapshot, and for a read of the stored snapshot, before it
// closes the store under them; an unfinished file is removed when the
// store opens.
const jobStopWait = 30 * time.Second

// maxEventsPerBatch bounds how many proposals and messages the loop takes
// before handling a Ready: enough that a burst of proposals becomes one
// durable write and one append message, few enough that ticks stay timely.
const maxEventsPerBatch = 512

// StartNode starts the engine on store and net and runs it until Stop.
// The node owns both afterwards: Stop closes them.
func StartNode(cfg Config, store Store, net consensus.Transport) (*Node, error) {
	store, reads := newReadAhead(store)
	core, err := NewCore(cfg, store, net)
	if err != nil {
		return nil, err
	}
	reads.enable()
	// Taking a snapshot can take seconds (the user serialises its state,
	// the store writes and syncs it); the loop must go on heartbeating.
	core.asyncSnapshots = true
	n := &Node{
		core:         core,
		net:          net,
		applies:      make(chan consensus.Apply, appliesBuffer),
		proposals:    make(chan *proposal, maxEventsPerBatch),
		commands:     make(chan func(*Core) error),
		snapshotJobs: make(chan *snapshotJob, 1),
		receiveJobs:  make(chan *receiveJob, 1),
		reads:        reads,
		stop:         make(chan struct{}),
		done:         make(chan struct{}),
	}
	n.publishStatus()
	go n.run(core.cfg.TickInterval)
	return n, nil
}

// Propose implements consensus.Log.
func (n *Node) Propose(ctx context.Context, data []byte) error {
	p := &proposal{data: data, reply: make(chan error, 1)}
	select {
	case n.proposals <- p:
	case <-ctx.Done():
		return ctx.Err()
	case <-n.done:
		return n.stoppedErr()
	}
	select {
	case err := <-p.reply:
		return err
	case <-ctx.Done():
		return p.cancel(ctx.Err())
	case <-n.done:
		return p.cancel(n.stoppedErr())
	}
}

// Offer implements consensus.Offerer: the proposal goes to the loop with
// nobody waiting for its answer.
func (n *Node) Offer(data []byte) bool {
	select {
	case <-n.done:
		return false
	default:
	}
	select {
	case n.proposals <- &proposal{data: data, reply: make(chan error, 1)}:
		return true
	default:
		return false
	}
}

// Applies implements consensus.Log. When the store holds a snapshot, the
// first Apply is that snapshot, or a leader's newer one that replaces the
// stored state before it is delivered (replayhold.go): the user's state
// comes from the log alone.
func (n *Node) Applies() <-chan consensus.Apply { return n.applies }

// Status implements consensus.Log.
func (n *Node) Status() consensus.Status { return *n.status.Load() }

// AddNode proposes adding node id as a voter (see Core.AddNode).
func (n *Node) AddNode(ctx context.Context, id consensus.NodeID) error {
	return n.do(ctx, func(c *Core) error { return c.AddNode(id) })
}

// RemoveNode proposes removing node id (see Core.RemoveNode).
func (n *Node) RemoveNode(ctx context.Context, id consensus.NodeID) error {
	return n.do(ctx, func(c *Core) error { return c.RemoveNode(id) })
}

// TransferLeadership asks this node, if leader, to hand over to node to.
func (n *Node) TransferLeadership(ctx context.Context, to consensus.NodeID) error {
	return n.do(ctx, func(c *Core) error { return c.TransferLeadership(to) })
}

// SnapshotNow returns a snapshot of the user's state with the metadata
// another node needs to install it (see Core.SnapshotNow). The user is
// asked on the caller's goroutine, so the event loop keeps running; only
// the metadata is added on the loop.
func (n *Node) SnapshotNow(ctx context.Context) (*pb.Snapshot, error) {
	source := n.core.cfg.SnapshotSource
	if source == nil {
		return nil, errors.New("raftlog: no snapshot source configured")
	}
	user, err := source()
	if err != nil {
		return nil, fmt.Errorf("raftlog: snapshot source: %w", err)
	}
	var snap *pb.Snapshot
	err = n.do(ctx, func(c *Core) error {
		return c.guard("snapshot", func() error {
			var err error
			snap, err = c.withMetadata(user)
			return err
		})
	})
	return snap, err
}

// Campaign starts an election on this node now.
func (n *Node) Campaign(ctx context.Context) error {
	return n.do(ctx, func(c *Core) error { return c.Campaign() })
}

// do runs f on the event loop and returns its error.
func (n *Node) do(ctx context.Context, f func(*Core) error) error {
	reply := make(chan error, 1)
	select {
	case n.commands <- func(c *Core) error { err := f(c); reply <- err; return err }:
	case <-ctx.Done():
		return ctx.Err()
	case <-n.done:
		return n.stoppedErr()
	}
	return <-reply
}

// Stop implements consensus.Log: it ends the loop, closes Applies, the
// transport and the store, and returns the error that had stopped the
// node, if any.
func (n *Node) Stop() error {
	n.stopOnce.Do(func() { close(n.stop) })
	<-n.done
	if errors.Is(n.err, consensus.ErrStopped) {
		return nil
	}
	return n.err
}

// Done is closed when the node stops, by Stop or by a fatal error.
func (n *Node) Done() <-chan struct{} { return n.done }

// Err is the fatal error that stopped the node, or nil.
func (n *Node) Err() error {
	select {
	case <-n.done:
		if errors.Is(n.err, consensus.ErrStopped) {
			return nil
		}
		return n.err
	default:
		return nil
	}
}

func (n *Node) stoppedErr() error {
	if err := n.Err(); err != nil {
		return fmt.Errorf("%w: %w", consensus.ErrStopped, err)
	}
	return consensus.ErrStopped
}

func (n *Node) publishStatus() {
	st := n.core.Status()
	n.status.Store(&st)
}

// run is the event loop: it is the only goroutine that touches the Core.
func (n *Node) run(tick time.Duration) {
	ticker := time.NewTicker(tick)
	var waiting []*proposal    // blocked by back-pressure, oldest first
	var pending []pendingApply // committed, not yet taken by the user
	defer func() {
		ticker.Stop()
		for _, p := range waiting {
			p.answer(n.stopReason())
		}
		n.waitForJob(n.jobRunning, "a snapshot is still being taken")
		receiveEnded := n.waitForJob(n.receiveRunning, "a leader's snapshot is still being written")
		n.releaseOnStop(pending, receiveEnded)
		if !n.reads.wait(jobStopWait) {
			n.core.log.Warn("raftlog: stopping while the stored snapshot is still being read", "waited", jobStopWait)
		}
		close(n.applies)
		if n.core.Err() == nil {
			n.err = errors.Join(n.err, n.core.saveHardState())
		}
		netErr := n.net.Close()
		n.reads.releaseAll() // the transport is done with what it sent
		n.err = errors.Join(n.err, netErr, n.core.store.Close())
		close(n.done)
	}()
	// handOutNow gives the user what it can take at once of the entries
	// HandleReady delivers before its write, so that it applies them
	// meanwhile; the rest waits in pending as usual.
	handOutNow := func(applies []consensus.Apply) {
		pending = n.queue(pending, applies)
		for len(pending) > 0 {
			select {
			case n.applies <- pending[0].apply:
				pending = n.handedOut(pending)
			default:
				return
			}
		}
	}
	inbound := n.net.Inbound()
	var gone <-chan consensus.NodeID // nil, which never delivers, unless the transport tells
	if w, ok := n.net.(consensus.PeerWatcher); ok {
		gone = w.PeersGone()
	}
	for {
		// Stop taking committed entries while the user is far behind.
		var out chan consensus.Apply
		var head consensus.Apply
		if len(pending) > 0 {
			out, head = n.applies, pending[0].apply
		}
		select {
		case <-n.stop:
			n.err = consensus.ErrStopped
			return
		case <-ticker.C:
			_ = n.core.Tick() // a fatal error is checked below
		case in, ok := <-inbound:
			if !ok {
				n.err = errors.New("raftlog: transport closed its inbound channel")
				return
			}
			n.step(in)
		case id := <-gone:
			_ = n.core.PeerGone(id) // a fatal error is checked below
		case p := <-n.proposals:
			waiting = n.propose(p, waiting)
		case f := <-n.commands:
			_ = f(n.core)
		case j := <-n.snapshotJobs:
			n.jobRunning = nil
			n.core.finishSnapshot(j)
		case j := <-n.receiveJobs:
			n.receiveRunning = nil
			_ = n.core.finishReceive(j) // a fatal error is checked below
		case r := <-n.net.SnapshotsSent():
			_ = n.core.SnapshotSent(r) // a fatal error is checked below
		case out <- head:
			pending = n.handedOut(pending)
		}
		// Batch what else has arrived into the same Ready.
	batch:
		for range maxEventsPerBatch {
			select {
			case in, ok := <-inbound:
				if !ok {
					break batch
				}
				n.step(in)
			case p := <-n.proposals:
				waiting = n.propose(p, waiting)
			default:
				break batch
			}
		}
		if len(pending) < appliesBuffer && n.core.HasReady() {
			applies, _ := n.core.HandleReadyHandingOut(handOutNow) // a fatal error is checked below
			pending = n.queue(pending, applies)
		}
		n.releaseTaken()
		n.startSnapshotJob()
		n.startReceiveJob()
		// Deliveries and expiries free slots; offer the waiters again.
		waiting = n.retry(waiting)
		if err := n.core.Err(); err != nil {
			n.err = err
			return
		}
		n.publishStatus()
	}
}

// startSnapshotJob runs the snapshot the Core wants taken, if any, on a
// goroutine of its own; the loop takes it back from snapshotJobs.
func (n *Node) startSnapshotJob() {
	if j := n.core.takeSnapshotJob(); j != nil {
		n.jobRunning = runOffLoop(j, j.run, n.snapshotJobs)
	}
}

// startReceiveJob writes the file of the leader's snapshot the Core
// received, if any, on a goroutine of its own; the loop takes it back
// from receiveJobs.
func (n *Node) startReceiveJob() {
	if j := n.core.takeReceiveJob(); j != nil {
		n.receiveRunning = runOffLoop(j, j.run, n.receiveJobs)
	}
}

// runOffLoop runs job on a goroutine of its own and then hands it back on
// done, which has room for it; the channel it returns is closed when the
// goroutine ends.
func runOffLoop[J any](job J, run func(), done chan<- J) chan struct{} {
	running := make(chan struct{})
	go func() {
		defer close(running)
		run()
		done <- job
	}()
	return running
}

// waitForJob lets a job running off the loop end before the store
// closes, for at most jobStopWait; running is nil when none runs. It
// reports whether no job is running any more.
func (n *Node) waitForJob(running chan struct{}, what string) bool {
	if running == nil {
		return true
	}
	select {
	case <-running:
		return true
	case <-time.After(jobStopWait):
		n.core.log.Warn("raftlog: stopping while "+what, "waited", jobStopWait)
		return false
	}
}

// stopReason is what waiting proposers learn when the loop ends.
func (n *Node) stopReason() error {
	if errors.Is(n.err, consensus.ErrStopped) || n.err == nil {
		return consensus.ErrStopped
	}
	return fmt.Errorf("%w: %w", consensus.ErrStopped, n.err)
}

func (n *Node) step(in consensus.Inbound) {
	if err := n.core.Step(in); err != nil {
		n.core.log.Debug("raftlog: message refused", "from", in.From, "err", err)
	}
}

// propose offers p to the Core, or queues it behind earlier waiters.
func (n *Node) propose(p *proposal, waiting []*proposal) []*proposal {
	if len(waiting) > 0 {
		return append(waiting, p)
	}
	if n.offer(p) {
		return waiting
	}
	return append(waiting, p)
}

// retry offers the waiting proposals again, in order, until one is still
// refused by back-pressure.
func (n *Node) retry(waiting []*proposal) []*proposal {
	for len(waiting) > 0 && n.offer(waiting[0]) {
		waiting = waiting[1:]
	}
	return waiting
}

// offer proposes p unless its caller gave up; it reports false when p
// must keep waiting for back-pressure to ease.
func (n *Node) offer(p *proposal) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cancelled {
		return true
	}
	err := n.core.Propose(p.data)
	if errors.Is(err, ErrBusy) {
		return false
	}
	p.reply <- err
	return true
}

// answer replies to p unless its caller gave up.
func (p *proposal) answer(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.cancelled {
		p.reply <- err
	}
}
