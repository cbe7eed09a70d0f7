package sim

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/bft"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/consensus/memnet"
	"github.com/synodvm/synod/consensus/raftlog"
	"github.com/synodvm/synod/outputs"
	"github.com/synodvm/synod/replica"
)

// node is one cluster member: what survives a crash (its disk, its
// clock) and, while it is up, its process.
type node struct {
	id   consensus.NodeID
	sim  *Sim
	disk *disk
	// skew is how far this node's wall clock is from the run's; phase
	// is when in each raft tick period this node ticks.
	skew, phase time.Duration
	p           *process // nil while down
	restartAt   time.Duration
	// records are what a Byzantine engine persisted, and twinRecords its
	// twin's: each Ready's records one atomic write that survives the
	// process (the simulated disk models the raft store only).
	records, twinRecords [][]byte
}

// process is a running node: the raft core, the replica and its
// runtime, the way replica.Node and cmd/synod wire them, driven from the
// simulation's goroutine. What replica.Node does on goroutines (the
// proposer, the loop's timers) is done here step by step.
type process struct {
	core   engine
	ep     *memnet.Endpoint
	rep    *replica.Replica
	router *outputs.Router
	rt     *replica.Runtime
	port   *netport
	// disks is the disk device of a journal seed; nil otherwise.
	disks *diskDevice
	// queue holds the replica runtime's proposals the log has not taken
	// yet (raft back-pressure), oldest first, as replica.Node's channel.
	queue [][]byte
	// routing is the output being routed, for the output checks.
	routing outputs.Output
	// executed is set when the replica's last run ran nothing and
	// nothing was given to it since, as replica.Node tracks it.
	executed bool
	// failed says why the process stops at the end of this step.
	failed string
}

// The runtime's timings, as replica.Node's.
const (
	maxQueuedProposals = 4096
	// epochsPerStep bounds the epochs a replica runs in one step: the
	// guest's speed in virtual time (200 000 instructions take about
	// half a millisecond at synod's speed).
	epochsPerStep = 4
)

func (n *node) up() bool { return n.p != nil }

// clock is the node's wall clock in Unix nanoseconds: ten years ahead on
// a member faulty with future-clock.
func (n *node) clock() int64 {
	t := n.sim.wallStart + int64(n.sim.now+n.skew)
	if n.sim.faulty(n) && n.sim.byz.behaviour == FutureClock {
		t += int64(futureClockAhead)
	}
	return t
}

// start boots the node's process from the store on its disk.
func (n *node) start() error {
	s := n.sim
	ep, err := s.net.Join(n.id)
	if err != nil {
		return fmt.Errorf("node %d: %w", n.id, err)
	}
	guest, argv, paths := s.opts.Guest, []string{"kvd"}, []entry.DiskPath(nil)
	if s.journal != nil {
		guest = s.opts.Journal
		argv, paths = s.journal.boot(s.ids())
	}
	p := &process{
		ep:  ep,
		rep: replica.New(replica.Config{Self: n.id, Guest: guest, ExePath: "/" + argv[0], Logger: quiet}),
	}
	p.port = newNetport(n, s.now)
	p.router = &outputs.Router{Self: n.id, Logger: quiet, Devices: outputs.Devices{
		Net:    p.port,
		Stdout: consoleWriter{n, 1},
		Stderr: consoleWriter{n, 2},
	}, Observe: func(o outputs.Output, cert outputs.Certificate) { s.checks.performs(n, o, cert) }}
	if s.journal != nil {
		p.disks = newDiskDevice(n)
		p.router.Devices.Disks = p.disks
	}
	p.rt = replica.NewRuntime(replica.RuntimeConfig{
		Self:  n.id,
		Guest: guest,
		Boot: replica.BootParams{
			Argv:                argv,
			Envp:                []string{"PATH=/bin:/usr/bin", "HOME=/"},
			Disks:               paths,
			EpochInstructions:   s.plan.epochInstructions,
			NanosPerInstruction: 10,
			HashEvery:           s.plan.hashEvery,
			Members:             s.ids(),
		},
		DownAfter:     s.plan.downAfter,
		DiskDownAfter: s.diskDownAfter(),
		Sealer:        replica.Sealer{Window: s.plan.sealWindow, MaxWindow: s.plan.maxSealWindow, UnreachedWindow: replica.DefaultUnreachedWindow, Retry: int64(time.Second)},
		Entropy:       rngReader{s.rng},
		Propose:       n.propose,
		// A Byzantine primary may never propose the boot entry.
		EveryMemberBoots: s.byz != nil,
		Logger:           slog.New(traceHandler{n}),
	}, p.rep, p.router)
	if s.byz != nil {
		p.core, err = n.startBFT(p)
	} else {
		p.core, err = n.startRaft(p)
	}
	if err != nil {
		ep.Close()
		return err
	}
	commit := p.core.Status().Commit
	p.rt.Start(commit, time.Unix(0, n.clock()))
	n.p = p
	s.trace.note(s.now, n.id, "starts (commit %d on disk)", commit)
	return nil
}

// startRaft starts n's raft core on the store on its disk.
func (n *node) startRaft(p *process) (engine, error) {
	s := n.sim
	store, err := n.disk.open()
	if err != nil {
		return nil, fmt.Errorf("node %d: %w", n.id, err)
	}
	cfg := raftlog.Config{
		ID:              n.id,
		Peers:           s.ids(),
		ElectionTicks:   10,
		HeartbeatTicks:  1,
		SnapshotEntries: s.plan.snapshotEvery,
		SnapshotSource:  n.snapshot,
		Merge:           entry.MergeInputs,
		Logger:          quiet,
		Clock:           func() time.Time { return time.Unix(0, n.clock()) },
	}
	var core *raftlog.Core
	s.raft(func() { core, err = raftlog.NewCore(cfg, store, processTransport{p.ep, p}) })
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("node %d: %w", n.id, err)
	}
	return core, nil
}

var quiet = slog.New(slog.DiscardHandler)

// crash ends the process at once: the disk keeps what was synced, the
// clients' sockets reset. While the node is down, its disk may damage
// what it holds.
func (n *node) crash(why string) {
	n.sim.byzCounts.Mismatched += n.mismatched()
	p := n.p
	n.p = nil
	p.ep.Close()
	p.port.crash()
	if p.disks != nil {
		p.disks.crash()
	}
	n.disk.close()
	n.sim.trace.note(n.sim.now, n.id, "crashes: %s", why)
	n.sim.damageWhileDown(n)
}

// step runs the process for one step of virtual time, in the order of
// replica.Node's loop: take what the log delivered, run the machine,
// perform its outputs, propose, decide what time decides. A process
// whose raft core or replica failed crashes at the end of the step.
func (n *node) step() {
	s, p := n.sim, n.p
	n.receive()
	if (s.now+n.phase)%s.plan.tick == 0 {
		n.raftCall("tick", p.core.Tick)
	}
	if n.ready() {
		p.executed = false
	}
	if p.failed == "" {
		p.rt.CatchUp(p.core.Status().Applied, p.executed)
		p.executed = n.run() != replica.Ran
		if e, ok := p.core.(*bftEngine); ok {
			e.takeSnapshotAtRest(p.executed)
		}
		p.rt.Decide(time.Unix(0, n.clock()), p.core.Status())
		p.router.Flush() // the outputs of the step's epochs share signatures
		p.port.step()
		n.flushProposals()
	}
	if p.failed != "" {
		n.crash(p.failed)
	}
}

// run runs the machine for up to epochsPerStep epochs, as many a call as
// the node's loop would (and the guest's speed allows), and says how its
// last step went. An epoch jumped over idle counts as one.
func (n *node) run() replica.Progress {
	s, p := n.sim, n.p
	progress := replica.Ran
	for left := uint64(epochsPerStep); left > 0; {
		from := p.rep.SealInfo().Epoch
		progress = p.rep.StepEpochs(min(left, p.rt.StepEpochs(p.core.Status())))
		left -= min(left, max(1, p.rep.SealInfo().Epoch-from))
		n.route()
		for _, e := range p.rep.Proposals() {
			n.propose(e)
		}
		s.checks.afterStep(n, progress)
		s.checkDownConnections(n)
		if progress == replica.Stopped {
			s.violate(invReplicaRuns, "node %d: %v", n.id, p.rep.Status().Stopped)
			p.failed = "its replica stopped"
		}
		if progress != replica.Ran {
			return progress
		}
	}
	return progress
}

// raftCall runs a raft call with the run's raft randomness. A failed
// core stops the process; calls after that are skipped. A core must stop
// on a write its disk failed, and must fail for no other reason.
func (n *node) raftCall(what string, f func() error) {
	p := n.p
	if p.failed != "" {
		return
	}
	var err error
	n.sim.raft(func() { err = f() })
	switch {
	case p.failed != "": // the process died inside a write
	case errors.Is(err, raftlog.ErrFailed) && errors.Is(err, errDiskFault):
		n.stopsOnFailedWrite(err)
	case errors.Is(err, raftlog.ErrFailed):
		n.sim.violate(invRaftRuns, "node %d: %s: %v", n.id, what, err)
		p.failed = "its raft core failed"
	default:
		n.disk.checkStoppedOnFailedWrite(what)
	}
}

// receive steps raft with every message and snapshot outcome that arrived.
// Messages come first, then snapshot outcomes: a select between two
// ready channels picks at random, and the run must not.
func (n *node) receive() {
	p := n.p
	for p.failed == "" {
		select {
		case in := <-p.ep.Inbound():
			n.sim.trace.message(n.sim.now, n.id, in.From, in.Data)
			n.raftCall("step", func() error {
				if err := p.core.Step(in); errors.Is(err, raftlog.ErrFailed) {
					return err
				}
				return nil // a refused message is raft's business
			})
			continue
		default:
		}
		select {
		case r := <-p.ep.SnapshotsSent():
			n.sim.trace.note(n.sim.now, n.id, "snapshot to n%d: %v", r.To, errText(r.Err))
			n.raftCall("snapshot sent", func() error { return p.core.SnapshotSent(r) })
		default:
			return
		}
	}
}

func errText(err error) string {
	if err == nil {
		return "delivered"
	}
	return err.Error()
}

// ready persists and sends what the core has ready, and applies what
// committed; it reports whether there was any.
func (n *node) ready() bool {
	p := n.p
	var applies []consensus.Apply
	n.raftCall("ready", func() (err error) {
		applies, err = p.core.HandleReady()
		return err
	})
	for _, a := range applies {
		if p.failed != "" {
			break
		}
		n.apply(a)
	}
	return len(applies) > 0
}

// apply hands the replica a snapshot or committed entries, as
// replica.Node.apply does.
func (n *node) apply(a consensus.Apply) {
	s, p := n.sim, n.p
	if a.Snapshot != nil {
		if err := p.rep.Restore(a.Snapshot.Data); err != nil {
			s.violate(invSnapshots, "node %d: snapshot at %d does not restore: %v", n.id, a.Snapshot.Index, err)
			p.failed = "its snapshot does not restore"
			return
		}
		s.trace.note(s.now, n.id, "installs snapshot at %d (epoch %d)", a.Snapshot.Index, p.rep.Status().Epoch)
		p.rt.Restored()
		for _, port := range p.rep.ListenPorts() {
			p.port.Listen(port)
		}
		p.port.HangUpAll()
	}
	given := make([]replica.Given, 0, len(a.Entries))
	for _, c := range a.Entries {
		e, err := entry.Decode(c.Data)
		if err != nil {
			s.violate(invEntries, "node %d: committed entry %d does not decode: %v", n.id, c.Index, err)
			e = nil
		}
		s.trace.note(s.now, n.id, "commits %d: %s", c.Index, describeEntry(e))
		s.checks.commit(n, c.Index, c.Data)
		if e != nil {
			var forged int
			if e, forged = replica.FromProposer(e, c.Proposer); forged > 0 {
				s.byzCounts.ForgedInputsDropped += uint64(forged)
				s.trace.note(s.now, n.id, "drops %d inputs n%d proposed in another's name", forged, c.Proposer)
			}
		}
		if e != nil {
			p.port.committed(e)
			n.forgeInputs(e)
		}
		given = append(given, replica.Given{Index: c.Index, Batch: c.Batch, E: e})
	}
	p.rep.CommitEntries(given)
}

// snapshot is the raft core's snapshot source: outputs are routed first,
// as replica.Node.serveSnapshot does, since a snapshot does not hold them.
func (n *node) snapshot() (consensus.Snapshot, error) {
	n.route()
	data, index, err := n.p.rep.Snapshot()
	return consensus.Snapshot{Index: index, Data: data}, err
}

// route performs or records the replica's outputs, one at a time so the
// output checks know which output a device acts on.
func (n *node) route() {
	p := n.p
	for _, o := range p.rep.Outputs() {
		n.sim.checks.computed(n, o)
		n.forgeDiskWrite(o)
		p.routing = o
		p.router.Route([]outputs.Output{o})
	}
	p.routing = outputs.Output{}
}

// propose queues an entry of the runtime for the log.
func (n *node) propose(e entry.Entry) {
	p := n.p
	if len(p.queue) >= maxQueuedProposals {
		n.sim.trace.note(n.sim.now, n.id, "proposal queue full; dropping %s", e.Kind())
		return
	}
	p.queue = append(p.queue, entry.Encode(e))
}

// flushProposals hands the queue to raft until it pushes back. A
// proposal raft refuses for want of a leader is dropped, as
// replica.Node's proposer drops it. While the network loses messages, a
// proposal is lost as often: raft forwards a follower's proposal to the
// leader in one message, and a leader change drops what the old leader
// had not committed.
func (n *node) flushProposals() {
	p, s := n.p, n.sim
	for len(p.queue) > 0 && p.failed == "" {
		if !s.faultsOver && s.plan.net.Drop > 0 && s.rng.Float64() < s.plan.net.Drop {
			e, _ := entry.Decode(p.queue[0])
			s.trace.note(s.now, n.id, "proposal lost: %s", describeEntry(e))
			p.queue = p.queue[1:]
			continue
		}
		var err error
		n.raftCall("propose", func() error {
			err = p.core.Propose(p.queue[0])
			return err
		})
		if errors.Is(err, raftlog.ErrBusy) || errors.Is(err, bft.ErrBusy) {
			return
		}
		p.queue = p.queue[1:]
	}
}

// proposeNow proposes at once, for the network port's batches.
func (n *node) proposeNow(e entry.Entry) {
	p := n.p
	n.raftCall("propose", func() error { return p.core.Propose(entry.Encode(e)) })
}

// consoleWriter is a node's stdout or stderr.
type consoleWriter struct {
	n      *node
	stream int
}

func (w consoleWriter) Write(b []byte) (int, error) {
	w.n.sim.trace.note(w.n.sim.now, w.n.id, "console %d: %q", w.stream, b)
	if j := w.n.sim.journal; j != nil {
		j.console(w.stream, b)
	}
	return len(b), nil
}

// describeEntry names a committed entry for the trace.
func describeEntry(e entry.Entry) string {
	switch e := e.(type) {
	case nil:
		return "undecodable"
	case entry.Inputs:
		return fmt.Sprintf("Inputs of %d", len(e.Entries))
	case entry.Seal:
		return fmt.Sprintf("Seal through %d", e.Through)
	case entry.StateHash:
		return fmt.Sprintf("StateHash of n%d at epoch %d", e.Node, e.Epoch)
	case entry.Random:
		return fmt.Sprintf("Random of n%d, %d bytes", e.Node, len(e.Data))
	case entry.NodeDown:
		return fmt.Sprintf("NodeDown n%d", e.Node)
	case entry.NodeUp:
		return fmt.Sprintf("NodeUp n%d", e.Node)
	case entry.ConsoleDone:
		return fmt.Sprintf("ConsoleDone n%d through #%d", e.Node, e.Seq)
	case entry.Completion:
		return fmt.Sprintf("Completion of #%d by n%d: errno %d, %d bytes", e.Seq, e.Node, e.Errno, e.N)
	}
	return e.Kind().String()
}
