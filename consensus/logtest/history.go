// Package logtest helps test consensus engines and their users: History
// is the smallest replicated application, a list of every committed entry
// whose snapshot is the whole list, so two nodes agree exactly when their
// histories are equal, and a node restored from a snapshot still knows
// every entry ever committed.
package logtest

import (
	"encoding/json"
	"fmt"

	"github.com/synodvm/synod/consensus"
)

// History records a committed sequence. The zero value is empty.
type History struct {
	// Index is the last log index applied.
	Index uint64
	// Entries are the data of every committed entry, in order.
	Entries []string
	// Snapshots counts the snapshots applied (from a store or a leader).
	Snapshots int
}

// Apply applies a stream of Applies in order, checking that indexes
// increase.
func (h *History) Apply(applies ...consensus.Apply) error {
	for _, a := range applies {
		if a.Snapshot != nil {
			var entries []string
			if err := json.Unmarshal(a.Snapshot.Data, &entries); err != nil {
				return fmt.Errorf("snapshot %d: %w", a.Snapshot.Index, err)
			}
			h.Entries, h.Index = entries, a.Snapshot.Index
			h.Snapshots++
			continue
		}
		for _, e := range a.Entries {
			if e.Index <= h.Index {
				return fmt.Errorf("entry %d delivered after entry %d", e.Index, h.Index)
			}
			h.Entries = append(h.Entries, string(e.Data))
			h.Index = e.Index
		}
	}
	return nil
}

// Snapshot is a consensus.SnapshotSource for the history (callers that
// apply on another goroutine wrap it in their lock).
func (h *History) Snapshot() (consensus.Snapshot, error) {
	b, err := json.Marshal(h.Entries)
	return consensus.Snapshot{Index: h.Index, Data: b}, err
}

// Values returns n distinct entry values: prefix-0, prefix-1, …
func Values(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}
