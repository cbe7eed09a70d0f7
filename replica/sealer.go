package replica

import "github.com/synodvm/synod/consensus/entry"

// Sealer decides when this node proposes a seal. Seals are cheap no-ops
// when redundant (only one that raises Through counts), so the policy
// errs towards proposing; what it must avoid is a replica waiting at an
// epoch end with nobody proposing the seal it needs.
type Sealer struct {
	// Window is W: how many epochs ahead of its own replica the leader
	// keeps seals for a busy guest. Larger means fewer seals and fewer
	// stalls of replicas running ahead of the leader; smaller means a
	// client's bytes reach a busy guest sooner (they land within about W
	// epochs).
	Window uint64
	// Retry is how long (in the caller's clock units) a proposed seal may
	// stay uncommitted before the same seal is proposed again: the first
	// may have been dropped by a leader change.
	Retry int64

	proposed   uint64 // Through of the last proposed seal
	proposedAt int64
}

// Next returns the seal to propose now, if any. now is the node's wall
// clock in Unix nanoseconds; it also becomes the seal's time.
func (s *Sealer) Next(info SealInfo, leader bool, now int64) (entry.Seal, bool) {
	var through uint64
	switch {
	case info.Busy:
		// A busy guest: keep seals a window ahead, topping up at half.
		// A seal still in flight counts as ahead already.
		if !leader || max(info.Highest, s.inFlight(now)) >= info.Epoch+s.Window/2 {
			return entry.Seal{}, false
		}
		through = info.Epoch + s.Window
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
