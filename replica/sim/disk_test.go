package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/synodvm/synod/consensus/raftlog"
)

// testDisk is the disk of node 1 of a bare simulation, for the store's
// own tests: its process is a stand-in, and its faults are those a test
// arms.
func testDisk(seed uint64) *disk {
	s := &Sim{
		rng:   rand.New(rand.NewPCG(seed, seed)),
		trace: newTrace(10, nil),
		plan:  plan{diskDownFor: time.Second},
	}
	n := &node{id: 1, sim: s, p: &process{}}
	s.nodes = []*node{n}
	n.disk = newDisk(n, false)
	return n.disk
}

// reopen is a restart of the node: the process's store is dropped and the
// disk opened again.
func reopen(t *testing.T, d *disk) *diskStore {
	t.Helper()
	d.close()
	d.n.p = &process{}
	st, err := d.open()
	require.NoError(t, err)
	return st
}

// storeWithSnapshot is the store of a fresh disk after the log's first
// ten entries and a snapshot at 8, compacted to 4.
func storeWithSnapshot(t *testing.T, seed uint64) (*disk, *diskStore) {
	t.Helper()
	d := testDisk(seed)
	st := reopen(t, d)
	require.NoError(t, st.Save(hardState(1, 8), entries(1, 11, 1), nil))
	require.NoError(t, st.SaveSnapshot(snapshotAt(8, 1, "the state at 8, long enough to flip a bit in"), 4))
	return d, st
}

func entries(lo, hi, term uint64) []*pb.Entry {
	var out []*pb.Entry
	for i := lo; i < hi; i++ {
		out = append(out, &pb.Entry{Index: new(i), Term: new(term), Data: fmt.Appendf(nil, "entry %d", i)})
	}
	return out
}

func hardState(term, commit uint64) *pb.HardState {
	return &pb.HardState{Term: new(term), Vote: new(uint64(1)), Commit: new(commit)}
}

func snapshotAt(index, term uint64, data string) *pb.Snapshot {
	return &pb.Snapshot{Data: []byte(data), Metadata: &pb.SnapshotMetadata{
		Index: new(index), Term: new(term), ConfState: &pb.ConfState{Voters: []uint64{1, 2, 3}},
	}}
}

// contents is what raft can read of a store.
type contents struct {
	first, last uint64
	hs          *pb.HardState
	cs          *pb.ConfState
	snap        *pb.Snapshot
	entries     []*pb.Entry
	terms       []uint64
}

func read(t *testing.T, st raft.Storage) contents {
	t.Helper()
	var c contents
	var err error
	c.first, err = st.FirstIndex()
	require.NoError(t, err)
	c.last, err = st.LastIndex()
	require.NoError(t, err)
	c.hs, c.cs, err = st.InitialState()
	require.NoError(t, err)
	c.snap, err = st.Snapshot()
	require.NoError(t, err)
	if c.last >= c.first {
		c.entries, err = st.Entries(c.first, c.last+1, 1<<30)
		require.NoError(t, err)
	}
	for i := c.first - 1; i <= c.last; i++ {
		term, err := st.Term(i)
		require.NoError(t, err)
		c.terms = append(c.terms, term)
	}
	return c
}

func assertSameContents(t *testing.T, want, got contents, msgAndArgs ...any) {
	t.Helper()
	assert.Equal(t, want.first, got.first, msgAndArgs...)
	assert.Equal(t, want.last, got.last, msgAndArgs...)
	assert.Equal(t, want.terms, got.terms, msgAndArgs...)
	assert.True(t, proto.Equal(want.hs, got.hs), "hard state %v, want %v %v", got.hs, want.hs, msgAndArgs)
	assert.True(t, proto.Equal(want.cs, got.cs), "conf state %v, want %v %v", got.cs, want.cs, msgAndArgs)
	assert.True(t, proto.Equal(want.snap, got.snap), "snapshot %v, want %v %v", got.snap.GetMetadata(), want.snap.GetMetadata(), msgAndArgs)
	require.Len(t, got.entries, len(want.entries), msgAndArgs...)
	for i := range want.entries {
		assert.True(t, proto.Equal(want.entries[i], got.entries[i]), "entry %d %v %v", i, got.entries[i], msgAndArgs)
	}
}

// TestDiskStoreMatchesMemStore: the disk store reads back what the
// simulator's former store, raftlog.MemStore (raft's MemoryStorage), does
// after the same writes in the order the raft core makes them, and again
// after every reopen.
func TestDiskStoreMatchesMemStore(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		d := testDisk(seed)
		st := reopen(t, d)
		mem := raftlog.NewMemStore()
		var term, last, snapIndex, commit uint64 = 1, 0, 0, 0
		for op := range 200 {
			switch {
			case op%50 == 49:
				st = reopen(t, d)
			case rng.IntN(10) == 0 && commit > snapIndex:
				// A snapshot of this node's own applied state.
				index := snapIndex + 1 + rng.Uint64N(commit-snapIndex)
				compactTo := index - rng.Uint64N(index-snapIndex+1)
				snapTerm, err := mem.Term(index)
				require.NoError(t, err)
				snap := snapshotAt(index, snapTerm, fmt.Sprintf("state at %d", index))
				require.NoError(t, mem.SaveSnapshot(snap, compactTo))
				require.NoError(t, st.SaveSnapshot(snap, compactTo))
				snapIndex = index
			case rng.IntN(20) == 0:
				// A leader's snapshot, ahead of the log.
				term++
				last += 1 + rng.Uint64N(20)
				commit, snapIndex = last, last
				snap := snapshotAt(last, term, fmt.Sprintf("leader's state at %d", last))
				hs := hardState(term, commit)
				require.NoError(t, mem.Save(hs, nil, snap))
				require.NoError(t, st.Save(hs, nil, snap))
			default:
				// Entries, some replacing an uncommitted tail.
				from := last + 1
				if rng.IntN(5) == 0 && last > commit {
					from = commit + 1 + rng.Uint64N(last-commit)
					term++
				}
				last = from + rng.Uint64N(5)
				commit = max(commit, min(last, commit+rng.Uint64N(4)))
				hs := hardState(term, commit)
				es := entries(from, last+1, term)
				require.NoError(t, mem.Save(hs, es, nil))
				require.NoError(t, st.Save(hs, es, nil))
			}
			assertSameContents(t, read(t, mem), read(t, st), "seed %d, op %d", seed, op)
		}
	}
}

// TestDiskStoreLosesAWriteItDiesIn: a process that dies inside a write
// leaves the disk as the last synced write left it; a snapshot file it was
// writing is an orphan the next open removes, whether torn or whole.
func TestDiskStoreLosesAWriteItDiesIn(t *testing.T) {
	fates := map[writeFate]bool{}
	for seed := range uint64(16) {
		d, st := storeWithSnapshot(t, seed)
		before := read(t, st)

		d.crashNextWrite = true
		err := st.Save(hardState(2, 12), entries(13, 15, 2), snapshotAt(12, 2, "leader's state at 12"))
		require.ErrorIs(t, err, errDiskFault)
		assert.NotEmpty(t, d.n.p.failed, "the process dies")
		require.ErrorIs(t, st.Save(hardState(2, 12), entries(11, 13, 2), nil), errDiskFault, "nothing of a dead process reaches the disk")
		counts := d.n.sim.counts
		assert.Equal(t, uint64(1), counts.WriteCrashes)
		assert.Equal(t, uint64(1), counts.InstallCrashes)
		fates[map[uint64]writeFate{0: diesBeforeSync, 1: diesInFile}[counts.TornSnapshots]] = true
		assert.Len(t, d.files, 2, "the snapshot's file and the orphan")

		st = reopen(t, d)
		assertSameContents(t, before, read(t, st))
		assert.Len(t, d.files, 1, "the orphan is removed")
	}
	assert.Len(t, fates, 2, "the process died both inside the snapshot file and after it")
}

// TestDiskStoreFailedWrites: a write whose fsync fails may or may not be
// on the disk; a write to a full disk is not. Both are errors the raft
// core stops on.
func TestDiskStoreFailedWrites(t *testing.T) {
	outcomes := map[uint64]bool{}
	for seed := range uint64(16) {
		d := testDisk(seed)
		st := reopen(t, d)
		require.NoError(t, st.Save(hardState(1, 3), entries(1, 4, 1), nil))
		d.failNextWrite = true
		err := st.Save(hardState(1, 3), entries(4, 6, 1), nil)
		require.ErrorIs(t, err, errDiskFault)
		require.ErrorIs(t, err, syscall.EIO)
		assert.NotEmpty(t, st.unstopped, "the raft core must stop on it")
		last, _ := reopen(t, d).LastIndex()
		assert.Contains(t, []uint64{3, 5}, last)
		outcomes[last] = true
	}
	assert.Len(t, outcomes, 2, "a failed fsync's write is sometimes on the disk, sometimes not")

	d := testDisk(1)
	st := reopen(t, d)
	require.NoError(t, st.Save(hardState(1, 3), entries(1, 4, 1), nil))
	d.fullUntil = time.Second
	require.ErrorIs(t, st.Save(hardState(1, 3), entries(4, 6, 1), nil), syscall.ENOSPC)
	require.ErrorIs(t, st.SaveSnapshot(snapshotAt(2, 1, "state at 2"), 1), syscall.ENOSPC)
	require.ErrorIs(t, st.SetCaughtUp(1), syscall.ENOSPC)
	d.fullUntil = 0
	st = reopen(t, d)
	last, _ := st.LastIndex()
	assert.Equal(t, uint64(3), last, "nothing of a write to a full disk is on it")
	require.NoError(t, st.SaveSnapshot(snapshotAt(2, 1, "state at 2"), 1), "once there is room again, writes succeed")
}

// TestDiskStoreRefusesFlippedBits: a bit flipped anywhere the store reads
// (an entry, the metadata, the snapshot's data) makes the next start
// refuse the store, through the checksums.
func TestDiskStoreRefusesFlippedBits(t *testing.T) {
	flipped := map[string]bool{}
	for seed := range uint64(200) {
		d, _ := storeWithSnapshot(t, seed)
		d.close()
		what, ok := d.flipBit(d.n.sim)
		require.True(t, ok)
		flipped[kindOfFlip(what)] = true
		require.ErrorIs(t, startStore(d), raftlog.ErrCorruptStore, "seed %d: a bit flipped in the %s", seed, what)
	}
	assert.Len(t, flipped, 3, "bits flipped in entries, metadata and snapshot data: %v", flipped)
	_, ok := testDisk(1).flipBit(testDisk(1).n.sim)
	assert.False(t, ok, "an empty store has nothing to flip")
}

func kindOfFlip(what string) string {
	for _, kind := range []string{"log entry", "snapshot data file"} {
		if len(what) >= len(kind) && what[:len(kind)] == kind {
			return kind
		}
	}
	return "metadata"
}

// startStore does what a start does with the store: open it, and read the
// snapshot as the raft core does first.
func startStore(d *disk) error {
	st, err := d.open()
	if err == nil {
		_, err = st.Snapshot()
	}
	return err
}

// TestDiskStoreRefusesTornSnapshotFile: the snapshot's data file is
// checked against the size and checksum its record holds, so a file torn
// after the store pointed to it (which the real store's order of writes
// prevents) is refused rather than restored.
func TestDiskStoreRefusesTornSnapshotFile(t *testing.T) {
	for name, tear := range map[string]func([]byte) []byte{
		"cut short":     func(b []byte) []byte { return b[:len(b)/2] },
		"tail unsynced": func(b []byte) []byte { return append(b[:len(b)/2:len(b)/2], make([]byte, len(b)-len(b)/2)...) },
	} {
		t.Run(name, func(t *testing.T) {
			d, _ := storeWithSnapshot(t, 1)
			d.close()
			for file, data := range d.files {
				d.files[file] = tear(slices.Clone(data))
			}
			require.ErrorIs(t, startStore(d), raftlog.ErrCorruptStore)
		})
	}
}

// TestDiskStoreRejoin: a store made to replace a lost one says so until
// the node has caught up, durably.
func TestDiskStoreRejoin(t *testing.T) {
	d := testDisk(1)
	d.rejoining = true
	st := reopen(t, d)
	rejoining, _ := st.Rejoin()
	assert.True(t, rejoining)
	require.NoError(t, st.SetCaughtUp(7))
	rejoining, floor := reopen(t, d).Rejoin()
	assert.False(t, rejoining)
	assert.Equal(t, uint64(7), floor)
}

// bootedSim is a run of seed without faults, stepped until its guest
// serves on every node.
func bootedSim(t *testing.T, seed uint64) *Sim {
	t.Helper()
	opts := guests(t)
	opts.Seed = seed
	s, err := newSim(opts)
	require.NoError(t, err)
	for range 10_000 {
		s.step()
		if !slices.ContainsFunc(s.nodes, func(n *node) bool { return !n.up() || n.p.rt == nil || !n.p.rep.Status().Booted }) && s.now > 2*time.Second {
			return s
		}
	}
	t.Fatalf("seed %d did not boot", seed)
	return nil
}

// TestSimRefusesDamagedStore: a node whose store had a bit flipped while
// it was down refuses to start; the operator replaces the store once no
// other node is rejoining, and the node rejoins. A start that accepted a
// damaged store would be a violation.
func TestSimRefusesDamagedStore(t *testing.T) {
	s := bootedSim(t, 3)
	s.plan.replaceAfter = time.Second
	n, other := s.nodes[1], s.nodes[2]
	n.crash("test")
	_, ok := n.disk.flipBit(s)
	require.True(t, ok)
	s.restart(n)
	require.Empty(t, s.violations)
	require.False(t, n.up(), "the damaged store is refused")
	require.True(t, n.disk.refused)

	other.disk.rejoining = true
	s.now = n.disk.replaceAt
	s.restart(n)
	assert.False(t, n.up(), "the operator waits while another node rejoins")
	assert.True(t, n.disk.waiting)

	other.disk.rejoining = false
	s.restart(n)
	require.True(t, n.up(), "the operator replaced the store")
	assert.True(t, n.disk.rejoining)
	assert.Equal(t, uint64(1), s.counts.StoresReplaced)
	assert.Empty(t, s.violations)

	n.crash("test")
	n.disk.damaged, n.disk.flippedIn = true, "nothing the store reads"
	s.restart(n)
	require.Len(t, s.violations, 1, "a start on a store known to be damaged")
	assert.Equal(t, invDamageRefused, s.violations[0].Invariant)
}

// TestSimFailedWriteMustStop: a raft call during which the store failed
// to write entries, and after which the core still runs, is a violation.
func TestSimFailedWriteMustStop(t *testing.T) {
	s := bootedSim(t, 3)
	n := s.nodes[0]
	n.raftCall("test", func() error {
		return n.disk.store.failed("save", fsyncFails, true)
	})
	require.Len(t, s.violations, 1)
	assert.Equal(t, invWriteStops, s.violations[0].Invariant)
}

// TestGuestClock: guest clock readings are checked against those before
// and after them in the guest's history, from any replica; and the clock
// read out of a replica's snapshot is the run's time.
func TestGuestClock(t *testing.T) {
	s := bootedSim(t, 3)
	s.checks.guestClockReading(guestClockReading{instructions: 100, delivered: 5, realtime: 1000, node: 1})
	s.checks.guestClockReading(guestClockReading{instructions: 300, delivered: 9, realtime: 3000, node: 2})
	s.checks.guestClockReading(guestClockReading{instructions: 200, delivered: 7, realtime: 2000, node: 3})
	s.checks.guestClockReading(guestClockReading{instructions: 200, delivered: 8, realtime: 2000, node: 1})
	require.Empty(t, s.violations)
	s.checks.guestClockReading(guestClockReading{instructions: 250, delivered: 8, realtime: 1500, node: 2})
	require.Len(t, s.violations, 1, "a reading earlier than one before it in the guest's history")
	s.checks.guestClockReading(guestClockReading{instructions: 50, delivered: 8, realtime: 1500, node: 3})
	require.Len(t, s.violations, 2, "a reading later than one after it in the guest's history")
	for _, v := range s.violations {
		assert.Equal(t, invGuestClock, v.Invariant)
	}

	n := s.nodes[0]
	snap, _, err := n.p.rep.Snapshot()
	require.NoError(t, err)
	realtime, err := guestRealtime(snap, n.p.rep.Status().Instructions)
	require.NoError(t, err, "guestRealtime must read the replica's snapshots: the guest-clock check is off without it")
	run := time.Duration(realtime - s.wallStart)
	assert.Greater(t, run, time.Duration(0))
	assert.Less(t, run, s.now+2*time.Second, "the guest's time is the run's, give or take the nodes' skew")
	_, err = guestRealtime([]byte("something else"), 0)
	assert.Error(t, err)
	_, err = guestRealtime(snap[:40], 0)
	assert.True(t, err != nil && !errors.Is(err, raftlog.ErrCorruptStore))
}
