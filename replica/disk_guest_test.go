package replica

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/outputs"
)

const (
	journalGuest = "../cmd/synod/guests/journal/journal"
	raidGuest    = "../cmd/synod/guests/raid/raid"
	rigDiskSize  = 64 << 10
)

// diskRig runs a guest on one replica of three and plays the log and
// every node's devices: disk outputs act on an in-memory image per disk,
// and their completions commit, each followed by a seal so that the
// waiting guest gets it. A node with a latency has its completions
// sealed with a time that much later than the last: the guest's clock
// says its I/O took that long.
type diskRig struct {
	t      *testing.T
	rep    *Replica
	index  uint64
	images map[string][]byte
	stdout bytes.Buffer
	stderr bytes.Buffer
	// dead is a node whose disk outputs are never performed.
	dead    consensus.NodeID
	latency map[consensus.NodeID]time.Duration
	// clock is the time of the last seal the rig committed with one.
	clock int64
}

func newDiskRig(t *testing.T, guestPath string, argv []string, paths []entry.DiskPath) *diskRig {
	guest := readGuest(t, guestPath)
	r := &diskRig{t: t, images: map[string][]byte{}}
	for _, p := range paths {
		if r.images[p.Disk] == nil {
			r.images[p.Disk] = make([]byte, p.Size)
		}
	}
	r.rep = New(Config{Self: 3, Guest: guest, ExePath: "/" + argv[0]})
	r.commit(entry.Boot{GuestDigest: GuestDigest(guest), Argv: argv,
		EpochInstructions: 200_000, NanosPerInstruction: 10, Members: []consensus.NodeID{1, 2, 3}, Disks: paths})
	r.commit(entry.Random{Node: 1, Data: make([]byte, randomBatch)})
	return r
}

func (r *diskRig) commit(e entry.Entry) {
	r.index++
	r.rep.CommitEntry(r.index, e)
}

// run steps the replica until it waits with nothing left to do, at most
// limit times.
func (r *diskRig) run(limit int) {
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

func (r *diskRig) perform(o outputs.Output) {
	switch a := o.Action.(type) {
	case outputs.Console:
		map[int]*bytes.Buffer{1: &r.stdout, 2: &r.stderr}[a.Stream].Write(a.Data)
	case outputs.DiskWrite:
		if o.Node == r.dead {
			return
		}
		copy(r.images[a.Disk][a.Offset:], a.Data)
		r.commit(entry.Completion{Node: o.Node, Seq: o.Seq, N: uint64(len(a.Data))})
		if d := r.latency[o.Node]; d > 0 {
			r.clock += int64(d)
			info := r.rep.SealInfo()
			r.commit(entry.Seal{Through: max(info.Epoch, info.Highest+1), Time: r.clock})
		}
	case outputs.DiskRead:
		if o.Node == r.dead {
			return
		}
		r.commit(entry.Completion{Node: o.Node, Seq: o.Seq, Data: r.images[a.Disk][a.Offset : a.Offset+int64(a.Length)]})
	}
}

// The journal guest writes through node 1's path; when node 1 dies with
// a write outstanding and is declared down, the write completes as
// uncertain, the guest's multipath library reissues it through node 2,
// and every record lands exactly where it belongs.
func TestJournalGuestFailsOverBetweenPaths(t *testing.T) {
	const records = 20
	r := newDiskRig(t, journalGuest, []string{"journal", "j", fmt.Sprint(records)},
		[]entry.DiskPath{{Disk: "j", Node: 1, Size: rigDiskSize}, {Disk: "j", Node: 2, Size: rigDiskSize}})
	for range 10_000 {
		if bytes.Contains(r.stdout.Bytes(), []byte("ack 7\n")) {
			break
		}
		r.run(1)
	}
	r.dead = 1
	r.run(100)
	assert.Contains(t, r.rep.Owed(1).Disk[0].Action.String(), "disk j", "node 1 holds a write it will never answer")
	oldest, owes := r.rep.OldestOwedDisk(1)
	require.True(t, owes)
	assert.Equal(t, r.rep.Owed(1).Disk[0].Seq, oldest, "the oldest output node 1 owes, as Owed lists them")
	_, owes = r.rep.OldestOwedDisk(2)
	assert.False(t, owes, "node 2's path carries nothing")
	r.commit(entry.NodeDown{Node: 1})
	r.run(10_000)

	require.Contains(t, r.stdout.String(), fmt.Sprintf("journal: %d records written, 1 failovers", records), "stderr: %s", r.stderr.String())
	assert.Contains(t, r.stderr.String(), "multipath: j through node 1 failed (Input/output error); now through node 2")
	assertJournal(t, r.images["j"], records)
}

// assertJournal checks that image holds the journal's header counting
// records, and every record in its place.
func assertJournal(t *testing.T, image []byte, records int) {
	t.Helper()
	assert.Equal(t, "JRNL", string(image[:4]))
	assert.Equal(t, uint32(records), binary.BigEndian.Uint32(image[4:8]))
	for i := range records {
		rec := image[4096+64*i : 4096+64*(i+1)]
		assert.Equal(t, fmt.Sprintf("record %d", i), string(bytes.TrimRight(rec, " \n")), "record %d", i)
	}
}

// The journal guest's multipath library moves off a path whose I/O
// takes far longer than a healthy one's, as a faulty member of a
// Byzantine cluster can make the path it serves: node 1 answers every
// write, but each takes a second of guest time, and after two (the
// first on a path is not judged) the guest goes on through node 2,
// which takes a millisecond, and stays there. Every write completed, so
// none is sent again.
func TestJournalGuestLeavesASlowPath(t *testing.T) {
	const records = 20
	r := newDiskRig(t, journalGuest, []string{"journal", "j", fmt.Sprint(records)},
		[]entry.DiskPath{{Disk: "j", Node: 1, Size: rigDiskSize}, {Disk: "j", Node: 2, Size: rigDiskSize}})
	r.latency = map[consensus.NodeID]time.Duration{1: time.Second, 2: time.Millisecond}
	r.run(10_000)

	require.Contains(t, r.stdout.String(), fmt.Sprintf("journal: %d records written, 0 failovers, 1 slow paths left", records), "stderr: %s", r.stderr.String())
	assert.Regexp(t, `^multipath: j through node 1 is slow \(\d+ ms an I/O\); now through node 2\n$`, r.stderr.String())
	assertJournal(t, r.images["j"], records)
}

// When every path is slow, moving on does not help: the library leaves a
// path it found slow alone for 10 s of guest time, and stays where it is
// while every other path is marked, so it moves into each path at most
// once in 10 s. Three paths of a second an I/O, 40 I/Os: 40 s, so at
// most 3 * (40/10 + 1) moves where a library that moved after every
// slow I/O would make 40.
func TestJournalGuestDoesNotFlapBetweenSlowPaths(t *testing.T) {
	const records = 20
	r := newDiskRig(t, journalGuest, []string{"journal", "j", fmt.Sprint(records)},
		[]entry.DiskPath{{Disk: "j", Node: 1, Size: rigDiskSize}, {Disk: "j", Node: 2, Size: rigDiskSize}, {Disk: "j", Node: 3, Size: rigDiskSize}})
	r.latency = map[consensus.NodeID]time.Duration{1: time.Second, 2: time.Second, 3: time.Second}
	r.run(10_000)

	require.Contains(t, r.stdout.String(), fmt.Sprintf("journal: %d records written, 0 failovers", records), "stderr: %s", r.stderr.String())
	moves := strings.Count(r.stderr.String(), " is slow (")
	assert.Positive(t, moves, "the first slow path was left")
	assert.LessOrEqual(t, moves, 3*(40/10+1), "stderr: %s", r.stderr.String())
	assertJournal(t, r.images["j"], records)
}

// runUntil steps until stdout holds want, at most limit steps.
func (r *diskRig) runUntil(want string, limit int) {
	r.t.Helper()
	for range limit {
		if bytes.Contains(r.stdout.Bytes(), []byte(want)) {
			return
		}
		r.run(1)
	}
	r.t.Fatalf("%q never came; stdout:\n%s\nstderr:\n%s", want, r.stdout.String(), r.stderr.String())
}

// The raid guest mirrors over three node-local disks. Node 2 dies and is
// declared down: the mirror runs degraded on the other two. When node 2
// is up again with its disk as it left it, the mirror copies what it
// missed, and all three disks end equal.
func TestRaidGuestRunsDegradedAndResynchronises(t *testing.T) {
	const records = 40
	var paths []entry.DiskPath
	var argv = []string{"raid", fmt.Sprint(records), "0"}
	for n := consensus.NodeID(1); n <= 3; n++ {
		p := entry.DiskPath{Disk: fmt.Sprintf("local-%d", n), Node: n, Size: rigDiskSize}
		paths = append(paths, p)
		argv = append(argv, p.Name())
	}
	r := newDiskRig(t, raidGuest, argv, paths)
	r.runUntil("ack 9\n", 10_000)
	r.dead = 2
	r.run(100)
	r.commit(entry.NodeDown{Node: 2})
	r.runUntil("ack 19\n", 10_000)
	assert.Contains(t, r.stderr.String(), "raid1: local-2.2 failed (Input/output error); running degraded")

	r.dead = 0
	r.commit(entry.NodeUp{Node: 2})
	r.runUntil("mirrors", 100_000)
	assert.Contains(t, r.stdout.String(), fmt.Sprintf("raid: %d records, 1 disk failures, 1 resyncs; mirrors in sync", records))
	assert.Contains(t, r.stderr.String(), "raid1: local-2.2 back and resynchronised")
	for n := 2; n <= 3; n++ {
		assert.Equal(t, r.images["local-1"], r.images[fmt.Sprintf("local-%d", n)], "disk of node %d", n)
	}
	for i := range records {
		rec := r.images["local-2"][64*i : 64*(i+1)]
		assert.Equal(t, fmt.Sprintf("record %d", i), string(bytes.TrimRight(rec, " \n")), "record %d on the returned disk", i)
	}
}
