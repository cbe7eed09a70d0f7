package replica

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/machine/linux"
	"github.com/synodvm/synod/outputs"
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
	Disks               []entry.DiskPath
	ConsoleInput        bool
	MaxProcesses        uint64
	// RandomContributors is how many members contribute to each random
	// batch: f+1 in a Byzantine cluster (see entry.Boot), otherwise 0.
	RandomContributors uint64
}

// NodeConfig wires one node's replica to its log and devices.
type NodeConfig struct {
	Replica Config
	Boot    BootParams
	Log     consensus.Log
	// MaxProposal is the most bytes Log takes in one proposal, 0 for no
	// bound beyond the entry codec's (a Byzantine engine signs and bounds
	// each request).
	MaxProposal int
	Devices     outputs.Devices
	// Certify, in a Byzantine cluster, makes the node perform an output
	// only once f+1 replicas signed it (outputs.Router.Certify); nil
	// otherwise.
	Certify *outputs.Certifier
	// OnCommit sees every committed entry, in log order, before the
	// replica delivers it: the network port acknowledges its proposals
	// from it. May be nil.
	OnCommit func(entry.Entry)
	// DownAfter and DiskDownAfter: see RuntimeConfig.
	DownAfter     time.Duration
	DiskDownAfter time.Duration
	Sealer        Sealer
	// Tick bounds how long the loop sleeps while waiting for the log, so
	// that time-driven decisions (seals for sleepers, failure detection)
	// happen promptly.
	Tick time.Duration
	// IdleTick is how long the loop sleeps instead once nothing has moved
	// for quietAfter (no entry taken, the guest not running, nothing
	// waiting for a seal) and no sleeping guest thread is due sooner.
	// What is left for the clock then runs on seconds (failure detection,
	// retries), so an idle node need not wake every Tick: longer saves an
	// idle node's CPU, and costs what nothing but the clock wakes the loop
	// for, such as a leader elected in a quiet cluster taking up its
	// duties, up to this much. Default 50 ms.
	IdleTick time.Duration
	// SnapshotsAtRest serves snapshots (Node.Snapshot) only while the
	// replica waits for the log, never between two epochs it runs: the
	// state is then a function of the entries given to it alone, the
	// same on every correct replica, which a Byzantine engine's
	// checkpoint compares. That engine holds back the entries after a
	// checkpoint until it has the snapshot, so the replica comes to rest.
	// The raft engine needs no such agreement: its snapshots are taken
	// between any two steps, so that a busy guest does not delay them.
	SnapshotsAtRest bool
	// EveryMemberBoots has every member, not only the leader, propose the
	// boot entry (the first one ordered counts). A Byzantine engine
	// replaces a primary only for a request some backup has seen waiting:
	// a primary that never proposed the boot entry, or proposed one the
	// others refuse, would otherwise keep the cluster from ever booting.
	// With raft, followers would only forward their copies to the leader.
	EveryMemberBoots bool
	// Now is the wall clock; tests inject a fake one.
	Now    func() time.Time
	Logger *slog.Logger
}

// NodeStatus is what `synod status` shows for a node.
type NodeStatus struct {
	ID        consensus.NodeID
	Log       consensus.Status
	Replica   Status
	Actioned  uint64
	Elsewhere uint64
	// Performed counts the outputs performed here by kind (outputs.Kinds).
	Performed [outputs.NumKinds]uint64
	// Addressed counts the outputs routed, performed here or not, by the
	// node each is addressed to and kind. Read-only: later statuses share
	// it.
	Addressed map[consensus.NodeID][outputs.NumKinds]uint64
	Quiet     bool
	// ForgedInputs counts entries dropped because their proposer spoke in
	// another member's name (Byzantine clusters).
	ForgedInputs uint64
	// Certificates are the output certifier's counts in a Byzantine
	// cluster; nil elsewhere.
	Certificates *outputs.CertifierCounts
	// ConsoleInNext and ConsoleInEOF are how far the guest's stdin has
	// taken the console's input.
	ConsoleInNext uint64
	ConsoleInEOF  bool
	// SealWaits counts the epoch ends where the guest had instructions to
	// run and waited for the seal that lets it on: the leader's seals
	// came too late for a busy guest (Sealer).
	SealWaits uint64
	// Installs counts the snapshots this node installed that cost it
	// clients, and HungUp the clients they cost: it had fallen so far
	// behind that it took the others' state instead of executing what it
	// missed, and the replies of that history were never sent from here.
	// A node whose count keeps growing executes more slowly than the
	// cluster decides.
	Installs, HungUp uint64
	// BootedAt and ExitedAt are when this process first saw the guest
	// booted and exited (NodeConfig.Now; zero until then): how long it
	// ran, read once, without asking for the status while it runs.
	BootedAt, ExitedAt time.Time
}

// Node drives one replica from its log in a single goroutine (Run) and
// performs the outputs addressed to it.
type Node struct {
	cfg    NodeConfig
	log    *slog.Logger
	rep    *Replica
	router *outputs.Router
	rt     *Runtime
	// forgedInputs counts the entries, or inputs of a batch, dropped
	// because their proposer spoke in another member's name.
	forgedInputs atomic.Uint64

	proposals chan []byte
	snapshots chan chan snapshotReply
	// done is closed when Run returns: nobody serves snapshots any more.
	done   chan struct{}
	status atomic.Pointer[NodeStatus]
	// sealWaits is NodeStatus.SealWaits, kept by the loop, and waitedAt
	// the epoch of the last wait it counted: the loop may wake several
	// times (ticks, other entries) before the seal commits.
	sealWaits, waitedAt uint64
	// installs and hungUp are NodeStatus.Installs and HungUp.
	installs, hungUp uint64
	// bootedAt and exitedAt are NodeStatus.BootedAt and ExitedAt.
	bootedAt, exitedAt time.Time
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
	if cfg.IdleTick < cfg.Tick {
		cfg.IdleTick = max(50*time.Millisecond, cfg.Tick)
	}
	if cfg.DownAfter <= 0 {
		cfg.DownAfter = 3 * time.Second
	}
	cfg.Replica.Logger = cfg.Logger
	n := &Node{
		cfg:       cfg,
		log:       cfg.Logger,
		rep:       New(cfg.Replica),
		proposals: make(chan []byte, 4096),
		snapshots: make(chan chan snapshotReply),
		done:      make(chan struct{}),
	}
	n.router = &outputs.Router{Self: cfg.Replica.Self, Devices: cfg.Devices, Logger: cfg.Logger, Certify: cfg.Certify}
	n.rt = NewRuntime(RuntimeConfig{
		Self:             cfg.Replica.Self,
		Guest:            cfg.Replica.Guest,
		Root:             cfg.Replica.Root,
		Boot:             cfg.Boot,
		EveryMemberBoots: cfg.EveryMemberBoots,
		DownAfter:        cfg.DownAfter,
		DiskDownAfter:    cfg.DiskDownAfter,
		Sealer:           cfg.Sealer,
		Entropy:          rand.Reader,
		Propose:          n.propose,
		MaxProposal:      cfg.MaxProposal,
		Logger:           cfg.Logger,
	}, n.rep, n.router)
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
	var r snapshotReply
	select {
	case r = <-reply:
	case <-n.done:
		return consensus.Snapshot{}, errors.New("snapshot: the replica has stopped")
	}
	if r.err != nil {
		return consensus.Snapshot{}, r.err
	}
	return consensus.Snapshot{Index: r.frozen.Index, Data: r.frozen.Encode()}, nil
}

// publishEvery is how often a node whose guest computes publishes its
// status: after every epoch (170 µs of a CPU-bound guest), building it
// was half the node's own work between epochs. A node that waits for the
// log publishes before it waits, so a status is stale only while the
// guest runs on, and by this much at most.
const publishEvery = time.Millisecond

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
	n.rt.Start(n.cfg.Log.Status().Commit, n.cfg.Now())

	wake := time.NewTimer(n.cfg.Tick)
	defer wake.Stop()
	moved := n.cfg.Now() // when the node last took an entry or ran the guest
	snapshotsWhileRunning := n.snapshots
	if n.cfg.SnapshotsAtRest {
		snapshotsWhileRunning = nil
	}
	// heldSnapshot is a snapshot asked for at rest while entries waited
	// to be absorbed: it is served at the next rest, after them, which is
	// the state the engine asks for.
	var heldSnapshot chan snapshotReply
	// executed is set when the replica's last step ran nothing and
	// nothing was given to it since: it has executed all it was given.
	executed := false
	var published time.Time
	for {
		took, err := n.absorb()
		if err != nil {
			return nil, err
		}
		ls := n.cfg.Log.Status()
		n.rt.CatchUp(ls.Applied, executed && !took)
		progress := n.rep.StepEpochs(n.rt.StepEpochs(ls))
		if progress == WaitingForLog {
			// What the guest waits for, most often the leader's next
			// seal, may have committed while it ran: a busy guest's
			// leader proposes it a few epochs before the guest needs it.
			// Taken now, the guest runs on without a turn through the
			// waiting below (status, flush, select).
			took, err := n.absorb()
			if err != nil {
				return nil, err
			}
			if took {
				progress = Ran
			}
		}
		executed = progress != Ran
		n.router.Route(n.rep.Outputs())
		for _, e := range n.rep.Proposals() {
			n.propose(e)
		}
		now := n.cfg.Now()
		if took || progress == Ran {
			moved = now
		}
		n.rt.Decide(now, n.cfg.Log.Status())
		if progress != Ran || now.Sub(published) >= publishEvery {
			n.publish()
			published = now
		}

		switch progress {
		case Stopped:
			return nil, n.rep.Status().Stopped
		case Ran:
			select {
			case <-ctx.Done():
				return n.rep.Status().Exited, nil
			case reply := <-snapshotsWhileRunning:
				n.serveSnapshot(reply)
			default:
			}
			continue
		}
		// Waiting for the log, or the guest has exited: the node goes on
		// serving consensus and its devices until told to stop.
		if progress == WaitingForLog {
			if si := n.rep.SealInfo(); si.Busy && si.Epoch != n.waitedAt {
				n.sealWaits, n.waitedAt = n.sealWaits+1, si.Epoch
			}
		}
		if heldSnapshot != nil {
			n.serveSnapshot(heldSnapshot)
			heldSnapshot = nil
		}
		n.router.Flush()
		wake.Reset(n.cfg.sleep(now, moved, n.rep.SealInfo(), n.rep.Booted()))
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
			executed = false
			moved = n.cfg.Now()
		case reply := <-n.snapshots:
			took, err := n.absorb()
			executed = executed && !took
			switch {
			case err != nil:
				return nil, err
			case took && n.cfg.SnapshotsAtRest:
				heldSnapshot = reply
			default:
				n.serveSnapshot(reply)
			}
		case <-wake.C:
		}
	}
}

// quietAfter is how long a node must have taken no entry and run no
// guest code before its loop sleeps IdleTick rather than Tick: a client
// or a computing guest keeps it moving far more often than this.
const quietAfter = 100 * time.Millisecond

// sleep is how long the waiting loop may sleep for nothing but the
// clock: Tick while the node moves (it took an entry or ran the guest
// within quietAfter of now), has an entry waiting for a seal, or waits
// for the guest's boot; IdleTick once it has been quiet; never much past
// a sleeping guest thread's deadline, whose seal the leader proposes
// when it is due.
func (cfg NodeConfig) sleep(now, moved time.Time, si SealInfo, booted bool) time.Duration {
	d := cfg.IdleTick
	if now.Sub(moved) < quietAfter || si.Unsealed || !booted {
		d = cfg.Tick
	}
	if si.Deadline != 0 {
		d = min(d, max(time.Duration(si.Deadline-now.UnixNano()), cfg.Tick))
	}
	return d
}

// absorb takes every committed batch already waiting, without blocking,
// and reports whether there was any.
func (n *Node) absorb() (took bool, err error) {
	for {
		select {
		case apply, ok := <-n.cfg.Log.Applies():
			if !ok {
				return took, consensus.ErrStopped
			}
			if err := n.apply(apply); err != nil {
				return took, err
			}
			took = true
		default:
			return took, nil
		}
	}
}

func (n *Node) apply(a consensus.Apply) error {
	if a.Snapshot != nil {
		var keep any
		if a.Snapshot.Keep != nil {
			keep = a.Snapshot.Keep() // the guest reads its pages in place
		}
		if err := n.rep.RestoreKeeping(a.Snapshot.Data, keep); err != nil {
			return fmt.Errorf("%w: index %d: %w", ErrBadSnapshot, a.Snapshot.Index, err)
		}
		n.log.Info("installed snapshot", "index", a.Snapshot.Index, "epoch", n.rep.Status().Epoch)
		n.rt.Restored()
		for _, p := range n.rep.ListenPorts() {
			if err := n.cfg.Devices.Net.Listen(p); err != nil {
				n.log.Warn("cannot serve a guest port after restore yet; retrying", "port", p, "err", err)
			}
		}
		if hungUp := n.cfg.Devices.Net.HangUpAll(); hungUp > 0 {
			n.installs++
			n.hungUp += uint64(hungUp)
			n.log.Warn("hung up on this node's clients: it had fallen too far behind the cluster to execute what it missed, and took the others' state instead",
				"clients", hungUp, "index", a.Snapshot.Index, "times", n.installs)
		}
	}
	// What is dropped is logged once per Apply, not per entry: a faulty
	// member of a Byzantine cluster can have hundreds of entries a batch
	// ordered that mean nothing.
	var undecodable, forgedFrom []uint64
	var lastErr error
	given := make([]Given, 0, len(a.Entries))
	for _, c := range a.Entries {
		e, err := entry.Decode(c.Data)
		if err != nil {
			undecodable, lastErr = append(undecodable, c.Index), err
			e = nil
		}
		if e != nil {
			var forged int
			if e, forged = FromProposer(e, c.Proposer); forged > 0 {
				n.forgedInputs.Add(uint64(forged))
				forgedFrom = append(forgedFrom, uint64(c.Proposer))
			}
		}
		if n.cfg.OnCommit != nil && e != nil {
			n.cfg.OnCommit(e)
		}
		given = append(given, Given{Index: c.Index, Batch: c.Batch, E: e})
	}
	n.rep.CommitEntries(given)
	if len(undecodable) > 0 {
		n.log.Warn("ignoring undecodable log entries", "first_index", undecodable[0], "entries", len(undecodable), "err", lastErr)
	}
	if len(forgedFrom) > 0 {
		n.log.Warn("dropped what members said in another's name", "proposers", slices.Compact(slices.Sorted(slices.Values(forgedFrom))), "entries", len(forgedFrom))
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
	// A seal goes straight to an engine that takes it without blocking:
	// a busy guest's leader proposes one every few milliseconds, and the
	// hop through the proposer goroutine woke one more thread for each.
	// Only seals: their order does not matter (the highest counts), and
	// nobody needs the answer, since the sealer proposes again after
	// Retry.
	data := entry.Encode(e)
	if o, ok := n.cfg.Log.(consensus.Offerer); ok {
		if _, seal := e.(entry.Seal); seal && o.Offer(data) {
			return
		}
	}
	select {
	case n.proposals <- data:
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

func (n *Node) publish() {
	actioned, elsewhere := n.router.Counts()
	consoleNext, consoleEOF := n.rep.ConsoleInputNext()
	var certificates *outputs.CertifierCounts
	if n.router.Certify != nil {
		counts := n.router.Certify.Counts()
		certificates = &counts
	}
	rs := n.rep.Status()
	if rs.Booted && n.bootedAt.IsZero() {
		n.bootedAt = n.cfg.Now()
	}
	if rs.Exited != nil && n.exitedAt.IsZero() {
		n.exitedAt = n.cfg.Now()
	}
	n.status.Store(&NodeStatus{
		Certificates:  certificates,
		ForgedInputs:  n.forgedInputs.Load(),
		ConsoleInNext: consoleNext,
		ConsoleInEOF:  consoleEOF,
		ID:            n.cfg.Replica.Self,
		Log:           n.cfg.Log.Status(),
		Replica:       rs,
		Actioned:      actioned,
		Elsewhere:     elsewhere,
		Performed:     n.router.PerformedByKind(),
		Addressed:     n.router.Addressed(),
		Quiet:         n.router.Quiet.Load(),
		SealWaits:     n.sealWaits,
		Installs:      n.installs,
		HungUp:        n.hungUp,
		BootedAt:      n.bootedAt,
		ExitedAt:      n.exitedAt,
	})
}
