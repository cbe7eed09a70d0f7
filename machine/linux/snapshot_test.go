package linux_test

import (
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

func TestSnapshotRestoreKeepsEverything(t *testing.T) {
	p, env := newKernel(t)
	env.Files["/etc/motd"] = []byte("welcome")
	exercise(t, p)
	snap, err := p.Snapshot()
	require.NoError(t, err)
	want, err := p.StateHash()
	require.NoError(t, err)

	q, err := linux.Restore(snap, env, nil)
	require.NoError(t, err)
	got, err := q.StateHash()
	require.NoError(t, err)
	require.Equal(t, want, got)

	// Both continue identically: the futex waiter is woken in each.
	buf := uint32(0xf9ffe000)
	for _, proc := range []*linux.Process{p, q} {
		require.Equal(t, uint32(1), first(linux.Syscall(proc, mainTID, nrFutex, buf+0x3f0, 1, 1)))
	}
	h1, err := p.StateHash()
	require.NoError(t, err)
	h2, err := q.StateHash()
	require.NoError(t, err)
	require.Equal(t, h1, h2)
	require.NotEqual(t, want, h1, "the hash covers the futex queue")

	_, err = linux.Restore([]byte("not a snapshot"), env, nil)
	require.Error(t, err)
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
	wantHash, err := p.StateHash()
	require.NoError(t, err)
	require.NotEmpty(t, rec.Calls)

	rep := linux.NewReplayer(rec.Calls)
	q, err := linux.Load(bin, linux.Config{Argv: []string{"k"}}, rep)
	require.NoError(t, err)
	require.Equal(t, want, exercise(t, q))
	gotHash, err := q.StateHash()
	require.NoError(t, err)
	require.Equal(t, wantHash, gotHash)
	require.NoError(t, rep.Err())
	require.Zero(t, rep.Remaining())

	// Asking for something that was not recorded is reported.
	linux.Syscall(q, mainTID, nrClockGettime, 0, 0xf9ffe080)
	require.ErrorContains(t, rep.Err(), "past the end")
}
