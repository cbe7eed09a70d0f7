package replica

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus/entry"
)

// bootedReplica is a replica of the key-value guest that has taken its
// Boot entry at index 1.
func bootedReplica(t *testing.T) *Replica {
	t.Helper()
	guest := readGuest(t, kvdGuest)
	r := New(Config{Self: 1, Guest: guest, ExePath: "/kvd"})
	r.CommitEntry(1, entry.Boot{GuestDigest: GuestDigest(guest), Argv: []string{"kvd"}, EpochInstructions: 100_000, NanosPerInstruction: 10, MaxProcesses: 4})
	require.NotNil(t, r.boot)
	return r
}

// sealsOf lists, for each Inputs batch the replica's schedule holds, the
// client bytes it delivers in its epoch.
func sealsOf(r *Replica) []string {
	var out []string
	held := ""
	for _, c := range r.sched.queue {
		if d, ok := c.e.(entry.ConnData); ok {
			held += string(d.Data)
		}
		if c.closesBatch {
			out = append(out, fmt.Sprintf("%d:%s", c.index, held))
			held = ""
		}
	}
	return out
}

func TestTheInputsOfOneAgreedBatchAreOneEpoch(t *testing.T) {
	r := bootedReplica(t)
	late := inputs("C").(entry.Inputs)
	late.Time = 99
	r.CommitEntries([]Given{
		{Index: 2, Batch: 7, E: inputs("A", "B")},
		{Index: 3, Batch: 7, E: late},
		{Index: 4, Batch: 7, E: seal(3)},
		{Index: 5, Batch: 7, E: inputs("D")},
		{Index: 6, Batch: 7, E: nil},
		{Index: 7, Batch: 7, E: inputs("E")},
		{Index: 8, Batch: 8, E: inputs("F")},
		{Index: 9, Batch: 0, E: inputs("G")},
		{Index: 10, Batch: 0, E: inputs("H")},
	})
	require.Equal(t, []string{"3:ABC", "5:D", "7:E", "8:F", "9:G", "10:H"}, sealsOf(r),
		"the batches of one agreed batch join until something else comes between; those of an engine without batches (0) never do")
	var pending []uint64
	for _, p := range r.pending {
		pending = append(pending, p.Index)
	}
	require.Equal(t, []uint64{3, 4, 5, 6, 7, 8, 9, 10}, pending, "a joined batch is given under the index of its last part")
	for _, c := range r.sched.queue {
		if c.closesBatch && c.index == 3 {
			require.Equal(t, int64(99), c.e.(entry.Seal).Time, "the joined batch's time is the latest of its parts'")
		}
	}
}

func TestJoinedInputsStayWithinTheCodecsBounds(t *testing.T) {
	r := bootedReplica(t)
	big := entry.Inputs{Entries: []entry.Entry{entry.ConnData{Conn: entry.ConnID{Node: 1, Serial: 1}, Data: make([]byte, entry.MaxInputsData/2+1)}}}
	var many entry.Inputs
	for range entry.MaxInputs/2 + 1 {
		many.Entries = append(many.Entries, data("x"))
	}
	r.CommitEntries([]Given{
		{Index: 2, Batch: 7, E: big},
		{Index: 3, Batch: 7, E: big},
		{Index: 4, Batch: 7, E: many},
		{Index: 5, Batch: 7, E: many},
	})
	var given []uint64
	for _, p := range r.pending {
		given = append(given, p.Index)
		_, err := entry.Decode(entry.Encode(p.Entry))
		require.NoError(t, err, "entry %d", p.Index)
	}
	require.Equal(t, []uint64{2, 4, 5}, given, "two halves and a byte more do not fit one batch, in bytes or in inputs; a large one and many small ones do")
}
