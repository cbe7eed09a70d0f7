package fpu

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// fusedOps are the instructions testdata/fused.c executes, as
// hppa-linux-gnu-as encodes them with these registers: operands a, b and
// c (the addend), result t. The single forms mix halves to check Decode.
var fusedOps = map[string]struct {
	word       uint32
	a, b, c, t loc
}{
	"fmpyfadd,dbl":  {0xb8852c07, dbl(4), dbl(5), dbl(6), dbl(7)},       // fmpyfadd,dbl fr4,fr5,fr6,fr7
	"fmpynfadd,dbl": {0xb8852c27, dbl(4), dbl(5), dbl(6), dbl(7)},       // fmpynfadd,dbl fr4,fr5,fr6,fr7
	"fmpyfadd,sgl":  {0xb8852587, right(4), left(5), right(6), left(7)}, // fmpyfadd,sgl fr4R,fr5,fr6R,fr7
	"fmpynfadd,sgl": {0xb8853467, left(4), right(5), left(6), right(7)}, // fmpynfadd,sgl fr4,fr5R,fr6,fr7R
}

// TestFusedMatchQEMU replays the reference recorded from qemu-hppa for
// the fused multiply-adds: result bits and status register.
func TestFusedMatchQEMU(t *testing.T) {
	replayGolden(t, "testdata/fused.golden.gz", 7, 80000, func(fields []string) string {
		fo, ok := fusedOps[fields[0]]
		require.True(t, ok, "unknown mnemonic %q", fields[0])
		mode, a, b, c := hex(t, fields[1]), hex(t, fields[2]), hex(t, fields[3]), hex(t, fields[4])
		want, wantStatus := hex(t, fields[5]), hex(t, fields[6])

		op, ok := Decode(fo.word)
		require.True(t, ok, "%s: word %08x does not decode", fields[0], fo.word)
		var s State
		s.setStatus(uint32(mode))
		s.put(fo.a, a)
		s.put(fo.b, b)
		s.put(fo.c, c)
		require.Equal(t, Done, s.Exec(&op))
		if got, gotStatus := s.get(fo.t), uint64(s.status()); got != want || gotStatus != wantStatus {
			return fmt.Sprintf("got %x status %08x", got, gotStatus)
		}
		return ""
	})
}
