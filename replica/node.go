package replica

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/machine/linux"
)

// BootParams is what a node proposes as the Boot entry when it finds the
// log empty and leads. Every node of a cluster is given the same.
type BootParams struct {
	Argv, Envp          []string
	EpochInstructions   uint64
	NanosPerInstruction uint64
	HashEvery           uint64
	Members             []consensus.NodeID
	MemoryLimit         uint64
}

// NodeConfig wires one node's replica to its log and devices.
type NodeConfig struct {
	Replica Config
	Boot    BootParams
	Log     consensus.Log
	Devices Devices
	// OnCommit sees every committed entry, in log order, before the
	// replica delivers it: the network port acknowledges its proposals
	// from it. May be nil.
	OnCommit func(entry.Entry)
	// DownAfter is how long the leader must miss a member (consensus
	// Status.Reachable) before it declares it down. It trades false
	// alarms (a node declared down has its clients' connections closed)
	// against how long a dead node's outputs wait to move elsewhere.
	DownAfter time.Duration
	Sealer    Sealer
	// Tick bounds how long the loop sleeps while waiting for the log, so
	// that time-driven decisions (seals for sleepers, failure detection)
	// happen promptly.
	Tick time.Duration
	// Now is the wall clock; tests inject a fake one.
	Now    func() time.Time
	Logger *slog.Logger
}

// consoleAckInterval is the least time between two acknowledgements of
// console output: a chatty guest costs the log at most ten entries a
// second, and a failover repeats at most this much of its output.
const consoleAckInterval = 100 * time.Millisecond

// NodeStatus is what `synod status` shows for a node.
type NodeStatus struct {
	ID        consensus.NodeID
	Log       consensus.Status
	Replica   Status
	Actioned  uint64
	Elsewhere uint64
	Quiet     bool
}

// Node drives one replica from its log in a single goroutine (Run) and
// performs the outputs addressed to it.
type Node struct {
	cfg    NodeConfig
	log    *slog.Logger
	rep    *Replica
	router *Router

	proposals chan []byte
	snapshots chan chan snapshotReply
	// done is closed when Run returns: nobody serves snapshots any more.
	done   chan struct{}
	status atomic.Pointer[NodeStatus]

	// consoleAcked is the console output this node last acknowledged,
	// and when.
	consoleAcked   uint64
	consoleAckedAt time.Time

	bootProposedAt time.Time
	missingSince   map[consensus.NodeID]time.Time
	downProposedAt map[consensus.NodeID]time.Time
	upProposedAt   time.Time
	catchUpTo      uint64 // commit index to reach before leaving quiet mode
	serving        bool   // what the network port was last told
}

type snapshotReply struct {
	frozen *Frozen
	err    error
}

// NewNode prepares a node; Run starts it.
func NewNode(cfg NodeConfig) *Node {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 5 * time.Millisecond
	}
	if cfg.DownAfter <= 0 {
		cfg.DownAfter = 3 * time.Second
	}
	cfg.Replica.Logger = cfg.Logger
	n := &Node{
		cfg:            cfg,
		log:            cfg.Logger,
		rep:            New(cfg.Replica),
		proposals:      make(chan []byte, 4096),
		snapshots:      make(chan chan snapshotReply),
		done:           make(chan struct{}),
		missingSince:   map[consensus.NodeID]time.Time{},
		downProposedAt: map[consensus.NodeID]time.Time{},
	}
	n.router = &Router{Self: cfg.Replica.Self, Devices: cfg.Devices, Logger: cfg.Logger}
	n.router.Devices.Refill = n.refill
	n.router.Quiet.Store(true)
	n.status.Store(&NodeStatus{ID: cfg.Replica.Self, Quiet: true})
	return n
}

// Snapshot is the consensus.SnapshotSource of this node. The loop
// freezes the replica between two steps, which takes milliseconds
// however large the guest; the snapshot is encoded here, on the caller's
// goroutine, while the guest runs on. (Serialising a 140 MB machine on
// the loop used to stall the service for seconds.)
func (n *Node) Snapshot() (consensus.Snapshot, error) {
	reply := make(chan snapshotReply, 1)
	select {
	case n.snapshots <- reply:
	case <-n.done:
		return consensus.Snapshot{}, errors.New("snapshot: the replica has stopped")
	case <-time.After(30 * time.Second):
		return consensus.Snapshot{}, errors.New("snapshot: the replica loop did not answer")
	}
	r := <-reply
	if r.err != nil {
		return consensus.Snapshot{}, r.err
	}
	return consensus.Snapshot{Index: r.frozen.Index, Data: r.frozen.Encode()}, nil
}

// Status is the node's latest published status. Safe from any goroutine.
func (n *Node) Status() NodeStatus { return *n.status.Load() }

// Run drives the node until ctx ends. It returns the guest's exit status if
// the guest exited, and an error if the replica stopped itself.
func (n *Node) Run(ctx context.Context) (*linux.ExitStatus, error) {
	ctx, cancel := context.WithCancel(ctx)
	proposerDone := make(chan struct{})
	go n.proposer(ctx, proposerDone)
	defer func() {
		cancel()
		<-proposerDone
		close(n.done)
	}()
	n.catchUpTo = n.cfg.Log.Status().Commit

	tick := time.NewTicker(n.cfg.Tick)
	defer tick.Stop()
	for {
		if err := n.absorb(); err != nil {
			return nil, err
		}
		n.leaveQuietWhenCaughtUp()
		progress := n.rep.Step()
		n.router.Route(n.rep.Outputs())
		for _, e := range n.rep.Proposals() {
			n.propose(e)
		}
		n.housekeeping()
		n.updateServing()
		n.publish()

		switch progress {
		case Stopped:
			return nil, n.rep.Status().Stopped
		case Ran:
			select {
			case <-ctx.Done():
				return n.rep.Status().Exited, nil
			case reply := <-n.snapshots:
				n.serveSnapshot(reply)
			default:
			}
			continue
		}
		// Waiting for the log, or the guest has exited: the node goes on
		// serving consensus and its devices until told to stop.
		select {
		case <-ctx.Done():
			return n.rep.Status().Exited, nil
		case apply, ok := <-n.cfg.Log.Applies():
			if !ok {
				return n.rep.Status().Exited, consensus.ErrStopped
			}
			if err := n.apply(apply); err != nil {
				return nil, err
			}
		case reply := <-n.snapshots:
			n.serveSnapshot(reply)
		case <-tick.C:
		}
	}
}

// absorb takes every committed batch already waiting, without blocking.
func (n *Node) absorb() error {
	for {
		select {
		case apply, ok := <-n.cfg.Log.Applies():
			if !ok {
				return consensus.ErrStopped
			}
			if err := n.apply(apply); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

func (n *Node) apply(a consensus.Apply) error {
	if a.Snapshot != nil {
		if err := n.rep.Restore(a.Snapshot.Data); err != nil {
			return fmt.Errorf("%w: index %d: %w", ErrBadSnapshot, a.Snapshot.Index, err)
		}
		n.log.Info("installed snapshot", "index", a.Snapshot.Index, "epoch", n.rep.Status().Epoch)
		for _, p := range n.rep.ListenPorts() {
			if err := n.cfg.Devices.Net.Listen(p); err != nil {
				n.log.Warn("cannot serve a guest port after restore yet; retrying", "port", p, "err", err)
			}
		}
	}
	for _, c := range a.Entries {
		e, err := entry.Decode(c.Data)
		if err != nil {
			n.log.Warn("ignoring undecodable log entry", "index", c.Index, "err", err)
			e = nil
		}
		if n.cfg.OnCommit != nil && e != nil {
			n.cfg.OnCommit(e)
		}
		n.rep.CommitEntry(c.Index, e)
	}
	return nil
}

func (n *Node) serveSnapshot(reply chan snapshotReply) {
	n.router.Route(n.rep.Outputs())
	frozen, err := n.rep.Freeze()
	reply <- snapshotReply{frozen: frozen, err: err}
}

// propose queues an entry for the proposer goroutine; the loop never
// blocks on consensus back-pressure.
func (n *Node) propose(e entry.Entry) {
	select {
	case n.proposals <- entry.Encode(e):
	default:
		n.log.Warn("proposal queue full; dropping", "kind", e.Kind())
	}
}

func (n *Node) proposer(ctx context.Context, done chan struct{}) {
	defer close(done)
	for {
		select {
		case <-ctx.Done():
			return
		case data := <-n.proposals:
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := n.cfg.Log.Propose(pctx, data)
			cancel()
			if err != nil && ctx.Err() == nil {
				n.log.Debug("proposal failed", "err", err)
			}
		}
	}
}

// refill performs an outputs.Refill addressed to this node.
func (n *Node) refill(size int) {
	b := make([]byte, size)
	if _, err := rand.Read(b); err != nil {
		n.log.Error("no random bytes for the guest's pool", "err", err)
		return
	}
	n.propose(entry.Random{Node: n.cfg.Replica.Self, Data: b})
}

func (n *Node) now() int64 { return n.cfg.Now().UnixNano() }

// leaveQuietWhenCaughtUp starts performing outputs once the node has
// applied everything that was committed when it started: before that it
// replays history whose outputs it may already have performed.
func (n *Node) leaveQuietWhenCaughtUp() {
	if !n.router.Quiet.Load() {
		return
	}
	if applied := n.cfg.Log.Status().Applied; applied >= n.catchUpTo {
		n.router.Quiet.Store(false)
		n.log.Info("caught up; performing outputs", "applied", applied)
	}
}

// updateServing lets the network port take clients only while the
// replicated machine will serve them soon: this node has caught up and is
// not declared down. A client accepted otherwise would wait behind the
// catch-up, or be refused by every replica once its connection reached
// the log.
func (n *Node) updateServing() {
	serving := !n.router.Quiet.Load() && !n.rep.Down(n.cfg.Replica.Self)
	if serving != n.serving {
		n.serving = serving
		n.cfg.Devices.Net.SetServing(serving)
	}
}

// housekeeping makes the time-driven decisions: seals, the boot entry,
// failure detection and rejoining.
func (n *Node) housekeeping() {
	ls := n.cfg.Log.Status()
	now := n.cfg.Now()
	if !n.rep.Status().Booted {
		if ls.IsLeader && now.Sub(n.bootProposedAt) > 2*time.Second {
			n.bootProposedAt = now
			n.proposeBoot()
		}
		return
	}
	if seal, ok := n.cfg.Sealer.Next(n.rep.SealInfo(), ls.IsLeader, now.UnixNano()); ok {
		n.propose(seal)
	}
	if ls.IsLeader {
		n.detectFailures(now, ls.Reachable)
	}
	if done := n.router.ConsoleThrough(); done > n.consoleAcked && now.Sub(n.consoleAckedAt) >= consoleAckInterval {
		n.consoleAcked, n.consoleAckedAt = done, now
		n.propose(entry.ConsoleDone{Node: n.cfg.Replica.Self, Seq: done})
	}
	self := n.cfg.Replica.Self
	if n.rep.Down(self) && !n.router.Quiet.Load() && now.Sub(n.upProposedAt) > n.cfg.DownAfter {
		n.upProposedAt = now
		n.propose(entry.NodeUp{Node: self})
	}
}

func (n *Node) proposeBoot() {
	b := n.cfg.Boot
	boot := entry.Boot{
		GuestDigest:         GuestDigest(n.cfg.Replica.Guest),
		Argv:                b.Argv,
		Envp:                b.Envp,
		Time:                n.now(),
		EpochInstructions:   b.EpochInstructions,
		NanosPerInstruction: b.NanosPerInstruction,
		HashEvery:           b.HashEvery,
		Members:             b.Members,
		MemoryLimit:         b.MemoryLimit,
	}
	if _, err := rand.Read(boot.AuxRandom[:]); err != nil {
		n.log.Error("no random bytes for the boot entry", "err", err)
		return
	}
	n.log.Info("proposing the boot entry", "argv", b.Argv, "members", b.Members)
	n.propose(boot)
}

// detectFailures declares down a member the leader has not reached for
// DownAfter. Declaring is idempotent in the replicated state, so a repeat
// after a lost proposal does no harm.
func (n *Node) detectFailures(now time.Time, reachable []consensus.NodeID) {
	connected := map[consensus.NodeID]bool{n.cfg.Replica.Self: true}
	for _, p := range reachable {
		connected[p] = true
	}
	for _, m := range n.rep.Members() {
		if connected[m] || n.rep.Down(m) {
			delete(n.missingSince, m)
			continue
		}
		since, seen := n.missingSince[m]
		if !seen {
			n.missingSince[m] = now
			continue
		}
		if now.Sub(since) > n.cfg.DownAfter && now.Sub(n.downProposedAt[m]) > n.cfg.DownAfter {
			n.downProposedAt[m] = now
			n.log.Warn("declaring a node down", "node", m, "missing_for", now.Sub(since))
			n.propose(entry.NodeDown{Node: m})
		}
	}
}

func (n *Node) publish() {
	actioned, elsewhere := n.router.Counts()
	n.status.Store(&NodeStatus{
		ID:        n.cfg.Replica.Self,
		Log:       n.cfg.Log.Status(),
		Replica:   n.rep.Status(),
		Actioned:  actioned,
		Elsewhere: elsewhere,
		Quiet:     n.router.Quiet.Load(),
	})
}
