// Package planted holds switches for bugs planted on purpose. The
// simulator's tests turn them on one at a time to show that its
// invariants catch each (replica/sim/planted_test.go); every switch is
// off in a real run, and nothing but those tests turns one on. A switch
// costs one atomic load where the bug would be.
package planted

import (
	"fmt"
	"strings"
	"sync/atomic"
)

// Bug names one planted bug.
type Bug uint32

const (
	// EarlyDelivery: node 2 delivers each entry one epoch early.
	EarlyDelivery Bug = 1 << iota
	// AckBeforeFsync: raft sends its messages (votes, acknowledgements of
	// appended entries) before the entries and votes are on disk.
	AckBeforeFsync
	// SealWithoutIncrement: an Inputs batch closes with a seal of the
	// highest epoch so far instead of one more.
	SealWithoutIncrement
	// OutputOnEveryNode: every node performs every output, not only the
	// node the output names.
	OutputOnEveryNode
	// DeadConnectionsOpen: declaring a node down leaves its clients'
	// connections open.
	DeadConnectionsOpen
	// ReplayAppliedTwice: the disk server's exactly-once table applies a
	// write sent again with the sequence number of one it applied, instead
	// of answering it with its first answer.
	ReplayAppliedTwice
)

// All lists every planted bug.
var All = []Bug{EarlyDelivery, AckBeforeFsync, SealWithoutIncrement, OutputOnEveryNode, DeadConnectionsOpen, ReplayAppliedTwice}

var names = map[Bug]string{
	EarlyDelivery:        "early-delivery",
	AckBeforeFsync:       "ack-before-fsync",
	SealWithoutIncrement: "seal-without-increment",
	OutputOnEveryNode:    "output-on-every-node",
	DeadConnectionsOpen:  "dead-connections-open",
	ReplayAppliedTwice:   "replay-applied-twice",
}

func (b Bug) String() string {
	if n, ok := names[b]; ok {
		return n
	}
	return fmt.Sprintf("bug(%d)", uint32(b))
}

// Parse reads a bug's name.
func Parse(name string) (Bug, error) {
	var known []string
	for _, b := range All {
		if b.String() == name {
			return b, nil
		}
		known = append(known, b.String())
	}
	return 0, fmt.Errorf("no planted bug %q (known: %s)", name, strings.Join(known, ", "))
}

var planted atomic.Uint32

// On reports whether bug is planted.
func On(bug Bug) bool { return planted.Load()&uint32(bug) != 0 }

// Plant turns bug on for the whole process until the returned function
// is called.
func Plant(bug Bug) (remove func()) {
	planted.Or(uint32(bug))
	return func() { planted.And(^uint32(bug)) }
}
