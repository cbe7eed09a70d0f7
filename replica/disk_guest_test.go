package replica

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/outputs"
)

const journalGuest = "../cmd/synod/guests/journal/journal"

// journalRig runs the journal guest on one replica and plays the log and
// every node's devices: disk outputs act on one in-memory image (a disk
// both nodes reach), and their completions commit, each followed by a
// seal so that the waiting guest gets it.
type journalRig struct {
	t      *testing.T
	rep    *Replica
	index  uint64
	image  []byte
	stdout bytes.Buffer
	stderr bytes.Buffer
	// dead is a node whose disk outputs are never performed.
	dead consensus.NodeID
}

func (r *journalRig) commit(e entry.Entry) {
	r.index++
	r.rep.CommitEntry(r.index, e)
}

// run steps the replica until it waits with nothing left to do, at most
// limit times.
func (r *journalRig) run(limit int) {
	for range limit {
		progress := r.rep.Step()
		require.NotEqual(r.t, Stopped, progress, "%v", r.rep.Status().Stopped)
		outs := r.rep.Outputs()
		for _, o := range outs {
			r.perform(o)
		}
		if progress == Exited {
			return
		}
		if progress == WaitingForLog {
			r.commit(entry.Seal{Through: r.rep.SealInfo().Epoch})
		}
	}
}

func (r *journalRig) perform(o outputs.Output) {
	switch a := o.Action.(type) {
	case outputs.Console:
		map[int]*bytes.Buffer{1: &r.stdout, 2: &r.stderr}[a.Stream].Write(a.Data)
	case outputs.DiskWrite:
		if o.Node == r.dead {
			return
		}
		copy(r.image[a.Offset:], a.Data)
		r.commit(entry.Completion{Node: o.Node, Seq: o.Seq, N: uint64(len(a.Data))})
	case outputs.DiskRead:
		if o.Node == r.dead {
			return
		}
		r.commit(entry.Completion{Node: o.Node, Seq: o.Seq, Data: r.image[a.Offset : a.Offset+int64(a.Length)]})
	}
}

// The journal guest writes through node 1's path; when node 1 dies with
// a write outstanding and is declared down, the write completes as
// uncertain, the guest's multipath library reissues it through node 2,
// and every record lands exactly where it belongs.
func TestJournalGuestFailsOverBetweenPaths(t *testing.T) {
	guest := readGuest(t, journalGuest)
	const records = 20
	r := &journalRig{t: t, image: make([]byte, 64<<10)}
	r.rep = New(Config{Self: 3, Guest: guest, ExePath: "/journal"})
	r.commit(entry.Boot{GuestDigest: GuestDigest(guest), Argv: []string{"journal", "j", fmt.Sprint(records)},
		EpochInstructions: 200_000, NanosPerInstruction: 10, Members: []consensus.NodeID{1, 2, 3},
		Disks: []entry.DiskPath{{Disk: "j", Node: 1, Size: 64 << 10}, {Disk: "j", Node: 2, Size: 64 << 10}}})
	r.commit(entry.Random{Node: 1, Data: make([]byte, randomBatch)})
	for range 10_000 {
		if bytes.Contains(r.stdout.Bytes(), []byte("ack 7\n")) {
			break
		}
		r.run(1)
	}
	r.dead = 1
	r.run(100)
	assert.Contains(t, r.rep.Owed(1).Disk[0].Action.String(), "disk j", "node 1 holds a write it will never answer")
	r.commit(entry.NodeDown{Node: 1})
	r.run(10_000)

	require.Contains(t, r.stdout.String(), fmt.Sprintf("journal: %d records written, 1 failovers", records), "stderr: %s", r.stderr.String())
	assert.Contains(t, r.stderr.String(), "multipath: j through node 1 failed (Input/output error); now through node 2")
	assert.Equal(t, "JRNL", string(r.image[:4]))
	assert.Equal(t, uint32(records), binary.BigEndian.Uint32(r.image[4:8]))
	for i := range records {
		rec := r.image[4096+64*i : 4096+64*(i+1)]
		assert.Equal(t, fmt.Sprintf("record %d", i), string(bytes.TrimRight(rec, " \n")), "record %d", i)
	}
}
