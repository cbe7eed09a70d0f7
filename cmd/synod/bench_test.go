package main

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// benchGuest is the corpus's CPU-bound guest (CRC32, heap sort, matrix
// multiply and string hashing; corpus mips.c). With its default size it
// runs a second or two under qemu-hppa.
const benchGuest = "mips"

// cpuBoundGuest is a guest of the emulator benchmark: a program in a
// directory, run there without arguments.
type cpuBoundGuest struct{ name, dir, binary string }

// cpuBoundGuests are the guests BenchmarkGuestMIPS times: the corpus mips
// guest, with libc, and the mix guest (the machine package's benchmark
// kernel, another CRC, sort, matrix and hash mix, without libc;
// guests/mix/mix.c).
var cpuBoundGuests = []cpuBoundGuest{
	{name: benchGuest, dir: corpusDir, binary: benchGuest},
	{name: "mix", dir: "guests/mix", binary: "mix"},
}

// benchRunTimeout bounds one run of a benchmark guest.
const benchRunTimeout = 10 * time.Minute

// statsLine and translatedLine are what synod run --stats prints on
// stderr at the end: the instructions and guest MIPS, and, where the
// translator ran, the blocks it translated and its time per block.
var (
	statsLine      = regexp.MustCompile(`synod: (\d+) instructions in \S+, ([0-9.]+) guest MIPS`)
	translatedLine = regexp.MustCompile(`synod: (\d+) blocks translated in \S+, ([0-9.]+) µs per block`)
)

// BenchmarkGuestMIPS runs each CPU-bound guest through synod run --stats
// with each engine, and under qemu-hppa when it is installed, and reports
// the guest MIPS of each: synod's as it measured them, qemu-hppa's as the
// instructions synod counted over qemu-hppa's wall-clock time, so that
// qemu's start-up counts against it as synod's does. For each engine it
// also reports its time over qemu-hppa's, measured in the same rounds,
// and for the translator the time it took per block it translated. The
// issue's target is a translator at no more than twice qemu-hppa's time.
//
//	go test ./cmd/synod -run '^$' -bench GuestMIPS -benchtime 1x
func BenchmarkGuestMIPS(b *testing.B) {
	synod := synodRunner(b)
	if !interpreterWorks(b) {
		b.Skip("package machine cannot execute instructions yet")
	}
	qemu, haveQemu := qemuRunner()
	for _, guest := range cpuBoundGuests {
		b.Run(guest.name, func(b *testing.B) {
			var instructions float64
			for _, engine := range []string{"interp", "jit"} {
				b.Run(engine, func(b *testing.B) {
					var mips, perBlock, synodTime, qemuTime float64
					var runs int
					for b.Loop() {
						res, elapsed := timeGuest(b, synod, guest, "--stats", "--engine", engine)
						m := statsLine.FindSubmatch(res.stderr)
						require.NotNil(b, m, "no statistics from synod run --stats; stderr: %q", tail(res.stderr))
						instructions = parseFloat(b, m[1])
						mips += parseFloat(b, m[2])
						if m := translatedLine.FindSubmatch(res.stderr); m != nil {
							perBlock += parseFloat(b, m[2])
						}
						synodTime += elapsed.Seconds()
						runs++
						if haveQemu {
							b.StopTimer()
							qres, qelapsed := timeGuest(b, qemu, guest)
							require.Equal(b, string(qres.stdout), string(res.stdout), "synod and qemu-hppa disagree")
							qemuTime += qelapsed.Seconds()
							b.StartTimer()
						}
					}
					b.ReportMetric(mips/float64(runs), "guest-MIPS")
					if engine == "jit" {
						b.ReportMetric(perBlock/float64(runs), "µs/block")
					}
					if haveQemu {
						b.ReportMetric(synodTime/qemuTime, "x-qemu-time")
					}
				})
			}
			if !haveQemu {
				return
			}
			b.Run("qemu-hppa", func(b *testing.B) {
				var qemuTime float64
				var runs int
				for b.Loop() {
					_, elapsed := timeGuest(b, qemu, guest)
					qemuTime += elapsed.Seconds()
					runs++
				}
				b.ReportMetric(instructions*float64(runs)/qemuTime/1e6, "guest-MIPS")
			})
		})
	}
}

func parseFloat(b *testing.B, text []byte) float64 {
	b.Helper()
	v, err := strconv.ParseFloat(string(text), 64)
	require.NoError(b, err)
	return v
}

// timeGuest runs guest under r (synod run's flags first) and returns its
// result and wall-clock time.
func timeGuest(b *testing.B, r guestRunner, guest cpuBoundGuest, flags ...string) (guestResult, time.Duration) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), benchRunTimeout)
	defer cancel()
	r.prefix = append(append([]string{}, r.prefix...), flags...)
	cmd := r.command(ctx, guest.dir, guest.binary)
	start := time.Now()
	res, err := run(ctx, cmd)
	elapsed := time.Since(start)
	require.NoError(b, err)
	require.Zero(b, res.status, fmt.Sprintf("%s: %s exited with %d: %q", r.name, guest.name, res.status, tail(res.stderr)))
	return res, elapsed
}
