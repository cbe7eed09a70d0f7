package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// synodOutput runs synod with args and returns its stdout and stderr and
// whether it succeeded.
func synodOutput(t *testing.T, args ...string) (stdout, stderr string, ok bool) {
	t.Helper()
	cmd := synodCommand(args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("synod %v: %v", args, err)
	}
	return out.String(), errOut.String(), err == nil
}

func allCommandNames() []string { return strings.Split(commandNames(), ", ") }

// synod help CMD and synod CMD --help both print that command's usage and
// its flags on stdout, and succeed.
func TestHelpShowsACommandsUsageAndFlags(t *testing.T) {
	general, _, ok := synodOutput(t, "help")
	require.True(t, ok)
	for _, name := range allCommandNames() {
		t.Run(name, func(t *testing.T) {
			for _, args := range [][]string{{"help", name}, {name, "--help"}} {
				out, errOut, ok := synodOutput(t, args...)
				require.True(t, ok, "synod %v: %s", args, errOut)
				require.NotEqual(t, general, out, "synod %v prints the command's help, not the general one", args)
				require.True(t, strings.HasPrefix(out, "usage: synod "+name), "synod %v:\n%s", args, out)
				require.Regexp(t, `(?m)^  -[a-z]`, out, "synod %v lists the flags:\n%s", args, out)
			}
		})
	}
	out, _, ok := synodOutput(t, "init", "--help")
	require.True(t, ok)
	for _, flag := range []string{"nodes", "dir", "addrs", "force"} {
		require.Regexp(t, `(?m)^  -`+flag+`\b`, out)
	}
	_, errOut, ok := synodOutput(t, "help", "frobnicate")
	require.False(t, ok)
	require.Contains(t, errOut, "unknown command")
}

// The general help gives every command a line of its own that says what
// it does.
func TestHelpDescribesEachCommand(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, dispatch(context.Background(), []string{"help"}, &out))
	for _, name := range allCommandNames() {
		require.Regexp(t, `(?m)^  `+name+` +[a-z]{2,}`, out.String(), "a line for %s", name)
	}
}

// A flag's placeholder in the help names what the value is (a backquoted
// word in the flag's usage): never the Go type's name, nor a word that
// reads as part of the flag (-down-after long).
func TestHelpFlagPlaceholdersNameTheValue(t *testing.T) {
	meaningless := map[string]bool{"long": true, "value": true, "string": true, "int": true, "uint": true, "float": true}
	flagLine := regexp.MustCompile(`(?m)^  (-[a-z0-9-]+) ([^\s]+)$`)
	for _, name := range allCommandNames() {
		out, errOut, _ := synodOutput(t, name, "--help")
		for _, m := range flagLine.FindAllStringSubmatch(out+errOut, -1) {
			require.False(t, meaningless[m[2]], "synod %s: %s %s", name, m[1], m[2])
		}
	}
}

// A refusal that suggests --force suggests it to a command that has it.
func TestForceHintNamesAFlagOfTheCommand(t *testing.T) {
	dir := t.TempDir()
	_, errOut, ok := synodOutput(t, "init", "--dir", dir)
	require.True(t, ok, errOut)
	for _, cmd := range [][]string{{"init", "--dir", dir}, {"up", "--dir", dir}} {
		_, errOut, ok := synodOutput(t, cmd...)
		require.False(t, ok, "synod %v over an existing cluster", cmd)
		require.Contains(t, errOut, "--force")
		help, _, ok := synodOutput(t, cmd[0], "--help")
		require.True(t, ok)
		require.Regexp(t, `(?m)^  -force\b`, help, "synod %s has the flag its hint names", cmd[0])
	}
}
