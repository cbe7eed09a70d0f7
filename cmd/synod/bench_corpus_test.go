package main

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkCorpusEngines runs every corpus case under synod run with the
// interpreter, with the translator and with the interpreter again, one
// after the other in each round, and reports the median CPU time (user
// and system) of the first two and the medians of the rounds' ratios,
// jit/interp and interp/interp: the translator is to be faster than the
// interpreter on every program, including the short ones, where
// translating is most of its work, and the second ratio, the same work
// twice, is how far the machine's noise alone moves the first. Its
// output is the table of docs/machine.md:
//
//	go test ./cmd/synod -run '^$' -bench CorpusEngines -benchtime 5x
func BenchmarkCorpusEngines(b *testing.B) {
	if !interpreterWorks(b) {
		b.Skip("package machine cannot execute instructions yet")
	}
	cases, err := readManifest(filepath.Join(corpusDir, "manifest.txt"))
	require.NoError(b, err)
	synod := synodRunner(b)
	interp, jit := synod.withEngine("interp"), synod.withEngine("jit")
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var interpTimes, jitTimes, ratios, controls []float64
			for b.Loop() {
				i, ran := runCase(b, interp, c)
				if !ran {
					b.Skip("synod cannot run it here")
				}
				j, _ := runCase(b, jit, c)
				again, _ := runCase(b, interp, c)
				require.Equal(b, string(i.stdout), string(j.stdout), "the engines disagree on %s", c.name)
				interpTimes = append(interpTimes, i.cpu.Seconds())
				jitTimes = append(jitTimes, j.cpu.Seconds())
				ratios = append(ratios, j.cpu.Seconds()/i.cpu.Seconds())
				controls = append(controls, again.cpu.Seconds()/i.cpu.Seconds())
			}
			b.ReportMetric(median(interpTimes)*1e3, "interp-ms")
			b.ReportMetric(median(jitTimes)*1e3, "jit-ms")
			b.ReportMetric(median(ratios), "jit/interp")
			b.ReportMetric(median(controls), "interp/interp")
		})
	}
}

// median is the middle value of v (the mean of the two middle ones when
// there are an even number); v is sorted in place.
func median(v []float64) float64 {
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}
