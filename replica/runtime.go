package replica

import (
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/outputs"
)

// The runtime's timings.
const (
	// bootRetry is how long a leader waits for its boot entry to commit
	// before it proposes it again.
	bootRetry = 2 * time.Second
	// consoleAckInterval is the least time between two acknowledgements
	// of console output: a chatty guest costs the log at most ten entries
	// a second, and a failover repeats at most this much of its output.
	consoleAckInterval = 100 * time.Millisecond
	// owedRetry is how long an entry the replicated state waits for from
	// this node (a random batch, a console acknowledgement) may stay
	// uncommitted before the node proposes it again: a leader change or
	// a lost message drops proposals silently.
	owedRetry = time.Second
)

// RuntimeConfig is what a Runtime decides with.
type RuntimeConfig struct {
	Self consensus.NodeID
	// Guest is the program, and Root the packed root file system, that
	// the boot entry names by their digests.
	Guest []byte
	Root  []byte
	Boot  BootParams
	// EveryMemberBoots is NodeConfig.EveryMemberBoots.
	EveryMemberBoots bool
	// DownAfter is how long the leader must miss a member (consensus
	// Status.Reachable) before it declares it down. It trades false
	// alarms (a node declared down has its clients' connections closed)
	// against how long a dead node's outputs wait to move elsewhere.
	DownAfter time.Duration
	// DiskDownAfter, when set, is how long a member lets another it
	// reaches owe the completion of a disk output before it declares
	// that one down all the same; 0: never. A Byzantine cluster sets it: a
	// faulty member on the guest's disk path can stay connected and never
	// perform or complete the I/O, and the guest would wait on it for
	// good. Declared down, the member's I/O completes as uncertain and
	// the guest goes on through another path. A correct member's device
	// answers well within it, or gives up on a request as uncertain and
	// sends it again, which does not restart the clock.
	DiskDownAfter time.Duration
	Sealer        Sealer
	// Entropy gives the random bytes of the boot entry and of the
	// guest's random batches: the system's generator on a real node, the
	// run's seeded generator in the simulator.
	Entropy io.Reader
	// Propose queues an entry for the log. It must not block: the
	// runtime proposes from the node's loop.
	Propose func(entry.Entry)
	// MaxProposal, when set, is the most bytes the log takes in one
	// proposal (NodeConfig.MaxProposal): a disk read's answer larger
	// than that is proposed in parts (entry.Completion.Parts).
	MaxProposal int
	Logger      *slog.Logger
}

// Runtime makes the decisions a node takes around its replica, from the
// clock, the log's status and what the replicated state waits for: the
// boot entry, seals, failure detection, console acknowledgements, random
// batches, whether to perform outputs yet and whether to take clients.
// replica.Node drives it in real time and the simulator in virtual time,
// so the simulator tests this code, not a copy of it.
//
// Entries the replicated state waits for from this node are proposed
// again while they stay owed (Replica.Owed): proposing once is not
// enough, since a leader change or a lost message drops a proposal
// without telling anyone.
type Runtime struct {
	cfg    RuntimeConfig
	rep    *Replica
	router *outputs.Router

	// catchUpTo is the commit index to apply before leaving quiet mode.
	catchUpTo uint64
	// serveFrom is the index to apply before taking clients: the
	// leader's commit index as this node first heard it after it
	// started (serveFromKnown). Until a leader has spoken, a node that
	// restarted cannot know how far behind the cluster it is.
	serveFrom      uint64
	serveFromKnown bool
	serving        bool // what the network port was last told

	bootProposedAt   time.Time
	upProposedAt     time.Time
	refillProposedAt time.Time
	// drawn is the batch this node committed to in a Byzantine cluster's
	// random draw, kept until it is asked to reveal it.
	drawn          drawnBatch
	consoleAcked   uint64
	consoleAckedAt time.Time
	missingSince   map[consensus.NodeID]time.Time
	downProposedAt map[consensus.NodeID]time.Time
	// owingDisk is, per member, the oldest disk output it owes the
	// completion of and since when this node has seen it oldest.
	owingDisk map[consensus.NodeID]owedDisk
	// diskPerformedAt is when each disk output this node owes was last
	// performed, as far as the runtime knows: the router performs it when
	// it comes out, so the first sighting counts as a performance.
	diskPerformedAt map[uint64]time.Time
	// now is the time of the last Decide, for refills the router asks
	// for between two.
	now time.Time
}

// NewRuntime wires a runtime to its replica and router; it performs the
// router's random refills. The router starts quiet: Start tells the
// runtime how much history to replay before it performs outputs.
func NewRuntime(cfg RuntimeConfig, rep *Replica, router *outputs.Router) *Runtime {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	rt := &Runtime{
		cfg:             cfg,
		rep:             rep,
		router:          router,
		missingSince:    map[consensus.NodeID]time.Time{},
		downProposedAt:  map[consensus.NodeID]time.Time{},
		owingDisk:       map[consensus.NodeID]owedDisk{},
		diskPerformedAt: map[uint64]time.Time{},
	}
	router.Devices.Refill = rt.refill
	router.Devices.Complete = rt.complete
	router.Quiet.Store(true)
	return rt
}

// complete proposes a device's answer to an output, in parts the log
// takes.
func (rt *Runtime) complete(c entry.Completion) {
	for _, part := range c.Parts(entry.DataThatFits(rt.cfg.MaxProposal)) {
		rt.cfg.Propose(part)
	}
}

// Start sets the commit index found on disk at start: the node replays
// history up to it quietly, since it may have performed its outputs
// before it stopped.
func (rt *Runtime) Start(commit uint64, now time.Time) { rt.catchUpTo, rt.now = commit, now }

// CatchUp starts performing outputs once the node has replayed the
// history (replayed); it runs before each replica step. The replica has
// replayed it once the log has handed it every entry of it (applied) and
// it has executed as far as they let it
// (executed: its last step ran nothing, and nothing was given to it
// since). Handed over is not enough: the outputs of the history come out
// as the replica executes it, and performed anew they would, in a
// Byzantine cluster, wait for signatures the others gave long ago and
// may have lost in a crash since.
// It also fences the node's disk outputs while a NodeDown of this node
// has committed and its replica has not delivered it: what the replica
// emits until then is history the cluster has already decided without
// this node. A disk write in it completed as uncertain and was reissued
// through another path, and newer writes may have followed; performed
// now, late, it would write over them (docs/outputs.md).
func (rt *Runtime) CatchUp(applied uint64, executed bool) {
	if rt.router.Quiet.Load() && rt.replayed(applied) && executed {
		rt.router.Quiet.Store(false)
		rt.cfg.Logger.Info("caught up; performing outputs", "applied", applied)
		// Nothing routed while quiet was performed: the disk outputs
		// among them still owed go out at once. Those not routed yet are
		// performed as they are.
		rt.repeatOwedDisksNow(rt.router.Routed())
	}
	if fenced := rt.rep.DownPending(rt.cfg.Self); fenced != rt.router.Fenced.Load() {
		rt.router.Fenced.Store(fenced)
		if fenced {
			rt.cfg.Logger.Warn("declared down: performing no disk output until the replica gets there")
		}
	}
}

// Restored is called after the replica restored a snapshot. The
// outputs its state still waits for come from history this life never
// executed, so it never routed them:
//
//   - The disk outputs it owes itself were not performed in this life:
//     they go out at the first step it performs outputs in, not a retry
//     interval later (repeatDiskOutputs), as those routed while quiet do
//     once it catches up.
//   - In a Byzantine cluster, it signs those it waits for from other
//     members (disk I/O not completed, console output not acknowledged).
//     Signatures live in memory only: once every member that signed such
//     an output as it computed it had restarted from that snapshot or a
//     later one, the member owing it held it for a certificate nobody
//     could give, until DiskDownAfter declared it down.
//
// Both in the simulator's Byzantine seed 197079, where the journal's
// path owed write #21 from before the checkpoint every member restarted
// from.
func (rt *Runtime) Restored() {
	rt.repeatOwedDisksNow(math.MaxUint64)
	if rt.router.Certify != nil {
		rt.router.Certify.Sign(rt.rep.Outstanding())
	}
}

// replayed reports whether the log has handed the replica the history it
// replays quietly: what was committed when the node started, and what the
// cluster had decided when the node first heard from it (serveFrom). Its
// own disk is not enough: while the node was down, the cluster may have
// declared it down and reissued its disk writes through another path
// (TestRuntimeStaysQuietThroughWhatTheClusterDecided).
func (rt *Runtime) replayed(applied uint64) bool {
	return applied >= rt.catchUpTo && rt.serveFromKnown && applied >= rt.serveFrom
}

// Decide makes the time-driven decisions after a replica step.
func (rt *Runtime) Decide(now time.Time, ls consensus.Status) {
	rt.now = now
	if !rt.serveFromKnown && ls.LeaderCommit > 0 {
		rt.serveFrom, rt.serveFromKnown = ls.LeaderCommit, true
	}
	rt.decideProposals(now, ls)
	rt.updateServing(ls.Applied)
}

// StepEpochs is how many epochs the replica may run before the next
// Decide (Replica.StepEpochs): as many as the seal proposer can wait.
func (rt *Runtime) StepEpochs(ls consensus.Status) uint64 {
	return rt.cfg.Sealer.Unneeded(rt.rep.SealInfo(), ls.IsLeader, rt.now.UnixNano())
}

func (rt *Runtime) decideProposals(now time.Time, ls consensus.Status) {
	if !rt.rep.Booted() {
		if (ls.IsLeader || rt.cfg.EveryMemberBoots) && now.Sub(rt.bootProposedAt) > bootRetry {
			rt.bootProposedAt = now
			rt.proposeBoot(now)
		}
		return
	}
	if seal, ok := rt.cfg.Sealer.Next(rt.rep.SealInfo(), ls.IsLeader, now.UnixNano()); ok {
		rt.cfg.Propose(seal)
	}
	rt.detectFailures(now, ls)
	self := rt.cfg.Self
	down, quiet := rt.rep.Down(self), rt.router.Quiet.Load()
	if !down && !quiet {
		rt.payDebts(now)
		return
	}
	if rt.router.Certify != nil {
		// A node down or replaying pays no debts, but withdraws all the
		// same: a disk output held for its certificate when the node's
		// NodeDown settled it, certified afterwards, would be performed
		// once the fence is down (Router.Fenced), over the writes issued
		// since through other paths.
		rt.withdrawSettled(rt.rep.Owed(self))
	}
	if down && !quiet && now.Sub(rt.upProposedAt) > rt.cfg.DownAfter {
		rt.upProposedAt = now
		rt.cfg.Propose(entry.NodeUp{Node: self})
	}
}

// payDebts acknowledges console output and proposes again what the
// replicated state still waits for from this node.
func (rt *Runtime) payDebts(now time.Time) {
	owed := rt.rep.Owed(rt.cfg.Self)
	rt.withdrawSettled(owed)
	if owed.Console != 0 && owed.Console > rt.router.ConsoleTaken() {
		// Given to this node before it restarted: its last life may or may
		// not have performed it. Perform it again rather than lose it, as
		// a failover does. Taken, not performed: in a Byzantine cluster
		// this life's own output waits for its certificate meanwhile.
		rt.router.Repeat(rt.rep.UnacknowledgedConsole(rt.cfg.Self))
	}
	done := rt.router.ConsoleThrough()
	ackDue := done > rt.consoleAcked && now.Sub(rt.consoleAckedAt) >= consoleAckInterval
	ackLost := owed.Console != 0 && owed.Console <= rt.consoleAcked && now.Sub(rt.consoleAckedAt) >= owedRetry
	if ackDue || ackLost {
		rt.consoleAcked, rt.consoleAckedAt = done, now
		rt.cfg.Propose(entry.ConsoleDone{Node: rt.cfg.Self, Seq: done})
	}
	if owed.Refill != nil && now.Sub(rt.refillProposedAt) >= owedRetry {
		rt.refill(*owed.Refill)
	}
	rt.repeatDiskOutputs(now, owed.Disk)
}

// withdrawSettled stops holding for a certificate the console and disk
// outputs the replicated state no longer waits for from this node: an
// acknowledgement or a completion of them committed, from an earlier life
// of this node or after a failover.
func (rt *Runtime) withdrawSettled(owed Owed) {
	if rt.router.Certify == nil {
		return // outputs are held only in a Byzantine cluster
	}
	rt.router.Withdraw(func(o outputs.Output) bool {
		switch o.Action.(type) {
		case outputs.Console:
			return owed.Console == 0 || o.Seq < owed.Console
		case outputs.DiskRead, outputs.DiskWrite:
			return !slices.ContainsFunc(owed.Disk, func(d outputs.Output) bool { return d.Seq == o.Seq })
		}
		return false
	})
}

// repeatOwedDisksNow has the disk outputs this node owes, through
// sequence number through, performed at the next step that performs
// outputs, not a retry interval later (repeatDiskOutputs): they were not
// performed in this life.
func (rt *Runtime) repeatOwedDisksNow(through uint64) {
	for _, o := range rt.rep.Owed(rt.cfg.Self).Disk {
		if o.Seq <= through {
			rt.diskPerformedAt[o.Seq] = time.Time{}
		}
	}
}

// repeatDiskOutputs performs again a disk output whose completion has not
// committed for owedRetry: the device's answer, or its proposal, may have
// been lost, or this node restarted before answering. The device drops a
// repeat while the first is in flight, and the disk server answers a
// repeat it has applied with its original result.
func (rt *Runtime) repeatDiskOutputs(now time.Time, owed []outputs.Output) {
	if rt.router.Fenced.Load() {
		return // what is owed now will complete as uncertain
	}
	owing := make(map[uint64]bool, len(owed))
	for _, o := range owed {
		owing[o.Seq] = true
		at, seen := rt.diskPerformedAt[o.Seq]
		switch {
		case !seen:
			rt.diskPerformedAt[o.Seq] = now
		case now.Sub(at) >= owedRetry:
			rt.diskPerformedAt[o.Seq] = now
			rt.router.Repeat([]outputs.Output{o})
		}
	}
	for seq := range rt.diskPerformedAt {
		if !owing[seq] {
			delete(rt.diskPerformedAt, seq)
		}
	}
}

// drawnBatch is a random batch committed to for a draw's round.
type drawnBatch struct {
	round uint64
	data  []byte
}

// refill proposes fresh random bytes for the guest's pool, or, in a
// Byzantine cluster's draw, the hash of a fresh batch and later the batch
// itself (see world_random.go). A repeated commit step proposes the same
// hash again: the node may have lost only its proposal.
func (rt *Runtime) refill(a outputs.Refill) {
	rt.refillProposedAt = rt.now
	switch {
	case a.Reveal:
		if rt.drawn.round != a.Round {
			// Committed before this node restarted, or not at all: the
			// draw passes it over once its deadline is gone.
			rt.cfg.Logger.Debug("no random batch to reveal for this round", "round", a.Round)
			return
		}
		rt.cfg.Propose(entry.Random{Node: rt.cfg.Self, Data: rt.drawn.data})
	case a.Round != 0:
		if rt.drawn.round != a.Round {
			b, ok := rt.randomBytes(a.Bytes)
			if !ok {
				return
			}
			rt.drawn = drawnBatch{round: a.Round, data: b}
		}
		rt.cfg.Propose(entry.RandomCommit{Node: rt.cfg.Self, Round: a.Round, Hash: sha256.Sum256(rt.drawn.data)})
	default:
		if b, ok := rt.randomBytes(a.Bytes); ok {
			rt.cfg.Propose(entry.Random{Node: rt.cfg.Self, Data: b})
		}
	}
}

func (rt *Runtime) randomBytes(n int) ([]byte, bool) {
	b := make([]byte, n)
	if _, err := io.ReadFull(rt.cfg.Entropy, b); err != nil {
		rt.cfg.Logger.Error("no random bytes for the guest's pool", "err", err)
		return nil, false
	}
	return b, true
}

func (rt *Runtime) proposeBoot(now time.Time) {
	b := rt.cfg.Boot
	boot := entry.Boot{
		GuestDigest:         GuestDigest(rt.cfg.Guest),
		RootDigest:          RootDigest(rt.cfg.Root),
		Argv:                b.Argv,
		Envp:                b.Envp,
		Time:                now.UnixNano(),
		EpochInstructions:   b.EpochInstructions,
		NanosPerInstruction: b.NanosPerInstruction,
		HashEvery:           b.HashEvery,
		Members:             b.Members,
		MemoryLimit:         b.MemoryLimit,
		Disks:               b.Disks,
		ConsoleInput:        b.ConsoleInput,
		MaxProcesses:        b.MaxProcesses,
		RandomContributors:  b.RandomContributors,
	}
	if _, err := io.ReadFull(rt.cfg.Entropy, boot.AuxRandom[:]); err != nil {
		rt.cfg.Logger.Error("no random bytes for the boot entry", "err", err)
		return
	}
	rt.cfg.Logger.Info("proposing the boot entry", "argv", b.Argv, "members", fmt.Sprint(b.Members))
	rt.cfg.Propose(boot)
}

// detectFailures declares down a member the leader has not reached for
// DownAfter, or one that has owed a disk completion for DiskDownAfter.
// The second any member declares, not only the leader: the leader may be
// the faulty member, and while the guest waits on that I/O it may make
// no request at all, so that no member suspects a primary that stopped
// working (Byzantine simulator seed 3023: one member alone changing
// view, the others idle in its view, the faulty one silent). A
// declaration waiting to be ordered is such a request. Declaring is
// idempotent in the replicated state, so a repeat after a lost proposal
// does no harm.
func (rt *Runtime) detectFailures(now time.Time, ls consensus.Status) {
	for _, m := range rt.rep.Members() {
		if m == rt.cfg.Self || rt.rep.Down(m) {
			delete(rt.missingSince, m)
			delete(rt.owingDisk, m)
			continue
		}
		owing := rt.owingDiskFor(now, m)
		missing := time.Duration(0)
		switch since, seen := rt.missingSince[m]; {
		case !ls.IsLeader || slices.Contains(ls.Reachable, m):
			delete(rt.missingSince, m)
		case seen:
			missing = now.Sub(since)
		default:
			rt.missingSince[m] = now
		}
		stuck := rt.cfg.DiskDownAfter > 0 && owing > rt.cfg.DiskDownAfter
		if (missing > rt.cfg.DownAfter || stuck) && now.Sub(rt.downProposedAt[m]) > rt.cfg.DownAfter {
			rt.downProposedAt[m] = now
			rt.cfg.Logger.Warn("declaring a node down", "member", m, "missing_for", missing, "owing_disk_for", owing)
			rt.cfg.Propose(entry.NodeDown{Node: m})
		}
	}
}

// owedDisk is the oldest disk output a member owes, and since when.
type owedDisk struct {
	seq   uint64
	since time.Time
}

// owingDiskFor is how long member m has owed the completion of its
// oldest outstanding disk output, as this node saw it; 0 when it owes
// none or DiskDownAfter is not set.
func (rt *Runtime) owingDiskFor(now time.Time, m consensus.NodeID) time.Duration {
	if rt.cfg.DiskDownAfter <= 0 {
		return 0
	}
	oldest, owes := rt.rep.OldestOwedDisk(m)
	if !owes {
		delete(rt.owingDisk, m)
		return 0
	}
	o, ok := rt.owingDisk[m]
	if !ok || o.seq != oldest {
		rt.owingDisk[m] = owedDisk{seq: oldest, since: now}
		return 0
	}
	return now.Sub(o.since)
}

// updateServing lets the network port take clients only while the
// replicated machine will serve them soon: this node has caught up with
// the log as a leader last described it and is not declared down. A
// client accepted otherwise would wait behind the catch-up, for a quorum
// that may be minutes away, or be refused by every replica once its
// connection reached the log.
func (rt *Runtime) updateServing(applied uint64) {
	caughtUp := rt.serveFromKnown && applied >= rt.serveFrom && !rt.router.Quiet.Load()
	serving := caughtUp && !rt.rep.Down(rt.cfg.Self)
	if serving != rt.serving {
		rt.serving = serving
		rt.router.Devices.Net.SetServing(serving)
	}
}
