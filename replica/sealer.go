package replica

import (
	"math"

	"github.com/synodvm/synod/consensus/entry"
)

// Sealer decides when this node proposes a seal. Seals are cheap no-ops
// when redundant (only one that raises Through counts), so the policy
// errs towards proposing; what it must avoid is a replica waiting at an
// epoch end with nobody proposing the seal it needs.
//
// For a busy guest the window adapts: each seal costs its node about
// 125 µs outside guest code (the proposer, the raft loop, an fdatasync,
// and the threads they wake on the guest's core), so while no input
// reaches the guest and it sends nothing to a client, the leader seals
// further ahead, up to a quarter of the epochs of that silence
// (quietShare) and at most MaxWindow (UnreachedWindow while nothing
// outside can send the guest input at all), and back at Window as soon
// as either happens. A client in conversation with the guest keeps the
// window at W; one that comes back after a silence waits at most a
// quarter of it longer. Only the leader's proposals change; replicas
// obey whatever seals commit, so the policy is free to differ between
// nodes and across leader changes.
type Sealer struct {
	// Window is W: how many epochs ahead of its own replica the leader
	// keeps seals for a busy guest someone talks to. Larger means fewer
	// seals and fewer stalls of replicas running ahead of the leader;
	// smaller means a client's bytes reach a busy guest sooner (they land
	// within about W epochs).
	Window uint64
	// MaxWindow bounds the window of a busy guest nobody has talked to
	// for a while; at or below Window the window stays Window. It bounds
	// what the first input after such a while waits: committed just
	// after a top-up, it lands after that seal, up to MaxWindow epochs of
	// guest execution later (Window at most once the window is back).
	// At 256 epochs of 200,000 instructions that is 51.2 M guest
	// instructions, 512 ms of guest time at 10 ns an instruction and
	// about 45 ms of a translated guest on the 2-core machine of
	// docs/replication.md, against 5.5 ms for W=32; the saving, 1,500
	// seals of 125 µs in a 6 G-instruction run, is within that
	// machine's noise, so synod node leaves it off unless asked
	// (--max-window).
	MaxWindow uint64
	// UnreachedWindow bounds, in place of MaxWindow when larger, the
	// window of a busy guest that nothing outside can send input to
	// (SealInfo.Unreachable): a batch job with no port, connection,
	// console input or disk. Only the first input once it becomes
	// reachable can wait for such a seal, and nobody waits for it yet
	// (a connection to a port it opens meanwhile, say); what it saves is
	// most of the seals of a long computation. At 256 epochs of 200,000
	// instructions the wait is at most 51.2 M guest instructions, about
	// 20 ms of a translated guest (docs/replication.md, "A guest nothing
	// can reach is sealed far ahead").
	UnreachedWindow uint64
	// Retry is how long (in the caller's clock units) a proposed seal may
	// stay uncommitted before the same seal is proposed again: the first
	// may have been dropped by a leader change.
	Retry int64

	proposed   uint64 // Through of the last proposed seal
	proposedAt int64

	// traffic is SealInfo.Traffic as last seen, and trafficEpoch the
	// epoch when it was (zero before the first call): this node cannot
	// know how long before it started the guest last talked.
	traffic      uint64
	trafficEpoch uint64
}

// DefaultUnreachedWindow is UnreachedWindow as a node sets it unless
// told otherwise.
const DefaultUnreachedWindow = 256

// quietShare is the share of the epochs of silence that a busy guest's
// window may grow to: a client waits at most a quarter of the silence it
// ends longer than at the window W.
const quietShare = 4

// Next returns the seal to propose now, if any. now is the node's wall
// clock in Unix nanoseconds; it also becomes the seal's time.
func (s *Sealer) Next(info SealInfo, leader bool, now int64) (entry.Seal, bool) {
	if info.Traffic != s.traffic || s.trafficEpoch == 0 {
		s.traffic, s.trafficEpoch = info.Traffic, info.Epoch
	}
	var through uint64
	switch {
	case info.Busy:
		// A busy guest: keep seals a window ahead, topping up when
		// they reach no further than topUp. A seal still in flight
		// counts as ahead already.
		window, ahead, topUp := s.busySeals(info, now)
		if !leader || ahead >= info.Epoch+topUp {
			return entry.Seal{}, false
		}
		through = info.Epoch + window
	case info.Unsealed && leader:
		// An idle guest with committed input waiting: seal it at once.
		through = info.Highest + 1
	case info.Deadline != 0 && now >= info.Deadline && leader:
		// An idle guest whose sleeper is due: carry the time forward.
		through = info.Highest + 1
	default:
		return entry.Seal{}, false
	}
	return s.propose(through, now)
}

// Unneeded is how many epochs, from info.Epoch, the replica may run
// before Next needs to see it again (at least 1): the node's loop runs
// that many in one call of the machine (Replica.StepEpochs). For a busy
// guest only the leader proposes, when it tops its seals up, and a seal
// that comes late stops the guest. While someone talks to the guest it
// is 1: the loop routes the guest's answers only between calls.
func (s *Sealer) Unneeded(info SealInfo, leader bool, now int64) uint64 {
	if !info.Busy || s.talkedTo(info) {
		return 1
	}
	if !leader {
		return math.MaxUint64
	}
	_, ahead, topUp := s.busySeals(info, now)
	if ahead < info.Epoch+topUp {
		return 1
	}
	return ahead - topUp + 1 - info.Epoch
}

// talkedTo reports whether someone talked to the guest within the last
// Window epochs, or this node cannot tell yet.
func (s *Sealer) talkedTo(info SealInfo) bool {
	return info.Epoch-min(info.Epoch, s.trafficEpoch) < s.Window || s.trafficEpoch == 0
}

// busySeals is the window the leader keeps for a busy guest, how far its
// seals reach, committed or in flight, and how close to that reach the
// replica may come before the leader tops them up (Next, Unneeded).
func (s *Sealer) busySeals(info SealInfo, now int64) (window, ahead, topUp uint64) {
	window = s.busyWindow(info)
	share := uint64(topUpShare)
	if s.talkedTo(info) {
		share = 2
	}
	return window, max(info.Highest, s.inFlight(now)), max(1, window/share)
}

// topUpShare sets how close to its seals' reach the leader lets a busy
// guest nobody talks to come before it proposes the next: within a
// quarter of the window. The bound on what an input waits is the window,
// however often the seal is renewed within it; renewing at half the
// window, as first written, made a seal every W/2 epochs, and each costs
// the node about 125 µs outside guest code. At a quarter it is one every
// 3W/4 epochs, a third fewer, and an input waits less on average (the
// seal at its commit is 5W/8 ahead on average, not 3W/4). What the
// margin must cover is a seal's commit: at W=32, 8 epochs, about 1.2 ms
// of a translated guest on the machine of docs/replication.md; a seal
// later than that stops the guest until it commits
// (NodeStatus.SealWaits). While someone talks to the guest, its answers
// wait for every such stop, so the leader then renews at half the
// window, as before: at a quarter the p99 of a busy shell's answers to
// an active client was 41-154 ms against 17-67 ms, three runs each at
// load 7-10 (docs/replication.md). Either margin is at least one epoch,
// so that a tiny window is renewed before the guest stops rather than
// after.
const topUpShare = 4

// busyWindow is how many epochs ahead the leader seals a busy guest
// where info stands.
func (s *Sealer) busyWindow(info SealInfo) uint64 {
	bound := s.MaxWindow
	if info.Unreachable {
		bound = max(bound, s.UnreachedWindow)
	}
	quiet := (info.Epoch - min(info.Epoch, s.trafficEpoch)) / quietShare
	return max(s.Window, min(quiet, bound))
}

// inFlight is the Through of a recently proposed seal, which may not have
// committed yet; zero once it is old enough to be presumed lost.
func (s *Sealer) inFlight(now int64) uint64 {
	if now-s.proposedAt < s.Retry {
		return s.proposed
	}
	return 0
}

func (s *Sealer) propose(through uint64, now int64) (entry.Seal, bool) {
	if through <= s.inFlight(now) {
		return entry.Seal{}, false
	}
	s.proposed, s.proposedAt = through, now
	return entry.Seal{Through: through, Time: now}, true
}
