// Package replica is the hypervisor of one node: it runs the guest machine
// in epochs, delivers committed log entries at the deterministic points the
// seal rule fixes, answers the guest's environment requests from replicated
// state, emits outputs, and hashes and snapshots the whole.
//
// Replica is a pure state machine driven by one goroutine: feed it committed
// entries with Commit, advance it with Step, collect its outputs and the
// entries it wants proposed. It starts no goroutines and reads no clock, so
// the production node (node.go) and a deterministic simulator drive it the
// same way.
package replica

import (
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/internal/planted"
	"github.com/synodvm/synod/machine"
	"github.com/synodvm/synod/machine/linux"
	"github.com/synodvm/synod/outputs"
)

// Config is what one node's replica needs to know that is not in the log.
type Config struct {
	// Self is this node's id, used to name its state hashes.
	Self consensus.NodeID
	// Guest is the static hppa executable every node must run. The Boot
	// entry carries its digest; a node given a different binary refuses to
	// start the machine.
	Guest []byte
	// Root is the guest's root file system, packed (fstree.Pack, then
	// Encode); nil for an empty one. Like the guest, the Boot entry
	// carries its digest and a node given other files refuses to start.
	Root []byte
	// ExePath is what the guest's readlink("/proc/self/exe") answers.
	ExePath string
	Logger  *slog.Logger
	// Trace, when set, sees every instruction the guest executes (synod
	// replay --trace). Slow.
	Trace linux.TraceFunc
	// Engine is how this replica runs guest code. Replicas may differ:
	// both engines retire the same instructions to the same state.
	Engine machine.Engine
}

// Replica is one node's copy of the replicated machine.
type Replica struct {
	cfg Config
	log *slog.Logger

	boot *entry.Boot // nil until the first Boot is committed
	proc *linux.Process
	// traced is the process Config.Trace was given to; a restore brings
	// another.
	traced *linux.Process
	world  *world
	sched  schedule

	// epoch is the epoch executing now, or whose end waits for its seal.
	epoch uint64
	// ran is how many instructions the current epoch has executed, and
	// ended whether it has finished executing (budget spent or idle).
	ran   uint64
	ended bool
	// lastEpochFull is whether the last epoch that ended ran its whole
	// budget. It only guides this node's seal proposals.
	lastEpochFull bool
	// sends counts the calls of Outputs that returned bytes for a
	// client; it too only guides this node's seal proposals.
	sends uint64
	// wait is what the guest waits for when the epoch ended idle.
	wait linux.WaitSet
	// delivered is the log index of the last entry delivered to the guest;
	// snapshots are taken at it.
	delivered uint64
	// sealedThrough is the highest Through among delivered seals. The
	// schedule restarts from it after a restore.
	sealedThrough uint64
	// pending are the entries given (CommitEntry) after delivered, in log
	// order: the schedule holds them until a seal lets them in. A
	// snapshot carries them, so that it covers every entry given.
	pending []pendingEntry

	checks checkpoints

	proposals []entry.Entry // for the node to propose
	stopped   error         // set when the replica stopped itself
}

// ErrDiverged is wrapped by the error a replica stops with when its state
// hash disagrees with a quorum of the others.
var ErrDiverged = errors.New("replica diverged from the quorum")

// ErrBadSnapshot is wrapped by the error a node stops with when a snapshot
// of the replica (its own stored one, or the leader's) does not restore.
var ErrBadSnapshot = errors.New("replica snapshot does not restore")

// New returns a replica that waits for the Boot entry.
func New(cfg Config) *Replica {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Replica{cfg: cfg, log: cfg.Logger, epoch: 1}
}

// GuestDigest is the digest a Boot entry must carry for this replica's guest.
func GuestDigest(guest []byte) [32]byte { return sha256.Sum256(guest) }

// Commit hands the replica the next committed log entry, in log order.
// Undecodable entries are kept as no-ops so the delivered index stays exact.
func (r *Replica) Commit(index uint64, data []byte) {
	e, err := entry.Decode(data)
	if err != nil {
		r.log.Warn("ignoring undecodable log entry", "index", index, "err", err)
		e = nil
	}
	r.CommitEntry(index, e)
}

// CommitEntry is Commit for an entry the caller has decoded (nil for one
// that did not decode).
func (r *Replica) CommitEntry(index uint64, e entry.Entry) {
	if r.boot == nil {
		if b, ok := e.(entry.Boot); ok {
			r.start(index, b)
		}
		r.delivered = index
		return
	}
	r.sched.add(index, e)
	r.pending = append(r.pending, pendingEntry{Index: index, Entry: e})
}

// pendingEntry is a log entry given to the replica and not yet delivered;
// Entry is nil for one that did not decode.
type pendingEntry struct {
	Index uint64
	Entry entry.Entry
}

// notGiven says which of the guest and the root file system that b names
// this node was not given, or nil when it has both.
func (r *Replica) notGiven(b entry.Boot) error {
	if mine := GuestDigest(r.cfg.Guest); b.GuestDigest != mine {
		return fmt.Errorf("names guest %x, but this node was given guest %x: every node must run the same program",
			b.GuestDigest[:8], mine[:8])
	}
	if mine := RootDigest(r.cfg.Root); b.RootDigest != mine {
		return fmt.Errorf("names root file system %x, but this node was given %x: every node must start from the same files",
			b.RootDigest[:8], mine[:8])
	}
	return nil
}

// start boots the machine from the first Boot entry.
func (r *Replica) start(index uint64, b entry.Boot) {
	if err := r.notGiven(b); err != nil {
		r.stop(fmt.Errorf("boot entry %d %w", index, err))
		return
	}
	if b.EpochInstructions == 0 {
		r.stop(fmt.Errorf("boot entry %d: zero epoch length", index))
		return
	}
	files, err := r.rootFiles(index)
	if err != nil {
		r.stop(err)
		return
	}
	r.boot = &b
	r.world = newWorld(b, files)
	proc, err := linux.Load(r.cfg.Guest, r.processConfig(), r.world)
	if err != nil {
		r.stop(fmt.Errorf("boot entry %d: %w", index, err))
		return
	}
	proc.SetEngine(r.cfg.Engine)
	r.proc = proc
	r.log.Info("machine booted", "index", index, "argv", b.Argv, "members", b.Members)
}

func (r *Replica) processConfig() linux.Config {
	return linux.Config{
		Argv:         r.boot.Argv,
		Envp:         r.boot.Envp,
		ExePath:      r.cfg.ExePath,
		MemoryLimit:  r.boot.MemoryLimit,
		MaxProcesses: uint32(min(r.boot.MaxProcesses, math.MaxUint32)),
		Log:          r.log,
	}
}

func (r *Replica) stop(err error) {
	if r.stopped == nil {
		r.stopped = err
		r.log.Error("replica stopped", "err", err)
	}
}

// Status is a snapshot of the replica's progress for operators.
type Status struct {
	Booted       bool
	Epoch        uint64
	Delivered    uint64
	Instructions uint64
	Exited       *linux.ExitStatus
	Stopped      error
	LastHash     [32]byte
	LastHashAt   uint64 // epoch of LastHash
	// HashesAgreed counts this replica's checkpoints a quorum agreed with.
	HashesAgreed uint64
	// Down lists the members the log has declared down, in order.
	Down []consensus.NodeID
	// InputBytes counts the client bytes delivered into the guest's
	// connections, RandomBatches the random batches delivered to its
	// pool. Like HashesAgreed they count what this replica did, not
	// replicated state: a snapshot neither holds nor resets them.
	InputBytes, RandomBatches uint64
	// RandomPassedOver are the members a Byzantine cluster's random draw
	// passes over, for withholding a commitment or a batch (replicated
	// state, in id order).
	RandomPassedOver []consensus.NodeID
	// GuestTime is the guest's realtime clock now, in Unix nanoseconds
	// (zero before boot).
	GuestTime int64
}

// Status reports where the replica is.
func (r *Replica) Status() Status {
	s := Status{
		Booted:    r.proc != nil,
		Epoch:     r.epoch,
		Delivered: r.delivered,
		Stopped:   r.stopped,
	}
	if r.proc != nil {
		s.Instructions = r.proc.Instructions()
		s.Exited = r.proc.Exit()
		if r.world != nil {
			s.GuestTime = r.world.Clock(s.Instructions).Realtime
		}
	}
	if r.world != nil {
		s.Down = slices.Sorted(maps.Keys(r.world.down))
		s.InputBytes, s.RandomBatches = r.world.counts.inputBytes, r.world.counts.randomBatches
		s.RandomPassedOver = slices.Sorted(maps.Keys(r.world.passedOver))
	}
	s.LastHashAt, s.LastHash = r.checks.last()
	s.HashesAgreed = r.checks.agreed
	return s
}

// Booted reports whether the machine has booted: Status without building
// it, for a question asked after every step.
func (r *Replica) Booted() bool { return r.proc != nil }

// Progress says what Step did.
type Progress uint8

const (
	// Ran means the replica executed instructions or delivered entries:
	// call Step again.
	Ran Progress = iota
	// WaitingForLog means the current epoch has ended and its seal has not
	// committed yet (or the machine has not booted): wait for Commit.
	WaitingForLog
	// Exited means the guest has ended; see Status.
	Exited
	// Stopped means the replica stopped itself; see Status.Stopped.
	Stopped
)

// Step advances the replica by at most one epoch: it executes the rest of
// the current epoch, then, if the seal that decides the epoch's end has
// committed, delivers the entries it closes and moves to the next epoch.
func (r *Replica) Step() Progress { return r.StepEpochs(1) }

// maxStepInstructions bounds the instructions StepEpochs runs in one call
// of the machine: 16 epochs of the default 200,000, about 2.5 ms of a
// translated guest on the machine of docs/replication.md. The node's loop
// routes the guest's outputs, serves snapshots and publishes its status
// only between calls, so a longer call delays those; each epoch end it
// skips saves only about 5 µs, so beyond a dozen epochs the saving no
// longer grows while the delay does.
const maxStepInstructions = 3_200_000

// StepEpochs is Step over up to most epochs (and maxStepInstructions), in
// one call of the machine, as long as the ends of the epochs before the
// last are known to do nothing: the seal at the head of the schedule
// covers them, so nothing is delivered there, and no state hash is due.
// Those ends stay the same logical boundaries: the guest executes the
// same instructions as under Step, since the kernel's count does not
// depend on where budgets cut a run, and the last epoch's end is Step's.
func (r *Replica) StepEpochs(most uint64) Progress {
	switch {
	case r.stopped != nil:
		return Stopped
	case r.proc == nil:
		return WaitingForLog
	case r.proc.Exit() != nil:
		r.deliverAfterExit()
		return Exited
	}
	if r.cfg.Trace != nil && r.traced != r.proc {
		r.proc.SetTrace(r.cfg.Trace)
		r.traced = r.proc
	}
	if !r.ended {
		epochs := r.quietEpochs(most)
		res := r.proc.Run(epochs*r.boot.EpochInstructions - r.ran)
		r.endEpochs(res)
		if res.Reason == linux.RunExited {
			r.log.Info("guest exited", "status", *r.proc.Exit(), "epoch", r.epoch)
			r.finalCheckpoint()
			// The entries given for later epochs are delivered now, not
			// at the next call: at rest, the state depends on the
			// entries given alone (TestAnExitedGuestWaitsForNoEntry).
			r.deliverAfterExit()
			return Exited
		}
	}
	if r.ran == 0 {
		r.epoch = r.sched.skip(r.epoch)
	}
	batch, ok := r.sched.cut(r.cutEpoch(r.epoch))
	if !ok {
		return WaitingForLog
	}
	for _, c := range batch {
		r.deliver(c)
	}
	if r.ran > 0 || len(batch) > 0 {
		r.checkpoint()
	}
	r.epoch++
	r.ran = 0
	r.ended = false
	if r.stopped != nil {
		return Stopped
	}
	return Ran
}

// cutEpoch is the epoch whose entries the schedule delivers at the end of
// epoch.
func (r *Replica) cutEpoch(epoch uint64) uint64 {
	if planted.On(planted.EarlyDelivery) && r.cfg.Self == 2 {
		return epoch + 1
	}
	return epoch
}

// quietEpochs is how many epochs, from the current one and at most most,
// the machine may run in one call: the end of each but the last delivers
// nothing and hashes nothing if the epoch runs its whole budget. One that
// does not (the guest exits or waits) ends the call there anyway.
func (r *Replica) quietEpochs(most uint64) uint64 {
	e := r.boot.EpochInstructions
	most = min(most, max(1, maxStepInstructions/e))
	quietThrough := r.sched.quietThrough()
	end := r.proc.Instructions() + e - r.ran
	epochs := uint64(1)
	for ; epochs < most; epochs++ {
		last := r.epoch + epochs - 1
		if r.cutEpoch(last) > quietThrough || r.hashDue(last, end) {
			break
		}
		end += e
	}
	return epochs
}

// endEpochs moves the replica to the epoch a run of the machine ended in,
// as if it had run one epoch a call: the epochs before it ran their whole
// budgets. A run that ends at a multiple of the epoch's budget ends that
// epoch, unless the guest went idle there: the next epoch then ran
// nothing, as its own call would have.
func (r *Replica) endEpochs(res linux.RunResult) {
	e := r.boot.EpochInstructions
	total := r.ran + res.Executed
	var passed uint64
	switch {
	case res.Reason == linux.RunIdle:
		passed = total / e
	case total > 0:
		passed = (total - 1) / e
	}
	r.epoch += passed
	r.ran = total - passed*e
	r.ended = true
	r.lastEpochFull = r.ran >= e
	r.wait = res.Wait
}

// deliverAfterExit delivers every committed entry at once: with no guest
// left to run, when an entry lands cannot matter, but what it does to the
// world still does (a node declared down hands its unacknowledged console
// output to the next one).
func (r *Replica) deliverAfterExit() {
	for _, c := range r.sched.takeAll() {
		r.deliver(c)
	}
}

func (r *Replica) deliver(c committed) {
	r.delivered = c.index
	for len(r.pending) > 0 && r.pending[0].Index <= c.index {
		r.pending = r.pending[1:]
	}
	switch e := c.e.(type) {
	case nil:
	case entry.Seal:
		r.sealedThrough = e.Through
		r.world.deliver(r.proc.Instructions(), e)
	case entry.StateHash:
		r.checks.vote(e)
		r.judge(e.Epoch)
	default:
		r.world.deliver(r.proc.Instructions(), e)
	}
}

// Outputs returns the outputs the guest produced since the last call.
func (r *Replica) Outputs() []outputs.Output {
	if r.world == nil {
		return nil
	}
	out := r.world.drain()
	if slices.ContainsFunc(out, func(o outputs.Output) bool { _, ok := o.Action.(outputs.Send); return ok }) {
		r.sends++
	}
	return out
}

// Proposals returns the entries the replica wants proposed to the log (its
// state hashes) since the last call.
func (r *Replica) Proposals() []entry.Entry {
	p := r.proposals
	r.proposals = nil
	return p
}

// SealInfo tells the node's seal proposer where this replica stands.
type SealInfo struct {
	Epoch uint64
	// Highest is the highest seal committed so far (delivered or not).
	Highest uint64
	// Busy is true when the last epoch that ended ran its whole budget:
	// the guest computes, and replicas need seals ahead of it. A guest
	// that ran less waited for input, which brings its own seal.
	Busy bool
	// Unsealed is true when a committed entry waits for a seal.
	Unsealed bool
	// Deadline is the guest realtime (Unix ns) a sleeping thread waits
	// for; zero when none.
	Deadline int64
	// Traffic moves whenever an entry a client or a guest thread may be
	// waiting on commits, or the guest sends bytes to a client: while it
	// stays put, nobody is talking to the guest, and the leader may seal
	// a busy guest further ahead.
	Traffic uint64
	// Unreachable is true while nothing outside the machine can send the
	// guest input: it listens on no port, has no connection, reads no
	// console input and has no disk open. Nobody can then be kept waiting
	// by a seal far ahead. (Random bytes it asks for count as traffic
	// once they commit, as they do for any guest.)
	Unreachable bool
}

// SealInfo reports what the seal proposer needs.
func (r *Replica) SealInfo() SealInfo {
	si := SealInfo{Epoch: r.epoch, Highest: r.sched.highest, Unsealed: r.sched.unsealed(), Traffic: r.sched.inputs + r.sends}
	if r.proc == nil {
		return si
	}
	si.Busy = r.lastEpochFull
	si.Unreachable = !r.world.reachable()
	if idle := r.ended && r.ran < r.boot.EpochInstructions; idle && r.wait.HasDeadline {
		si.Deadline = r.wait.Deadline - monotonicOrigin + r.world.bootTime
	}
	return si
}

// Down reports whether the replicated state has node declared down.
func (r *Replica) Down(node consensus.NodeID) bool {
	return r.world != nil && r.world.down[node]
}

// DownPending reports whether a NodeDown of node has committed and waits
// to be delivered.
func (r *Replica) DownPending(node consensus.NodeID) bool {
	return r.sched.downPending(node)
}

// Members are the nodes the machine booted with, in id order.
func (r *Replica) Members() []consensus.NodeID {
	if r.boot == nil {
		return nil
	}
	return r.world.members
}

// ListenPorts are the guest ports the guest listens on now; a node restored
// from a snapshot serves them again.
func (r *Replica) ListenPorts() []uint16 {
	if r.world == nil {
		return nil
	}
	return r.world.listenPorts()
}

// Owed is what the replicated state waits for from one node: entries
// only that node can propose. A proposal a leader change dropped leaves
// them owed, so the node proposes them again until they commit.
type Owed struct {
	// Refill is the refill step the guest's random pool waits for from
	// this node (nil for none).
	Refill *outputs.Refill
	// Console is the sequence number of the oldest console output this
	// node was given and has not acknowledged (zero for none).
	Console uint64
	// Disk are the disk outputs awaiting this node's completion, oldest
	// first.
	Disk []outputs.Output
}

// ConsoleInputNext is the offset in the console's input of the next byte
// the guest's stdin expects, and whether the input has ended: a node
// that reads the console proposes from there.
func (r *Replica) ConsoleInputNext() (uint64, bool) {
	if r.world == nil {
		return 0, false
	}
	return r.world.stdin.Next, r.world.stdin.EOF
}

// Owed reports what the replicated state waits for from node.
func (r *Replica) Owed(node consensus.NodeID) Owed {
	if r.world == nil {
		return Owed{}
	}
	return r.world.owed(node)
}

// OldestOwedDisk is the sequence number of the oldest disk output
// awaiting node's completion, false when none does: what Owed(node).Disk
// begins with, asked by the runtime of every member at every decision.
func (r *Replica) OldestOwedDisk(node consensus.NodeID) (uint64, bool) {
	if r.world == nil {
		return 0, false
	}
	return r.world.oldestOwedDisk(node)
}

// Outstanding is every output the replicated state waits for a node to
// perform, whatever node it is addressed to: disk outputs awaiting their
// completion, console output not acknowledged; in sequence order.
func (r *Replica) Outstanding() []outputs.Output {
	if r.world == nil {
		return nil
	}
	var outs []outputs.Output
	for seq := range r.world.disks.awaiting {
		outs = append(outs, r.world.awaitedOutput(seq))
	}
	for _, c := range r.world.console {
		outs = append(outs, c.output())
	}
	slices.SortFunc(outs, func(a, b outputs.Output) int { return cmp.Compare(a.Seq, b.Seq) })
	return outs
}

// UnacknowledgedConsole is the console output given to node that it has
// not acknowledged, oldest first, as outputs to perform again.
func (r *Replica) UnacknowledgedConsole(node consensus.NodeID) []outputs.Output {
	if r.world == nil {
		return nil
	}
	var outs []outputs.Output
	for _, c := range r.world.console {
		if c.Node == node {
			outs = append(outs, c.output())
		}
	}
	return outs
}

// OpenConnections counts the client connections of node that the
// replicated machine still takes bytes from (neither the client nor the
// world has hung up).
func (r *Replica) OpenConnections(node consensus.NodeID) int {
	if r.world == nil {
		return 0
	}
	n := 0
	for id, c := range r.world.conns {
		if id.Node == node && !c.peerClosed {
			n++
		}
	}
	return n
}
