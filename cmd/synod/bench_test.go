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

// benchGuest is the CPU-bound guest of the emulator benchmark (CRC32,
// heap sort, matrix multiply and string hashing; corpus mips.c). With its
// default size it runs a second or two under qemu-hppa.
const benchGuest = "mips"

// benchRunTimeout bounds one run of the benchmark guest.
const benchRunTimeout = 10 * time.Minute

// statsLine is what synod run --stats prints on stderr at the end.
var statsLine = regexp.MustCompile(`synod: (\d+) instructions in \S+, ([0-9.]+) guest MIPS`)

// BenchmarkGuestMIPS runs the CPU-bound guest through synod run --stats
// with each engine and reports the guest MIPS synod measured. When
// qemu-hppa is installed, it also times the same binary under qemu-hppa
// in the same run and reports both wall-clock times and their ratio (how
// many times longer synod takes). ns/op is synod's time.
//
//	go test ./cmd/synod -run '^$' -bench GuestMIPS -benchtime 1x
func BenchmarkGuestMIPS(b *testing.B) {
	synod := synodRunner(b)
	if !interpreterWorks(b) {
		b.Skip("package machine cannot execute instructions yet")
	}
	qemu, haveQemu := qemuRunner()
	for _, engine := range []string{"interp", "jit"} {
		b.Run(engine, func(b *testing.B) {
			var mips, synodTime, qemuTime float64
			var runs int
			for b.Loop() {
				res, elapsed := timeGuest(b, synod, "--stats", "--engine", engine)
				m := statsLine.FindSubmatch(res.stderr)
				require.NotNil(b, m, "no statistics from synod run --stats; stderr: %q", tail(res.stderr))
				v, err := strconv.ParseFloat(string(m[2]), 64)
				require.NoError(b, err)
				mips += v
				synodTime += elapsed.Seconds()
				runs++
				if haveQemu {
					b.StopTimer()
					qres, qelapsed := timeGuest(b, qemu)
					require.Equal(b, string(qres.stdout), string(res.stdout), "synod and qemu-hppa disagree")
					qemuTime += qelapsed.Seconds()
					b.StartTimer()
				}
			}
			b.ReportMetric(mips/float64(runs), "guest-MIPS")
			if haveQemu {
				b.ReportMetric(synodTime/float64(runs), "synod-s")
				b.ReportMetric(qemuTime/float64(runs), "qemu-s")
				b.ReportMetric(synodTime/qemuTime, "synod/qemu")
			}
		})
	}
}

// timeGuest runs the benchmark guest under r (synod run's flags first) and
// returns its result and wall-clock time.
func timeGuest(b *testing.B, r guestRunner, flags ...string) (guestResult, time.Duration) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), benchRunTimeout)
	defer cancel()
	r.prefix = append(append([]string{}, r.prefix...), flags...)
	cmd := r.command(ctx, corpusDir, benchGuest)
	start := time.Now()
	res, err := run(ctx, cmd)
	elapsed := time.Since(start)
	require.NoError(b, err)
	require.Zero(b, res.status, fmt.Sprintf("%s: %s exited with %d: %q", r.name, benchGuest, res.status, tail(res.stderr)))
	return res, elapsed
}
