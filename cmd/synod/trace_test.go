package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// synod run --trace writes one line per executed instruction: thread,
// address, word and the instruction in objdump syntax.
func TestRunTraceDisassembles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace")
	out, err := synodCommand("run", "--trace", path, "--max-instructions", "200", "guests/primes").CombinedOutput()
	require.Error(t, err, "stopped by --max-instructions")
	require.Contains(t, string(out), "200 instructions")

	b, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	require.Len(t, lines, 200)
	line := regexp.MustCompile(`^\d+ [0-9a-f]{8} [0-9a-f]{8}  [a-z][a-z0-9,<>=]*( |$)`)
	for _, l := range lines {
		require.Regexp(t, line, l)
	}
	require.Contains(t, string(b), "ldil L%", "long immediates as objdump writes them")
}
