package replica

import (
	"fmt"
	"time"

	"github.com/synodvm/synod/consensus/entry"
)

// MaxClockAhead is how far ahead of a member's own clock a time that
// another member proposes may be. Guest time follows the times that seals
// carry and never goes back, so one member proposing a time far ahead
// would move every replica's clock there for good. Correct members'
// clocks agree far better than this (NTP keeps hosts within milliseconds),
// and a time that is late is harmless: the guest keeps the later one it
// has.
const MaxClockAhead = 2 * time.Second

// CheckProposedTime is what a member of a Byzantine cluster asks of
// another member's request before it lets the request be ordered
// (bft.Config.CheckRequest): the time the entry carries, if any, must not
// be more than ahead of now. A batch of 2f+1 members' prepares then holds
// only times within ahead of some correct member's clock.
func CheckProposedTime(now func() time.Time, ahead time.Duration) func(data []byte) error {
	return func(data []byte) error {
		t, ok := entry.ProposedTime(data)
		if !ok {
			return nil // none, or the replicas ignore it alike
		}
		if limit := now().Add(ahead).UnixNano(); t > limit {
			return fmt.Errorf("its time %s is more than %v ahead of this member's clock", time.Unix(0, t).UTC().Format(time.RFC3339), ahead)
		}
		return nil
	}
}
