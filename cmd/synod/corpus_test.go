package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The differential tests: every program of the corpus
// (machine/linux/testdata/corpus, see its manifest.txt) must print the
// same stdout and stderr and end with the same exit status under synod run
// as it did under qemu-hppa when its goldens were recorded; when qemu-hppa
// is installed, it is run live as well and must still match them.

var updateGoldens = flag.Bool("update", false, "record the corpus goldens from qemu-hppa")

// corpusRunTimeout bounds one run of one corpus program; under qemu-hppa
// each takes well under a second.
const corpusRunTimeout = 2 * time.Minute

// knownMismatches are the cases synod run does not match qemu-hppa on yet,
// with what differs. Under synod, such a case is skipped with its
// difference while it still differs, and passes as soon as it matches; a
// case not listed here fails on any difference.
var knownMismatches = map[string]string{}

// A corpusCase is one line of the manifest: a program and how to run it.
type corpusCase struct {
	name, binary string
	stdin        string   // file in the corpus directory, or "" for empty stdin
	env          []string // NAME=VALUE
	args         []string
	ignoreStderr bool
	execs        bool   // runs other guest programs (corpusexec_test.go)
	root         string // directory in the corpus standing in for the guest's /
}

func TestCorpus(t *testing.T) {
	cases, err := readManifest(filepath.Join(corpusDir, "manifest.txt"))
	require.NoError(t, err)
	if *updateGoldens {
		recordGoldens(t, cases)
		return
	}

	// qemu-hppa first, so that a case skipped as a known mismatch under
	// synod has still been checked against qemu.
	var runners []guestRunner
	chosen, unavailable := chosenRunner(t)
	if q, ok := qemuRunner(); ok && chosen.name != q.name {
		runners = append(runners, q)
	}
	if unavailable == "" {
		runners = append(runners, chosen)
		if chosen.name == "synod" {
			runners = append(runners, chosen.withEngine("interp"))
		}
	} else {
		t.Log(unavailable)
	}
	if len(runners) == 0 {
		t.Skip("no runner for the guests: " + unavailable)
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			want := readGolden(t, c)
			for _, r := range runners {
				got, ran := runCase(t, r, c)
				if !ran {
					continue
				}
				if reason, known := knownMismatches[c.name]; known && strings.HasPrefix(r.name, "synod") && !sameResult(want, got, c.ignoreStderr) {
					t.Skipf("known mismatch under synod: %s", reason)
				}
				require.Equal(t, string(want.stdout), string(got.stdout), "%s: stdout of %s", r.name, c.name)
				if !c.ignoreStderr {
					require.Equal(t, string(want.stderr), string(got.stderr), "%s: stderr of %s", r.name, c.name)
				}
				require.Equal(t, want.status, got.status, "%s: exit status of %s (stderr: %q)", r.name, c.name, tail(got.stderr))
			}
		})
	}
}

func sameResult(want, got guestResult, ignoreStderr bool) bool {
	return string(want.stdout) == string(got.stdout) && want.status == got.status &&
		(ignoreStderr || string(want.stderr) == string(got.stderr))
}

// recordGoldens runs every case under qemu-hppa and writes its goldens.
func recordGoldens(t *testing.T, cases []corpusCase) {
	q, ok := qemuRunner()
	if !ok {
		t.Fatal("-update records the goldens from qemu-hppa, which is not on PATH")
	}
	require.NoError(t, os.MkdirAll(filepath.Join(corpusDir, "golden"), 0o755))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			res, ran := runCase(t, q, c)
			require.True(t, ran, "qemu-hppa must run every case to record its goldens")
			base := filepath.Join(corpusDir, "golden", c.name)
			require.NoError(t, os.WriteFile(base+".stdout", res.stdout, 0o644))
			// An ignored stderr holds qemu's register dump, with host paths: not recorded.
			if !c.ignoreStderr {
				require.NoError(t, os.WriteFile(base+".stderr", res.stderr, 0o644))
			}
			require.NoError(t, os.WriteFile(base+".status", fmt.Appendf(nil, "%d\n", res.status), 0o644))
		})
	}
}

func readGolden(t *testing.T, c corpusCase) guestResult {
	t.Helper()
	base := filepath.Join(corpusDir, "golden", c.name)
	stdout, err := os.ReadFile(base + ".stdout")
	require.NoError(t, err, "no golden for %s: record them with go test ./cmd/synod -run TestCorpus -update", c.name)
	var stderr []byte
	if !c.ignoreStderr {
		stderr, err = os.ReadFile(base + ".stderr")
		require.NoError(t, err)
	}
	status, err := os.ReadFile(base + ".status")
	require.NoError(t, err)
	code, err := strconv.Atoi(strings.TrimSpace(string(status)))
	require.NoError(t, err, "%s.status", base)
	return guestResult{stdout: stdout, stderr: stderr, status: code}
}

// runCase runs one case under r, from the corpus directory, with a
// scratch TMPDIR of its own; ran is false (and the reason logged) when r
// cannot run it on this machine.
func runCase(t testing.TB, r guestRunner, c corpusCase) (res guestResult, ran bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), corpusRunTimeout)
	defer cancel()
	cmd, unavailable := caseCommand(ctx, r, c)
	if unavailable != "" {
		t.Logf("%s cannot run %s here: %s", r.name, c.name, unavailable)
		return guestResult{}, false
	}
	cmd.Env = append(cmd.Env, c.env...)
	cmd.Env = append(cmd.Env, "TMPDIR="+t.TempDir())
	if c.stdin != "" {
		f, err := os.Open(filepath.Join(corpusDir, c.stdin))
		require.NoError(t, err)
		defer f.Close()
		cmd.Stdin = f
	}
	res, err := run(ctx, cmd)
	require.NoError(t, err, "%s: %s", r.name, c.name)
	return res, true
}

// readManifest parses the corpus manifest (its header says the format).
func readManifest(path string) ([]corpusCase, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	defer f.Close()
	var cases []corpusCase
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c, err := parseCase(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if seen[c.name] {
			return nil, fmt.Errorf("%s:%d: case %s appears twice", path, n, c.name)
		}
		seen[c.name] = true
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	return cases, nil
}

func parseCase(line string) (corpusCase, error) {
	words, err := splitWords(line)
	if err != nil {
		return corpusCase{}, err
	}
	if len(words) < 2 {
		return corpusCase{}, fmt.Errorf("want a case name and a binary: %q", line)
	}
	c := corpusCase{name: words[0], binary: words[1]}
	rest := words[2:]
	for len(rest) > 0 && rest[0] != "--" {
		key, value, _ := strings.Cut(rest[0], "=")
		switch key {
		case "stdin":
			c.stdin = value
		case "env":
			if !strings.Contains(value, "=") {
				return c, fmt.Errorf("env=%s: want env=NAME=VALUE", value)
			}
			c.env = append(c.env, value)
		case "stderr":
			if value != "ignore" {
				return c, fmt.Errorf("stderr=%s: the only choice is stderr=ignore", value)
			}
			c.ignoreStderr = true
		case "execs":
			c.execs = true
		case "root":
			c.root = value
			c.execs = true
		default:
			return c, fmt.Errorf("unknown option %q", rest[0])
		}
		rest = rest[1:]
	}
	if len(rest) > 0 {
		c.args = rest[1:]
	}
	return c, nil
}

// splitWords splits a manifest line at spaces; a double-quoted part, alone
// or after "NAME=" or "env=NAME=", is a Go string literal.
func splitWords(line string) ([]string, error) {
	var words []string
	for {
		line = strings.TrimLeft(line, " \t")
		if line == "" {
			return words, nil
		}
		end := strings.IndexAny(line, " \t\"")
		if end < 0 {
			return append(words, line), nil
		}
		word := line[:end]
		line = line[end:]
		if line[0] == '"' {
			quoted, err := strconv.QuotedPrefix(line)
			if err != nil {
				return nil, fmt.Errorf("bad quoted string at %q: %w", line, err)
			}
			unquoted, _ := strconv.Unquote(quoted)
			word += unquoted
			line = line[len(quoted):]
			if line != "" && line[0] != ' ' && line[0] != '\t' {
				return nil, fmt.Errorf("want a space after %s", quoted)
			}
		}
		words = append(words, word)
	}
}

func TestManifestLines(t *testing.T) {
	cases := []struct {
		line    string
		want    corpusCase
		wantErr string
	}{
		{line: "arith arith", want: corpusCase{name: "arith", binary: "arith"}},
		{
			line: `argv-x argv env=A="two words" env=B="" stdin=in.txt -- run "" "a b" -x`,
			want: corpusCase{name: "argv-x", binary: "argv", stdin: "in.txt", env: []string{"A=two words", "B="},
				args: []string{"run", "", "a b", "-x"}},
		},
		{line: "ill illegal stderr=ignore -- uncaught", want: corpusCase{name: "ill", binary: "illegal", ignoreStderr: true, args: []string{"uncaught"}}},
		{line: "lonely", wantErr: "want a case name and a binary"},
		{line: "a b colour=red", wantErr: "unknown option"},
		{line: "a b env=NOVALUE", wantErr: "want env=NAME=VALUE"},
		{line: `a b -- "unterminated`, wantErr: "bad quoted string"},
		{line: `a b -- "x"y`, wantErr: "want a space after"},
	}
	for _, c := range cases {
		t.Run(c.line, func(t *testing.T) {
			got, err := parseCase(c.line)
			if c.wantErr != "" {
				require.ErrorContains(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
}
