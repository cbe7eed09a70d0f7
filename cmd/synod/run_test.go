package main

import (
	"bytes"
	"context"
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
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := runRun(context.Background(), c.args, &bytes.Buffer{})
			require.ErrorContains(t, err, c.want)
		})
	}
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
