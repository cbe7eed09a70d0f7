package linux_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/machine/linux"
	"github.com/synodvm/synod/machine/linux/memenv"
)

// These tests run real guests: testdata/*.c, with outputs recorded from
// qemu-hppa.

// maxGuestInstructions bounds every guest run in the tests.
const maxGuestInstructions = 2_000_000_000

// finish runs p to its end in budget-sized steps. When every thread waits,
// the in-memory clock jumps to the earliest deadline (nothing else can wake
// a guest whose Env is memenv).
func finish(t *testing.T, p *linux.Process, env *memenv.Env, budget uint64) {
	t.Helper()
	for p.Exit() == nil {
		require.Less(t, p.Instructions(), uint64(maxGuestInstructions), "the guest does not end")
		res := p.Run(budget)
		if res.Reason == linux.RunIdle {
			require.True(t, res.Wait.HasDeadline, "deadlock: every thread waits with no deadline: %+v", res.Wait)
			now := env.Clock(p.Instructions()).Monotonic
			env.Elapse(max(res.Wait.Deadline-now, 0))
		}
	}
}

func guestConfig(name string) linux.Config {
	return linux.Config{Argv: []string{"./" + name, "/etc/hostname"}, Envp: []string{"HOME=/"}, ExePath: "/guest/" + name}
}

func newGuest(t *testing.T, name string, env linux.Env) *linux.Process {
	t.Helper()
	p, err := linux.Load(readTestdata(t, name), guestConfig(name), env)
	require.NoError(t, err)
	return p
}

func guestEnv(seed uint64) *memenv.Env {
	env := memenv.New(seed)
	env.Files["/etc/hostname"] = []byte("synod\n")
	return env
}

func TestGuestsMatchQemu(t *testing.T) {
	cases := []struct {
		name string
		exit linux.ExitStatus
	}{
		{"threads", linux.ExitStatus{}},
		{"signals", linux.ExitStatus{Signal: linux.SIGUSR2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := guestEnv(1)
			p := newGuest(t, c.name, env)
			finish(t, p, env, 1_000_000)
			require.Equal(t, string(readTestdata(t, c.name+".golden")), env.Stdout.String())
			require.Equal(t, c.exit, *p.Exit())
		})
	}
}

// TestSameAnswersSameExecution: two runs given the same Env answers execute
// the same number of instructions and end in the same state, whatever the
// budgets the caller runs them with.
func TestSameAnswersSameExecution(t *testing.T) {
	instructions, want, calls := recordedRun(t, 3)
	replay := linux.NewReplayer(calls)
	q := newGuest(t, "threads", replay)
	requireSameEnd(t, instructions, want, q, replay, 77_777) // budgets that cut quanta elsewhere
}

// recordedRun runs the threads guest to its end on a recorded in-memory
// Env and returns its instruction count, final state hash and recording.
func recordedRun(t *testing.T, seed uint64) (uint64, [32]byte, []linux.Call) {
	t.Helper()
	env := guestEnv(seed)
	rec := linux.NewRecorder(env)
	p := newGuest(t, "threads", rec)
	finish(t, p, env, 1_000_000)
	hash := p.StateHash()
	return p.Instructions(), hash, rec.Calls
}

// requireSameEnd runs q to its end on replayed answers, in steps of budget,
// and checks it ends after the same instructions in the same state.
func requireSameEnd(t *testing.T, instructions uint64, hash [32]byte, q *linux.Process, replay *linux.Replayer, budget uint64) {
	t.Helper()
	for q.Exit() == nil && q.Instructions() < maxGuestInstructions {
		q.Run(budget)
	}
	require.NoError(t, replay.Err())
	require.Equal(t, instructions, q.Instructions())
	got := q.StateHash()
	require.Equal(t, hash, got)
}

// TestSnapshotRestoreContinue: stopping, snapshotting, restoring and
// continuing ends exactly where an uninterrupted run ends.
func TestSnapshotRestoreContinue(t *testing.T) {
	instructions, want, calls := recordedRun(t, 5)
	replay := linux.NewReplayer(calls)
	q := newGuest(t, "threads", replay)
	q.Run(instructions / 2)
	snap := q.Snapshot()
	r, err := linux.Restore(snap, replay, nil)
	require.NoError(t, err)
	requireSameEnd(t, instructions, want, r, replay, 1_000_000)
}
