package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRunRefusesWhatItCannotRun(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing program", []string{"no/such/program"}, "no such file"},
		{"dynamic executable", []string{"../../machine/linux/testdata/dynamic"}, "dynamically linked"},
		{"not an executable", []string{"run.go"}, "not an ELF executable"},
		{"bad flag", []string{"--no-such-flag"}, "flag provided but not defined"},
		{"unknown engine", []string{"--engine", "turbo"}, `unknown engine "turbo"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := runRun(context.Background(), c.args, &bytes.Buffer{})
			require.ErrorContains(t, err, c.want)
		})
	}
}

// The bundled guest prints the same under either engine, and the
// translator retires the same instructions as the interpreter.
func TestRunEnginesAgree(t *testing.T) {
	var outputs, counts []string
	for _, engine := range []string{"interp", "jit"} {
		run := synodCommand("run", "--stats", "--engine", engine)
		var stdout, stderr syncBuffer
		run.Stdout, run.Stderr = &stdout, &stderr
		require.NoError(t, run.Start())
		waitFor(t, run, patience)
		require.True(t, run.ProcessState.Success(), "%s: exit %v; stderr: %s", engine, run.ProcessState, stderr.String())
		outputs = append(outputs, stdout.String())
		count, _, _ := strings.Cut(stderr.String(), " instructions")
		counts = append(counts, count)
	}
	require.Contains(t, outputs[0], "primes below")
	require.Equal(t, outputs[0], outputs[1])
	require.Equal(t, counts[0], counts[1], "instructions retired")
}

func TestHelpListsCommands(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, dispatch(context.Background(), []string{"help"}, &out))
	require.Contains(t, out.String(), "run")
	require.NoError(t, runRun(context.Background(), []string{"--help"}, &out))
	require.Error(t, dispatch(context.Background(), []string{"frobnicate"}, &out))
}

func TestBundledGuestIsAStaticHppaExecutable(t *testing.T) {
	binary, cfg, err := guestToRun(nil)
	require.NoError(t, err)
	require.Equal(t, []string{"primes"}, cfg.Argv)
	require.Equal(t, []byte("\x7fELF\x01\x02"), binary[:6], "32-bit big-endian ELF")
}

// A guest that allocates without end is refused memory at --memory, with
// ENOMEM from malloc, and goes on running: it is not killed and the host's
// memory is not its to take.
func TestRunMemoryLimitFailsMallocWithENOMEM(t *testing.T) {
	run := synodCommand("run", "--memory", "64M", "testdata/mallocs")
	var stdout, stderr syncBuffer
	run.Stdout, run.Stderr = &stdout, &stderr
	require.NoError(t, run.Start())
	waitFor(t, run, patience)
	require.True(t, run.ProcessState.Success(), "exit %v; stderr: %s", run.ProcessState, stderr.String())
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	require.Len(t, lines, 2, "stdout: %s", stdout.String())
	var blocks, small int
	_, err := fmt.Sscanf(lines[0], "blocks: malloc failed after %d KiB: Cannot allocate memory", &blocks)
	require.NoError(t, err, lines[0])
	_, err = fmt.Sscanf(lines[1], "small: malloc failed after %d KiB: Cannot allocate memory", &small)
	require.NoError(t, err, lines[1])
	// The program and its 8 MiB stack take their share of the 64 MiB.
	require.Greater(t, blocks, 40<<10)
	require.Less(t, blocks+small, 64<<10)
}

func TestMemoryFlagSizes(t *testing.T) {
	cases := []struct {
		in   string
		want byteSize
		text string
	}{
		{"512M", 512 << 20, "512M"},
		{"2G", 2 << 30, "2G"},
		{"2g", 2 << 30, "2G"},
		{"64MiB", 64 << 20, "64M"},
		{"64MB", 64 << 20, "64M"},
		{"1536K", 1536 << 10, "1536K"},
		{"4G", 4 << 30, "4G"},
		{"1000000", 1000000, "1000000"},
		{"4096B", 4096, "4K"},
	}
	for _, c := range cases {
		var s byteSize
		require.NoError(t, s.Set(c.in), c.in)
		require.Equal(t, c.want, s, c.in)
		require.Equal(t, c.text, s.String(), c.in)
		var again byteSize
		require.NoError(t, again.Set(s.String()))
		require.Equal(t, s, again, "what nodeArgs passes on reads back")
	}
	for _, bad := range []string{"", "0", "5G", "-1M", "1.5G", "M", "12X", "64iB"} {
		var s byteSize
		require.Error(t, s.Set(bad), bad)
	}
}
