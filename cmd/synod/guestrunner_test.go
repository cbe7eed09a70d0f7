package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/machine/linux"
	"github.com/synodvm/synod/machine/linux/memenv"
)

// guestRunnerEnv chooses what runs guest programs in these tests:
// "synod" (the default: this test binary as `synod run`) or "qemu-hppa".
// With qemu-hppa the corpus, its goldens and the example guests can be
// checked before synod's interpreter runs them.
const guestRunnerEnv = "SYNOD_GUEST_RUNNER"

// corpusDir holds the guest programs of the differential tests.
const corpusDir = "../../machine/linux/testdata/corpus"

// A guestRunner runs a static hppa-linux program as a host process.
type guestRunner struct {
	name   string
	prefix []string // the command; the guest's path and arguments follow
	env    []string // added to the guest's environment
}

// selectedRunner returns the runner guestRunnerEnv names, and skips t when
// it cannot run guests on this machine.
func selectedRunner(t testing.TB) guestRunner {
	t.Helper()
	r, unavailable := chosenRunner(t)
	if unavailable != "" {
		t.Skip(unavailable)
	}
	return r
}

// chosenRunner returns the runner guestRunnerEnv names, or why it cannot
// run guests on this machine.
func chosenRunner(t testing.TB) (guestRunner, string) {
	t.Helper()
	switch name := os.Getenv(guestRunnerEnv); name {
	case "", "synod":
		if !interpreterWorks(t) {
			return guestRunner{}, "package machine cannot execute instructions yet; set " + guestRunnerEnv + "=qemu-hppa to run the guests under qemu"
		}
		return synodRunner(t), ""
	case "qemu-hppa":
		q, ok := qemuRunner()
		if !ok {
			return guestRunner{}, guestRunnerEnv + "=qemu-hppa but qemu-hppa is not on PATH"
		}
		return q, ""
	default:
		t.Fatalf("%s=%q: want synod or qemu-hppa", guestRunnerEnv, name)
		return guestRunner{}, ""
	}
}

func synodRunner(t testing.TB) guestRunner {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	return guestRunner{name: "synod", prefix: []string{exe, "run"}, env: []string{runAsSynodEnv + "=1"}}
}

// withEngine is synod run with --engine engine, named synod-engine.
func (r guestRunner) withEngine(engine string) guestRunner {
	r.name += "-" + engine
	r.prefix = append(append([]string{}, r.prefix...), "--engine", engine)
	return r
}

var noCoreDumps sync.Once

// qemuRunner returns qemu-hppa when it is installed.
func qemuRunner() (guestRunner, bool) {
	path, err := exec.LookPath("qemu-hppa")
	if err != nil {
		return guestRunner{}, false
	}
	// qemu-hppa writes a core file of a guest killed by a signal into
	// the working directory (here, testdata) unless the limit is 0.
	noCoreDumps.Do(func() {
		_ = syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{})
	})
	return guestRunner{name: "qemu-hppa", prefix: []string{path}}, true
}

// interpreterWorks reports whether package machine executes instructions
// yet: until it does, the first instruction of any program stops as
// illegal.
func interpreterWorks(t testing.TB) bool {
	t.Helper()
	binary, err := os.ReadFile(filepath.Join(corpusDir, "arith"))
	require.NoError(t, err)
	p, err := linux.Load(binary, linux.Config{Argv: []string{"arith"}}, memenv.New(1))
	require.NoError(t, err)
	p.Run(1)
	return p.Exit() == nil || p.Exit().Signal != linux.SIGILL
}

// command builds the host command that runs guest (a path relative to
// dir) with args.
func (r guestRunner) command(ctx context.Context, dir, guest string, args ...string) *exec.Cmd {
	argv := append(append(append([]string{}, r.prefix...), "./"+guest), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append([]string{}, r.env...)
	boundedWait(cmd)
	return cmd
}

// boundedWait makes a run of cmd wait for its output pipes no longer than
// guestWaitDelay once the guest has ended or been killed at its deadline:
// a child the guest left running holds them open, and must not hold the
// test forever.
func boundedWait(cmd *exec.Cmd) { cmd.WaitDelay = guestWaitDelay }

// guestWaitDelay bounds how long a finished or killed guest's output
// pipes are waited for.
const guestWaitDelay = 5 * time.Second

// A guestResult is what a finished guest left: its output and exit status
// (128+n after a fatal signal n, as a shell reports it).
type guestResult struct {
	stdout, stderr []byte
	status         int
	cpu            time.Duration // the user and system time the run took
}

// run runs cmd, made with ctx, to its end, collecting stdout and stderr.
func run(ctx context.Context, cmd *exec.Cmd) (guestResult, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := guestResult{stdout: stdout.Bytes(), stderr: stderr.Bytes()}
	if ps := cmd.ProcessState; ps != nil {
		res.cpu = ps.UserTime() + ps.SystemTime()
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		ws := exitErr.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			// qemu-hppa kills itself with the guest's signal.
			res.status = 128 + int(ws.Signal())
		} else {
			res.status = ws.ExitStatus()
		}
	default:
		return res, fmt.Errorf("run %s: %w", cmd.Path, err)
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("run %v: %w (stderr: %q)", cmd.Args, err, tail(res.stderr))
	}
	return res, nil
}

// tail returns the end of a long output, for error messages.
func tail(b []byte) []byte {
	const keep = 2000
	if len(b) > keep {
		return b[len(b)-keep:]
	}
	return b
}
