package replica

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/machine/canon"
	"github.com/synodvm/synod/machine/canon/canontest"
	"github.com/synodvm/synod/machine/linux"
	"github.com/synodvm/synod/machine/linux/fstree"
)

// A snapshot restores into a fresh replica that has exactly the state of
// the original; bad snapshots are refused with an error.
func TestSnapshotRoundTrip(t *testing.T) {
	guest := readGuest(t, kvdGuest)
	s := newSim(t, 3, guest)
	s.listening(6379)
	s.request(s.nodes[0], 6379, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", "+OK")

	orig := s.nodes[1].rep
	orig.Outputs()
	snap, index, err := orig.Snapshot()
	require.NoError(t, err)
	given := s.nodes[1].given
	require.Equal(t, given[len(given)-1].Index, index, "a snapshot covers every entry given")

	restored := New(Config{Self: 2, Guest: guest, ExePath: "/kvd"})
	require.NoError(t, restored.Restore(snap))
	want := orig.stateHash()
	got := restored.stateHash()
	require.Equal(t, want, got)
	require.Equal(t, orig.Status().Epoch, restored.Status().Epoch)
	require.Equal(t, orig.ListenPorts(), restored.ListenPorts())

	for name, bad := range map[string][]byte{
		"empty":     nil,
		"garbage":   []byte("not a snapshot at all"),
		"truncated": snap[:len(snap)/2],
	} {
		require.Error(t, New(Config{Self: 2, Guest: guest}).Restore(bad), name)
	}
	require.ErrorContains(t, New(Config{Self: 2, Guest: []byte("another guest")}).Restore(snap), "guest")
}

// A frozen replica encodes the state it had when frozen, though the
// cluster went on serving requests and the guest wrote its memory since.
func TestFrozenSnapshotIsTheInstantItWasTaken(t *testing.T) {
	guest := readGuest(t, kvdGuest)
	s := newSim(t, 3, guest)
	s.listening(6379)
	s.request(s.nodes[0], 6379, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", "+OK")

	orig := s.nodes[1].rep
	orig.Outputs()
	want := orig.stateHash()
	frozen, err := orig.Freeze()
	require.NoError(t, err)
	given := s.nodes[1].given
	require.Equal(t, given[len(given)-1].Index, frozen.Index)

	s.request(s.nodes[0], 6379, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nlater\r\n", "+OK")
	now := orig.stateHash()
	require.NotEqual(t, want.Hash, now.Hash, "the replica moved on")

	restored := New(Config{Self: 2, Guest: guest, ExePath: "/kvd"})
	require.NoError(t, restored.Restore(frozen.Encode()))
	got := restored.stateHash()
	require.Equal(t, want.Parts, got.Parts)
}

// A restored replica snapshots to the same bytes as the one it was
// restored from, at each point of a run: restoring loses nothing that a
// snapshot records, and adds nothing.
func TestRestoredReplicaSnapshotsIdentically(t *testing.T) {
	guest := readGuest(t, kvdGuest)
	s := newSim(t, 3, guest)
	check := func(when string) {
		orig := s.nodes[1].rep
		orig.Outputs()
		snap, _, err := orig.Snapshot()
		require.NoError(t, err)
		restored := New(Config{Self: 2, Guest: guest, ExePath: "/kvd"})
		require.NoError(t, restored.Restore(snap), when)
		again, _, err := restored.Snapshot()
		require.NoError(t, err)
		require.True(t, bytes.Equal(snap, again), when)
	}
	s.listening(6379)
	check("listening")
	s.request(s.nodes[0], 6379, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", "+OK")
	check("after a SET")
}

// A Byzantine engine's checkpoint compares the replicas' snapshots byte
// for byte. Taken at rest (Step waits for the log), a snapshot depends on
// the entries given alone: not on the node that took it, not on how the
// entries arrived and how far the guest ran meanwhile, and not on whether
// the replica was restored on the way.
func TestSnapshotsAtRestAreTheSameEverywhere(t *testing.T) {
	guest := readGuest(t, kvdGuest)
	s := newSim(t, 3, guest)
	s.listening(6379)
	s.request(s.nodes[0], 6379, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", "+OK")
	s.request(s.nodes[1], 6379, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "v")
	given := s.nodes[0].given
	last := given[len(given)-1].Index
	replica := func(self consensus.NodeID) *Replica {
		return New(Config{Self: self, Guest: guest, ExePath: "/kvd", Logger: s.nodes[0].rep.log})
	}
	rest := func(r *Replica) {
		for i := 0; i < 10_000 && r.Step() == Ran; i++ {
		}
		r.Outputs()
	}
	snapshotAtRest := func(r *Replica, index uint64) []byte {
		rest(r)
		snap, at, err := r.Snapshot()
		require.NoError(t, err)
		require.Equal(t, index, at)
		return snap
	}

	allAtOnce := replica(1)
	for _, e := range given {
		allAtOnce.Commit(e.Index, e.Data)
	}
	want := snapshotAtRest(allAtOnce, last)

	oneByOne := replica(2)
	restored := 0
	for i, e := range given {
		oneByOne.Commit(e.Index, e.Data)
		rest(oneByOne)
		if len(oneByOne.pending) == 0 || restored == 3 || !oneByOne.Status().Booted {
			continue
		}
		// Entries wait for a seal here: restored from this snapshot,
		// another replica ends in the same state.
		restored++
		again := replica(3)
		require.NoError(t, again.Restore(snapshotAtRest(oneByOne, e.Index)))
		for _, later := range given[i+1:] {
			again.Commit(later.Index, later.Data)
		}
		require.Equal(t, want, snapshotAtRest(again, last), "restored at index %d", e.Index)
	}
	require.Positive(t, restored, "no snapshot was taken with entries waiting for a seal")
	require.Equal(t, want, snapshotAtRest(oneByOne, last))
}

// SnapshotClock reads the guest's clock out of a snapshot as the
// replica itself tells it.
func TestSnapshotClock(t *testing.T) {
	r := servingReplica(t)
	snap, _, err := r.Snapshot()
	require.NoError(t, err)
	instructions := r.Status().Instructions + 1000
	clock, err := SnapshotClock(snap, instructions)
	require.NoError(t, err)
	require.Equal(t, r.world.Clock(instructions), clock)
	_, err = SnapshotClock(snap[:len(snap)/2], 0)
	require.Error(t, err)
	_, err = SnapshotClock([]byte("something else"), 0)
	require.ErrorContains(t, err, "bad magic")
}

// filledWorldState is a world state with every field, and every field of
// every element, non-zero, consistent enough for restore to take: its
// objects name its connection and device file.
func filledWorldState() *worldState {
	conn := entry.ConnID{Node: 1, Serial: 7}
	object := func(h linux.Handle, kind objectKind) objectState {
		return objectState{Handle: h, Kind: kind, Port: 6379, Backlog: []entry.ConnID{{Node: 2, Serial: 3}}, Limit: 8, Conn: conn}
	}
	files := fstree.New()
	file, errno := files.Open("/notes", linux.O_CREAT|linux.O_RDWR, 0o644, 1e18)
	if errno != 0 {
		panic(errno)
	}
	if _, errno := files.Write(file, []byte("kept"), 1e18); errno != 0 {
		panic(errno)
	}
	return &worldState{
		NanosPerInstruction: 10, BootTime: 1e18, TimeBase: 1e18 + 5, TimeInstr: 1e6,
		Members: []consensus.NodeID{1, 2, 3}, Down: []consensus.NodeID{2},
		Pool: []byte{1, 2, 3}, RefillNode: 3, RefillCount: randomBatch, RandomContributors: 2,
		Draw: &randomDraw{Round: 7, Started: 1e18 + 2, Revealing: true, Contributors: []contribution{
			{Node: 1, Committed: true, Hash: [32]byte{1}, Revealed: true, Batch: []byte("drawn")},
			{Node: 3, Committed: true, Hash: [32]byte{3}, Revealed: true, Batch: []byte("also")},
		}},
		PassedOver: []consensus.NodeID{2}, NextHandle: 9,
		Objects: []objectState{object(4, kindListener), object(5, kindConn), object(6, kindDisk), object(7, kindFile)},
		Conns: []connState{{ID: conn, Port: 6379, Peer: netip.MustParseAddrPort("10.0.0.1:5555"), In: []byte("GET"),
			NextOffset: 3, PeerClosed: true, GuestShut: true}},
		ConnSerials:   []nodeSerial{{Node: 2, Serial: 77}},
		NextEphemeral: firstEphemeral + 1,
		Console:       []consoleRecord{{Seq: 4, Node: 1, Stream: 2, Data: []byte("hi")}},
		Seq:           9,
		DiskPaths:     []entry.DiskPath{{Disk: "d", Node: 1, Size: 1 << 20}},
		DiskHandles: []diskHandleState{{Handle: 6, Path: "d.1", Writable: true, Pos: 512,
			IO: &diskIOState{Seq: 8, Write: true, Offset: 4096, Length: 3, Data: []byte("abc"), Done: true, Errno: linux.EIO, N: 3}}},
		Stdin:     consoleInput{Fed: true, Buf: []byte("typed"), Next: 5, EOF: true},
		Files:     files,
		OpenFiles: []openFileState{{Handle: 7, File: *file}},
	}
}

// TestWorldStateRestoresEveryField: a world state with every field set
// encodes and decodes to itself, and a world restored from it has exactly
// that state. A field added to the state and not to the codec, restore
// or state() fails here (and one not filled in filledWorldState too).
func TestWorldStateRestoresEveryField(t *testing.T) {
	s := filledWorldState()
	canontest.RoundTrip(t, s, codeWorldState)
	w, err := s.restore()
	require.NoError(t, err)
	require.Equal(t, s, w.state())
	require.Equal(t, linux.Handle(4), w.listeners[6379])
}

// TestHeaderRestoresEveryField: the same for the replica's bookkeeping.
func TestHeaderRestoresEveryField(t *testing.T) {
	vote := func(node consensus.NodeID, epoch uint64) entry.StateHash {
		return entry.StateHash{Node: node, Epoch: epoch, Hash: [32]byte{byte(node), byte(epoch)}, Parts: [][32]byte{{1}, {2}, {3}}}
	}
	h := header{
		Boot: entry.Boot{GuestDigest: [32]byte{1}, Argv: []string{"/kvd"}, Envp: []string{"HOME=/"}, AuxRandom: [16]byte{2},
			Time: 1e18, EpochInstructions: 1e6, NanosPerInstruction: 10, HashEvery: 4, Members: []consensus.NodeID{1, 2, 3},
			MemoryLimit: 1 << 30, Disks: []entry.DiskPath{{Disk: "d", Node: 1, Size: 1 << 20}}, ConsoleInput: true, MaxProcesses: 64, RootDigest: [32]byte{3}, RandomContributors: 2},
		Epoch: 12, Ran: 500, Ended: true,
		Wait:      linux.WaitSet{Deadline: 7e9, HasDeadline: true, Handles: []linux.PollRequest{{Handle: 5, Events: 1}}, Random: true},
		Delivered: 40, SealedThrough: 11,
		Pending: []pendingEntry{{Index: 41, Entry: entry.NodeUp{Node: 3}}, {Index: 42, Entry: entry.Seal{Through: 12, Time: 1e18}}},
		Own:     map[uint64]entry.StateHash{8: vote(2, 8), 4: vote(2, 4)},
		Votes: map[uint64]map[consensus.NodeID]entry.StateHash{
			8: {1: vote(1, 8), 3: vote(3, 8)}, 4: {2: vote(2, 4)},
		},
		LastEpoch: 8, LastHash: [32]byte{2, 8}, LastHashTime: 1e18 + 9,
	}
	canontest.RoundTrip(t, &h, codeHeader)
	r := New(Config{Self: 2})
	r.setHeader(h)
	require.Equal(t, h, r.header())

	// A pending entry that did not decode stays one.
	h.Pending = append(h.Pending, pendingEntry{Index: 43})
	enc := canon.NewEncoder(nil)
	codeHeader(enc, &h)
	var decoded header
	dec := canon.NewDecoder(enc.Bytes())
	codeHeader(dec, &decoded)
	require.NoError(t, dec.Finish())
	require.Equal(t, h.Pending, decoded.Pending)
}

// FuzzDecodeWorld: decoding any bytes as a world returns a world or an
// error, and never panics; a world decoded encodes to the bytes it came
// from.
func FuzzDecodeWorld(f *testing.F) {
	enc := canon.NewEncoder(nil)
	codeWorldState(enc, filledWorldState())
	f.Add(enc.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		if w, err := decodeWorld(b); err == nil {
			require.Equal(t, b, w.encode())
		}
	})
}

// FuzzDecodeHeader: the same for the header, short of restoring it.
func FuzzDecodeHeader(f *testing.F) {
	r := servingReplica(f)
	h := r.header()
	enc := canon.NewEncoder(nil)
	codeHeader(enc, &h)
	f.Add(enc.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		var h header
		dec := canon.NewDecoder(b)
		codeHeader(dec, &h)
		if dec.Finish() == nil {
			again := canon.NewEncoder(nil)
			codeHeader(again, &h)
			require.Equal(t, b, again.Bytes())
		}
	})
}

// servingReplica is a replica of a three-node cluster whose kvd guest has
// served a SET.
func servingReplica(tb testing.TB) *Replica {
	tb.Helper()
	s := newSim(tb, 3, readGuest(tb, kvdGuest))
	s.listening(6379)
	s.request(s.nodes[0], 6379, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", "+OK")
	rep := s.nodes[1].rep
	rep.Outputs()
	return rep
}

func BenchmarkWorldEncode(b *testing.B) {
	w := servingReplica(b).world
	for b.Loop() {
		w.encode()
	}
}

func BenchmarkWorldDecode(b *testing.B) {
	enc := servingReplica(b).world.encode()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := decodeWorld(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStateHash is the whole state hash a replica computes at every
// checkpoint: threads and kernel, memory (its page hashes cached), world.
func BenchmarkStateHash(b *testing.B) {
	r := servingReplica(b)
	for b.Loop() {
		r.stateHash()
	}
}

// TestOperatorCountsAreNotState: what a replica counts for operators
// (input bytes, random batches, agreed hashes) is its own, not replicated
// state: it changes neither the snapshot nor the state hash, and a
// restore keeps the counts of the replica restored into.
func TestOperatorCountsAreNotState(t *testing.T) {
	r := servingReplica(t)
	s := r.Status()
	require.Positive(t, s.InputBytes, "the SET's bytes")
	require.Positive(t, s.RandomBatches, "the batch asked for at boot")

	snap, _, err := r.Snapshot()
	require.NoError(t, err)
	hash := r.stateHash()
	r.world.counts = deliveryCounts{inputBytes: 5, randomBatches: 6}
	r.checks.agreed = 7
	again, _, err := r.Snapshot()
	require.NoError(t, err)
	require.Equal(t, snap, again)
	require.Equal(t, hash, r.stateHash())

	require.NoError(t, r.Restore(snap))
	s = r.Status()
	require.Equal(t, [3]uint64{5, 6, 7}, [3]uint64{s.InputBytes, s.RandomBatches, s.HashesAgreed})
}

// A replica whose guest exits comes to rest with every entry it was
// given delivered, as it does after any later call: at rest, its
// snapshot depends on the entries given alone. The call in which the
// guest exited left the entries given for later epochs queued, and the
// next call delivered them, so a Byzantine checkpoint taken right after
// the exit differed from one taken a call later. A cluster whose members
// all restarted then could not rebuild its last stable checkpoint by
// re-executing (simulator seed 172040: every member fetched it from its
// signers, and none had it).
func TestAnExitedGuestWaitsForNoEntry(t *testing.T) {
	guest := readGuest(t, primesGuest)
	r := New(Config{Self: 1, Guest: guest, ExePath: "/primes"})
	r.CommitEntry(1, entry.Boot{GuestDigest: GuestDigest(guest), Argv: []string{"primes", "3000"},
		EpochInstructions: 997, NanosPerInstruction: 334_336, HashEvery: 23, Members: []consensus.NodeID{1}})
	r.CommitEntry(2, entry.Seal{Through: 1 << 40})
	r.CommitEntry(3, entry.Seal{Through: 1<<40 + 1})
	r.CommitEntry(4, entry.ConsoleDone{Node: 1, Seq: 1})
	progress := Ran
	for i := 0; i < 100_000 && progress == Ran; i++ {
		progress = r.StepEpochs(64)
	}
	require.Equal(t, Exited, progress)
	r.Outputs()
	atExit, at, err := r.Snapshot()
	require.NoError(t, err)
	require.Equal(t, uint64(4), at)
	require.Equal(t, uint64(4), r.Status().Delivered, "entries given before the exit are delivered at it")

	require.Equal(t, Exited, r.StepEpochs(64))
	again, _, err := r.Snapshot()
	require.NoError(t, err)
	require.Equal(t, atExit, again, "a call after the exit changes nothing")
}
