package linux_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/machine/linux"
	"github.com/synodvm/synod/machine/linux/memenv"
)

// The family guest (testdata/family.c) runs several processes: a pipeline
// of three, one of them exec'd, or a fork bomb.

// familyEnv is an in-memory Env holding the family binary at the path it
// execs itself from.
func familyEnv(t *testing.T, seed uint64) *memenv.Env {
	t.Helper()
	env := guestEnv(seed)
	env.Files["/guest/family"] = readTestdata(t, "family")
	require.Zero(t, env.Chmod(linux.FileRef{Path: "/guest/family"}, 0o755))
	return env
}

func familyGuest(t *testing.T, env linux.Env, cfg linux.Config) *linux.Process {
	t.Helper()
	cfg.ExePath = "/guest/family"
	p, err := linux.Load(readTestdata(t, "family"), cfg, env)
	require.NoError(t, err)
	return p
}

// TestPipelineOfProcesses: three processes connected by pipes, one of
// them exec'd, compute what the parent prints, each process's writes to
// the same copy-on-write pages stay its own, what the producer writes to
// MAP_SHARED memory reaches its parent, and every child is reaped.
func TestPipelineOfProcesses(t *testing.T) {
	env := familyEnv(t, 1)
	p := familyGuest(t, env, linux.Config{Argv: []string{"family"}})
	finish(t, p, env, 1_000_000)
	const n = 2000
	want := fmt.Sprintf("producer: exited 0\nsquarer: exited 0\nsum of squares 1..%d: %d\n"+
		"the producer counted %d numbers in shared memory\n", n, n*(n+1)*(2*n+1)/6, n)
	require.Equal(t, want, env.Stdout.String())
	require.Equal(t, linux.ExitStatus{}, *p.Exit())
	require.Equal(t, []uint32{mainTID}, linux.Processes(p), "no zombie left")
}

// TestForkBombIsLimited: a guest forking without end gets EAGAIN at the
// process limit, and can still kill and reap what it made.
func TestForkBombIsLimited(t *testing.T) {
	const limit = 20
	env := familyEnv(t, 1)
	p := familyGuest(t, env, linux.Config{Argv: []string{"family", "bomb"}, MaxProcesses: limit})
	finish(t, p, env, 1_000_000)
	require.Equal(t, fmt.Sprintf("fork failed with EAGAIN after %d children\nreaped %d\n", limit-1, limit-1), env.Stdout.String())
	require.Equal(t, linux.ExitStatus{}, *p.Exit())
}

// TestProcessesInterleaveDeterministically: the same Env answers give the
// same interleaving of the pipeline's processes: the same instruction
// count and state hash at every point, whatever budgets the runs use, and
// a run restored from a snapshot mid-way ends where an uninterrupted one
// does.
func TestProcessesInterleaveDeterministically(t *testing.T) {
	run := func(budget uint64, restoreAt uint64) (uint64, [32]byte, string) {
		env := familyEnv(t, 7)
		p := familyGuest(t, env, linux.Config{Argv: []string{"family"}, Quantum: 5_000})
		if restoreAt > 0 {
			p.Run(restoreAt)
			require.Greater(t, len(linux.Processes(p)), 1, "restored while the children run")
			q, err := linux.Restore(p.Snapshot(), env, nil)
			require.NoError(t, err)
			p = q
		}
		finish(t, p, env, budget)
		return p.Instructions(), p.StateHash(), env.Stdout.String()
	}
	instructions, hash, out := run(1_000_000, 0)
	for _, c := range []struct{ budget, restoreAt uint64 }{{77_777, 0}, {1_000_000, instructions / 2}, {3_333, instructions / 3}} {
		gotInstructions, gotHash, gotOut := run(c.budget, c.restoreAt)
		require.Equal(t, instructions, gotInstructions, "%+v", c)
		require.Equal(t, hash, gotHash, "%+v", c)
		require.Equal(t, out, gotOut, "%+v", c)
	}
}

// TestRestoredPipelineSnapshotsIdentically: all along the pipeline's run,
// a guest restored from a snapshot snapshots to the same bytes, whatever
// its processes are doing.
func TestRestoredPipelineSnapshotsIdentically(t *testing.T) {
	env := familyEnv(t, 1)
	p := familyGuest(t, env, linux.Config{Argv: []string{"family"}, Quantum: 5_000})
	snapshots, most := 0, 0
	for p.Exit() == nil {
		require.Less(t, p.Instructions(), uint64(maxGuestInstructions))
		p.Run(20_000)
		snap := p.Snapshot()
		q, err := linux.Restore(snap, env, nil)
		require.NoError(t, err)
		require.True(t, bytes.Equal(snap, q.Snapshot()), "snapshot at instruction %d", p.Instructions())
		most = max(most, len(linux.Processes(p)))
		snapshots++
	}
	require.Greater(t, snapshots, 10)
	require.Equal(t, 3, most, "snapshots with all three processes")
}

// TestEachProcessHasItsWorkingDirectory: a child's chdir moves neither its
// parent's working directory nor what the parent's relative paths name,
// though the two run interleaved.
func TestEachProcessHasItsWorkingDirectory(t *testing.T) {
	env := familyEnv(t, 1)
	p := familyGuest(t, env, linux.Config{Argv: []string{"family", "cwd"}, Quantum: 1_000})
	finish(t, p, env, 1_000_000)
	want := "child is in /etc, where hostname synod\n" +
		"child is in /etc, where hostname synod\n" +
		"parent is in /, where hostname does not exist\n"
	require.Equal(t, want, env.Stdout.String())
	require.Equal(t, linux.ExitStatus{}, *p.Exit())
}

// TestCPUTimesArePerProcess: a process's CPU time is its own threads'
// instructions, and a parent's children's times are what it reaped: wait4's
// resource usage, then RUSAGE_CHILDREN.
func TestCPUTimesArePerProcess(t *testing.T) {
	env := familyEnv(t, 1)
	p := familyGuest(t, env, linux.Config{Argv: []string{"family", "cputime"}})
	finish(t, p, env, 1_000_000)
	want := "the child's time is counted: yes\n" +
		"RUSAGE_CHILDREN is what wait4 said: yes\n" +
		"the parent's own time is less: yes\n" +
		"the CPU-time clock agrees with RUSAGE_SELF: yes\n"
	require.Equal(t, want, env.Stdout.String())
}
