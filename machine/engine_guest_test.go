package machine_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/machine"
	"github.com/synodvm/synod/machine/linux"
	"github.com/synodvm/synod/machine/linux/memenv"
)

// primesGuest is the CPU-bound guest synod run runs by default (source
// and rebuild command in cmd/synod/guests/primes.c).
const primesGuest = "../cmd/synod/guests/primes"

// loadPrimes loads the primes guest into a deterministic environment.
func loadPrimes(t testing.TB, engine machine.Engine) (*linux.Process, *memenv.Env) {
	t.Helper()
	binary, err := os.ReadFile(primesGuest)
	require.NoError(t, err)
	env := memenv.New(1)
	p, err := linux.Load(binary, linux.Config{Argv: []string{"primes"}}, env)
	require.NoError(t, err)
	p.SetEngine(engine)
	return p, env
}

// TestEnginesAgreeOnPrimes runs the primes guest with each engine in
// slices of a prime number of instructions, so that slices end inside
// blocks, and requires the same state hash after every slice and the same
// output: with every block translated at once, and with the defaults
// (the interpreter alone for the first instructions, then the translator
// waiting until a block is warm), so that the interpreter runs cold
// blocks between translated ones.
func TestEnginesAgreeOnPrimes(t *testing.T) {
	for _, after := range []uint32{1, machine.DefaultTranslateAfter} {
		t.Run(fmt.Sprintf("translateAfter=%d", after), func(t *testing.T) {
			defer machine.TranslateAfter(after)()
			if after == machine.DefaultTranslateAfter {
				defer machine.InterpretFirst(machine.DefaultInterpretFirst)()
			}
			interp, interpEnv := loadPrimes(t, machine.EngineInterp)
			jit, jitEnv := loadPrimes(t, machine.EngineJIT)
			for slice := 0; interp.Exit() == nil; slice++ {
				require.Less(t, slice, 1000, "primes does not end")
				a, b := interp.Run(999_983), jit.Run(999_983)
				require.Equal(t, a, b, "slice %d", slice)
				require.Equal(t, interp.StateHash(), jit.StateHash(), "slice %d: state", slice)
			}
			require.Equal(t, interp.Exit(), jit.Exit())
			require.Equal(t, interpEnv.Stdout.String(), jitEnv.Stdout.String())
			require.Contains(t, jitEnv.Stdout.String(), "primes below")
		})
	}
}

// BenchmarkPrimes reports the guest MIPS of each engine on the primes
// guest, and for the translator its speed-up over the interpreter
// measured in the same run:
//
//	go test -run ^$ -bench Primes ./machine
func BenchmarkPrimes(b *testing.B) {
	mips := map[machine.Engine]float64{}
	for _, engine := range []machine.Engine{machine.EngineInterp, machine.EngineJIT} {
		b.Run(engine.String(), func(b *testing.B) {
			var insns uint64
			var elapsed time.Duration
			for b.Loop() {
				p, _ := loadPrimes(b, engine)
				start := time.Now()
				for range 1000 {
					if p.Run(1 << 30); p.Exit() != nil {
						break
					}
				}
				elapsed += time.Since(start)
				require.NotNil(b, p.Exit(), "primes does not end")
				insns += p.Instructions()
			}
			mips[engine] = float64(insns) / elapsed.Seconds() / 1e6
			b.ReportMetric(mips[engine], "guest-MIPS")
			if base, ok := mips[machine.EngineInterp]; ok && engine != machine.EngineInterp {
				b.ReportMetric(mips[engine]/base, "x-interp")
			}
		})
	}
}
