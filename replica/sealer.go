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
// (quietShare) and at most MaxWindow, and back at Window as soon as
// either happens. A client in conversation with the guest keeps the
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
		// they reach no further than topUpAt. A seal still in flight
		// counts as ahead already.
		window, ahead := s.busySeals(info, now)
		if !leader || ahead >= info.Epoch+topUpAt(window) {
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
// guest only the leader proposes, at topUpAt, and a seal that comes late
// stops the guest. While someone talks to the guest (traffic
// in the last Window epochs) it is 1: the loop routes the guest's answers
// only between calls.
func (s *Sealer) Unneeded(info SealInfo, leader bool, now int64) uint64 {
	if !info.Busy || info.Epoch-min(info.Epoch, s.trafficEpoch) < s.Window || s.trafficEpoch == 0 {
		return 1
	}
	if !leader {
		return math.MaxUint64
	}
	window, ahead := s.busySeals(info, now)
	if ahead < info.Epoch+topUpAt(window) {
		return 1
	}
	return ahead - topUpAt(window) + 1 - info.Epoch
}

// busySeals is the window the leader keeps for a busy guest and how far
// its seals reach, committed or in flight: it tops them up once its
// replica is within topUpAt of that reach (Next, Unneeded).
func (s *Sealer) busySeals(info SealInfo, now int64) (window, ahead uint64) {
	return s.busyWindow(info.Epoch), max(info.Highest, s.inFlight(now))
}

// topUpShare sets how close to its seals' reach the leader lets a busy
// guest come before it proposes the next: within a quarter of the
// window. The bound on what an input waits is the window, however often
// the seal is renewed within it; renewing at half the window, as first
// written, made a seal every W/2 epochs, and each costs the node about
// 125 µs outside guest code. At a quarter it is one every 3W/4 epochs, a
// third fewer, and an input waits less on average (the seal at its
// commit is 5W/8 ahead on average, not 3W/4). What the margin must
// cover is a seal's commit: at W=32, 8 epochs, about 1.2 ms of a
// translated guest on the machine of docs/replication.md; a seal later
// than that stops the guest until it commits (NodeStatus.SealWaits).
const topUpShare = 4

// topUpAt is how many epochs before its seals' reach the leader tops up
// a busy guest's window: at least one, so that a tiny window is renewed
// before the guest stops rather than after.
func topUpAt(window uint64) uint64 { return max(1, window/topUpShare) }

// busyWindow is how many epochs ahead the leader seals a busy guest at
// epoch.
func (s *Sealer) busyWindow(epoch uint64) uint64 {
	quiet := (epoch - min(epoch, s.trafficEpoch)) / quietShare
	return max(s.Window, min(quiet, s.MaxWindow))
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
