// Package peripherals holds the real devices of one node, outside the
// replication boundary: the network service port, the console and the
// random source. A peripheral turns what happens in the world into proposed
// log entries, and performs the outputs the replicated machine addresses to
// its node. Nothing here runs guest code or decides anything the guest
// sees: that happens only when the log delivers an entry.
package peripherals

import "context"

// Proposer hands an encoded entry to the consensus log; consensus.Log
// satisfies it. Propose may block (back-pressure) and may fail (no quorum).
type Proposer interface {
	Propose(ctx context.Context, data []byte) error
}
