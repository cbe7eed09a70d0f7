package linux_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/machine/linux"
	"github.com/synodvm/synod/machine/linux/memenv"
)

// exercise makes a deterministic series of system calls that touch memory,
// descriptors, threads, futexes and signals, and returns their results.
func exercise(t *testing.T, p *linux.Process) []uint32 {
	t.Helper()
	buf := scratch(t, p)
	poke(t, p, buf, []byte("/etc/motd\x00"))
	var out []uint32
	call := func(tid, nr uint32, args ...uint32) {
		r, _ := linux.Syscall(p, tid, nr, args...)
		out = append(out, r)
	}
	call(mainTID, nrOpenat, 0xffffff9c, buf, 0, 0)
	call(mainTID, nrRead, 3, buf+0x40, 4)
	call(mainTID, nrPipe2, buf+0x20, 0)
	call(mainTID, nrGetrandom, buf+0x60, 8, 0)
	call(mainTID, nrClockGettime, 1, buf+0x80)
	tid, _ := spawn(t, p, buf+0x200)
	call(tid, nrFutex, buf+0x3f0, 0, 0) // blocks
	call(mainTID, nrTgkill, mainTID, tid, 18)
	call(mainTID, nrBrk, 0x20000)
	return out
}

// restored snapshots p, restores the snapshot on env and checks that the
// copy has p's state hash, which it returns.
func restored(t *testing.T, p *linux.Process, env linux.Env) (*linux.Process, [32]byte) {
	t.Helper()
	snap := p.Snapshot()
	want := p.StateHash()
	q, err := linux.Restore(snap, env, nil)
	require.NoError(t, err)
	got := q.StateHash()
	require.Equal(t, want, got)
	return q, want
}

func TestSnapshotRestoreKeepsEverything(t *testing.T) {
	p, env := newKernel(t)
	env.Files["/etc/motd"] = []byte("welcome")
	exercise(t, p)
	q, want := restored(t, p, env)

	// Both continue identically: the futex waiter is woken in each.
	buf := uint32(0xf9ffe000)
	for _, proc := range []*linux.Process{p, q} {
		require.Equal(t, uint32(1), first(linux.Syscall(proc, mainTID, nrFutex, buf+0x3f0, 1, 1)))
	}
	h1 := p.StateHash()
	h2 := q.StateHash()
	require.Equal(t, h1, h2)
	require.NotEqual(t, want, h1, "the hash covers the futex queue")

	_, err := linux.Restore([]byte("not a snapshot"), env, nil)
	require.Error(t, err)
}

// TestFrozenImageIsTheInstantItWasTaken: the process runs on and writes
// its memory after Freeze; the image, encoded afterwards, restores the
// process as it was when frozen.
func TestFrozenImageIsTheInstantItWasTaken(t *testing.T) {
	p, env := newKernel(t)
	env.Files["/etc/motd"] = []byte("welcome")
	exercise(t, p)
	want := p.StateHash()
	img := p.Freeze()

	exercise(t, p) // writes the same pages again, and more
	after := p.StateHash()
	require.NotEqual(t, want, after)

	q, err := linux.Restore(img.AppendTo(nil), env, nil)
	require.NoError(t, err)
	got := q.StateHash()
	require.Equal(t, want, got)
	require.LessOrEqual(t, len(img.AppendTo(nil)), img.SizeBound())
}

// A snapshot stores a page of zeros as nothing: a mapped but untouched
// megabyte costs next to nothing, and comes back mapped and zero.
func TestSnapshotLeavesZeroPagesOut(t *testing.T) {
	p, env := newKernel(t)
	before := p.Snapshot()
	const size = 1 << 20
	addr, _ := linux.Syscall(p, mainTID, nrMmap2, 0, size, 3, 0x12, ^uint32(0), 0) // MAP_PRIVATE|MAP_ANONYMOUS
	poke(t, p, addr+size-1, []byte{0x5a})
	snap := p.Snapshot()
	require.Less(t, len(snap)-len(before), 3*4096, "one page of data, and a few bytes for each of the 255 zero pages")

	q, err := linux.Restore(snap, env, nil)
	require.NoError(t, err)
	got := make([]byte, size)
	require.NoError(t, q.Memory().ReadBytes(addr, got))
	want := make([]byte, size)
	want[size-1] = 0x5a
	require.Equal(t, want, got)
	h1 := p.StateHash()
	h2 := q.StateHash()
	require.Equal(t, h1, h2)
}

// TestRecordedAnswersReplayToTheSameState runs the same calls against a
// recording Env and then against its replay: same results, same hash.
func TestRecordedAnswersReplayToTheSameState(t *testing.T) {
	bin := readTestdata(t, "startregs")
	live := memenv.New(42)
	live.Files["/etc/motd"] = []byte("welcome")
	rec := linux.NewRecorder(live)
	p, err := linux.Load(bin, linux.Config{Argv: []string{"k"}}, rec)
	require.NoError(t, err)
	want := exercise(t, p)
	wantHash := p.StateHash()
	require.NotEmpty(t, rec.Calls)

	rep := linux.NewReplayer(rec.Calls)
	q, err := linux.Load(bin, linux.Config{Argv: []string{"k"}}, rep)
	require.NoError(t, err)
	require.Equal(t, want, exercise(t, q))
	gotHash := q.StateHash()
	require.Equal(t, wantHash, gotHash)
	require.NoError(t, rep.Err())
	require.Zero(t, rep.Remaining())

	// Asking for something that was not recorded is reported.
	linux.Syscall(q, mainTID, nrClockGettime, 0, 0xf9ffe080)
	require.ErrorContains(t, rep.Err(), "past the end")
}

// TestSnapshotKeepsWhatAWaitNeedsToEnd: a thread restored while it sleeps
// still reports the time left when interrupted, and one restored inside
// rt_sigtimedwait still takes the signal it waits for.
func TestSnapshotKeepsWhatAWaitNeedsToEnd(t *testing.T) {
	const nrNanosleep = 162
	p, env := newKernel(t)
	buf := scratch(t, p)
	installHandler(t, p, linux.SIGUSR1, buf+0x20)
	poke(t, p, buf+0x100, []byte{0, 0, 0, 2, 0, 0, 0, 0}) // 2 s
	_, blocked := linux.Syscall(p, mainTID, nrNanosleep, buf+0x100, buf+0x200)
	require.True(t, blocked)
	snap := p.Snapshot()
	q, err := linux.Restore(snap, env, nil)
	require.NoError(t, err)
	require.NoError(t, q.Kill(linux.SIGUSR1))
	require.Equal(t, neg(linux.EINTR), linux.MainCPU(q).GR[28])
	require.Equal(t, []byte{0, 0, 0, 2}, peek(t, q, buf+0x200, 4), "rem written after the restore")

	p, _ = newKernel(t)
	buf = scratch(t, p)
	poke(t, p, buf+0x100, []byte{0, 0, 0x80, 0, 0, 0, 0, 0}) // SIGUSR1
	linux.Syscall(p, mainTID, nrRtSigprocmask, 0, buf+0x100, 0, 8)
	_, blocked = linux.Syscall(p, mainTID, nrRtSigtimedwait, buf+0x100, 0, 0, 8)
	require.True(t, blocked)
	snap = p.Snapshot()
	q, err = linux.Restore(snap, memenv.New(1), nil)
	require.NoError(t, err)
	require.NoError(t, q.Kill(linux.SIGUSR1))
	require.Equal(t, uint32(linux.SIGUSR1), linux.MainCPU(q).GR[28], "rt_sigtimedwait takes it")
}

// stateBytesChild, set in the environment, makes
// TestStateBytesDependOnlyOnTheState print the state's digests instead of
// running its processes; its value says whether to encode another type
// first.
const stateBytesChild = "SYNOD_TEST_STATE_BYTES_CHILD"

// TestStateBytesDependOnlyOnTheState: the bytes of a process's state (and
// so its state hash and snapshot) are the same in a process that encoded
// something else before as in one that did not. Each case runs in a fresh
// test process, since whatever an encoder keeps per process is kept from
// the first encoding on.
func TestStateBytesDependOnlyOnTheState(t *testing.T) {
	if first := os.Getenv(stateBytesChild); first != "" {
		if first == "other type first" {
			require.NoError(t, gob.NewEncoder(io.Discard).Encode(struct {
				Name  string
				Sizes map[string][]int
			}{"x", map[string][]int{"y": {1}}}))
		}
		p, env := newKernel(t)
		env.Files["/etc/motd"] = []byte("welcome")
		exercise(t, p)
		state := linux.EncodeState(p)
		snap := p.Snapshot()
		fmt.Printf("digests: state %x snapshot %x\n", sha256.Sum256(state), sha256.Sum256(snap))
		return
	}
	digests := func(first string) string {
		cmd := exec.Command(os.Args[0], "-test.run=^TestStateBytesDependOnlyOnTheState$", "-test.count=1")
		cmd.Env = append(os.Environ(), stateBytesChild+"="+first)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		line := regexp.MustCompile(`digests: .*`).Find(out)
		require.NotNil(t, line, "%s", out)
		return string(line)
	}
	require.Equal(t, digests("nothing first"), digests("other type first"))
}

// TestRestoredGuestSnapshotsIdentically: all along real guests' runs, a
// process restored from a snapshot snapshots to the same bytes: restore
// loses nothing that state() records, and adds nothing.
func TestRestoredGuestSnapshotsIdentically(t *testing.T) {
	for name, step := range map[string]uint64{"threads": 40_000, "signals": 2_000} {
		t.Run(name, func(t *testing.T) {
			env := guestEnv(1)
			p := newGuest(t, name, env)
			snapshots := 0
			for p.Exit() == nil {
				if res := p.Run(step); res.Reason == linux.RunIdle {
					env.Elapse(max(res.Wait.Deadline-env.Clock(p.Instructions()).Monotonic, 0))
				}
				snap := p.Snapshot()
				q, err := linux.Restore(snap, env, nil)
				require.NoError(t, err)
				again := q.Snapshot()
				require.True(t, bytes.Equal(snap, again), "snapshot at instruction %d", p.Instructions())
				snapshots++
			}
			require.Greater(t, snapshots, 3)
		})
	}
}

// guestMidway is the threads guest a third into its run: its four
// workers and the main thread waiting for them.
func guestMidway(tb testing.TB) *linux.Process {
	tb.Helper()
	env := guestEnv(3)
	p, err := linux.Load(readTestdata(tb, "threads"), guestConfig("threads"), env)
	require.NoError(tb, err)
	require.Equal(tb, linux.RunBudget, p.Run(300_000).Reason)
	return p
}

func BenchmarkProcessStateEncode(b *testing.B) {
	p := guestMidway(b)
	for b.Loop() {
		linux.EncodeState(p)
	}
}

func BenchmarkProcessStateDecode(b *testing.B) {
	state := linux.EncodeState(guestMidway(b))
	b.SetBytes(int64(len(state)))
	for b.Loop() {
		if err := linux.DecodeState(state); err != nil {
			b.Fatal(err)
		}
	}
}
