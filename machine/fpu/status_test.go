package fpu

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

var outcomes = map[string]Result{"done": Done, "nullify": NullifyNext, "trap": Trap}

// TestStatusMatchesQEMU replays testdata/status.golden.gz, recorded from
// qemu-hppa: from the same fr0 and operands, each instruction must have
// the same outcome (nullification, trap) and leave fr0 and its target
// register as QEMU does — the C bit and compare queue, ftest's forms,
// the lower half of fr0 and the state after a trap; and the words QEMU
// treats as illegal instructions must not decode.
func TestStatusMatchesQEMU(t *testing.T) {
	replayGolden(t, "testdata/status.golden.gz", 8, 2000, func(fields []string) string {
		word := uint32(hex(t, fields[0]))
		op, ok := Decode(word)
		if fields[5] == "illegal" {
			if ok {
				return "decodes, but QEMU finds it illegal"
			}
			return ""
		}
		require.True(t, ok, "word %08x does not decode", word)
		want, ok := outcomes[fields[5]]
		require.True(t, ok, "outcome %q", fields[5])

		var s State
		s.R[0], s.R[4], s.R[5], s.R[6] = hex(t, fields[1]), hex(t, fields[2]), hex(t, fields[3]), hex(t, fields[4])
		got := s.Exec(&op)
		if got != want || s.R[0] != hex(t, fields[6]) || s.R[6] != hex(t, fields[7]) {
			return fmt.Sprintf("got %d fr0 %016x fr6 %016x", got, s.R[0], s.R[6])
		}
		return ""
	})
}
