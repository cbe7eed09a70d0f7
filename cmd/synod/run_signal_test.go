package main

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// sigintOutcome is how a run of testdata/sigint ended after a SIGINT.
type sigintOutcome struct {
	ready    string         // the disposition the guest saw after setting its own
	killedBy syscall.Signal // the signal that killed the process, if one did
	status   int            // the exit status, when no signal killed it
	lastLine string
}

// synod run gives a guest the SIGINT disposition qemu-hppa gives it: a
// program started with SIGINT ignored (a background job of a script)
// starts with it ignored, one that ignores SIGINT is not killed by it, one
// that catches it runs its handler, and one that leaves the default is
// killed by it, and so is synod, as qemu-hppa is.
func TestRunSignalDispositionsAreQemus(t *testing.T) {
	if signal.Ignored(os.Interrupt) {
		t.Skip("this test was started with SIGINT ignored, so would every program it starts")
	}
	cases := []struct {
		inheritIgnored bool
		guest          string
		want           sigintOutcome
	}{
		{false, "default", sigintOutcome{ready: "ready: SIGINT default", killedBy: syscall.SIGINT}},
		{false, "ignore", sigintOutcome{ready: "ready: SIGINT ignored", lastLine: "done"}},
		{false, "handler", sigintOutcome{ready: "ready: SIGINT handled", lastLine: "caught SIGINT"}},
		{true, "default", sigintOutcome{ready: "ready: SIGINT ignored", lastLine: "done"}},
		{true, "ignore", sigintOutcome{ready: "ready: SIGINT ignored", lastLine: "done"}},
		{true, "handler", sigintOutcome{ready: "ready: SIGINT handled", lastLine: "caught SIGINT"}},
	}
	type runner struct {
		name    string
		command func(args ...string) *exec.Cmd
	}
	var runners []runner
	// qemu-hppa, when installed, shows that the cases are its behaviour.
	if qemu, ok := qemuRunner(); ok {
		runners = append(runners, runner{"qemu-hppa", func(args ...string) *exec.Cmd { return exec.Command(qemu.prefix[0], args...) }})
	}
	runners = append(runners, runner{"synod run", func(args ...string) *exec.Cmd { return synodCommand(append([]string{"run"}, args...)...) }})
	for _, r := range runners {
		for _, c := range cases {
			cmd := r.command("testdata/sigint", c.guest)
			if c.inheritIgnored {
				// The shell ignores SIGINT, and exec keeps it ignored.
				cmd = exec.Command("sh", append([]string{"-c", `trap "" INT; exec "$@"`, "sh"}, cmd.Args...)...)
				cmd.Env = append(os.Environ(), runAsSynodEnv+"=1")
			}
			got := interruptSigint(t, cmd)
			require.Equal(t, c.want, got, "%s, SIGINT ignored from the start: %v, guest: %s", r.name, c.inheritIgnored, c.guest)
		}
	}
}

// interruptSigint runs testdata/sigint with cmd, sends it SIGINT once it
// is ready, and returns how it ended.
func interruptSigint(t *testing.T, cmd *exec.Cmd) sigintOutcome {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-done:
		case <-time.After(patience):
			_ = cmd.Process.Kill()
		}
	}()
	out := bufio.NewReader(stdout)
	ready, err := out.ReadString('\n')
	require.NoError(t, err, "stderr: %s", stderr.String())
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	rest, err := io.ReadAll(out)
	require.NoError(t, err)
	got := sigintOutcome{ready: strings.TrimSpace(ready), lastLine: strings.TrimSpace(string(rest))}
	var exitErr *exec.ExitError
	switch err := cmd.Wait(); {
	case err == nil:
	case errors.As(err, &exitErr):
		if ws := exitErr.Sys().(syscall.WaitStatus); ws.Signaled() {
			got.killedBy = ws.Signal()
		} else {
			got.status = ws.ExitStatus()
		}
	default:
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return got
}
