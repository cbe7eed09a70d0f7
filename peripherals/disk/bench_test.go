package disk

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// benchSize is the image the benchmark writes to: large enough that
// random 4 KiB writes rarely meet.
const (
	benchSize  = 64 << 20
	benchBlock = 4096
	// benchPhase is how many writes each caller makes one way before the
	// other way takes its turn.
	benchPhase = 32
)

// writer is one way of making a 4 KiB write durable.
type writer struct {
	name  string
	write func(off int64) error
}

// BenchmarkWrite4K prints the throughput and latency (p50, p99) of
// durable 4 KiB writes, sequential and random, one outstanding at a time
// or from 8 callers at once: through the client to a server on loopback,
// and with pwrite and fdatasync on a file directly (what the server does
// for the image, before it does the same for its sequence table). The
// two ways take turns every few writes on the same offsets, so that both
// see the same machine: it is shared, and its disk's speed drifts. ns/op
// counts both ways.
//
//	go test ./peripherals/disk -run '^$' -bench Write4K
func BenchmarkWrite4K(b *testing.B) {
	for _, p := range []struct {
		name    string
		callers int
		offset  func(rng *rand.Rand, i int) int64
	}{
		{"sequential", 1, func(_ *rand.Rand, i int) int64 { return int64(i) * benchBlock % benchSize }},
		{"random", 1, func(rng *rand.Rand, _ int) int64 { return rng.Int64N(benchSize/benchBlock) * benchBlock }},
		{"random-8-callers", 8, func(rng *rand.Rand, _ int) int64 { return rng.Int64N(benchSize/benchBlock) * benchBlock }},
	} {
		b.Run(p.name, func(b *testing.B) {
			ways := []writer{fileWriter(b), clientWriter(b)}
			latencies := make([][]time.Duration, len(ways))
			spent := make([]time.Duration, len(ways))
			rng := rand.New(rand.NewPCG(1, 2))
			b.ResetTimer()
			for done := 0; done < b.N; {
				offsets := make([]int64, min(benchPhase*p.callers, b.N-done))
				for i := range offsets {
					offsets[i] = p.offset(rng, done+i)
				}
				for w, way := range ways {
					start := time.Now()
					ds, err := writeAll(way, offsets, p.callers)
					require.NoError(b, err)
					spent[w] += time.Since(start)
					latencies[w] = append(latencies[w], ds...)
				}
				done += len(offsets)
			}
			b.StopTimer()
			for w, way := range ways {
				ds := latencies[w]
				slices.Sort(ds)
				b.ReportMetric(float64(len(ds))/spent[w].Seconds(), way.name+"-writes/s")
				b.ReportMetric(float64(ds[len(ds)/2].Microseconds()), way.name+"-p50-µs")
				b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds()), way.name+"-p99-µs")
			}
		})
	}
}

// writeAll writes a block at each offset, spread over callers
// goroutines, and returns each write's latency.
func writeAll(w writer, offsets []int64, callers int) ([]time.Duration, error) {
	latencies := make([]time.Duration, len(offsets))
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for c := range callers {
		wg.Go(func() {
			for i := c; i < len(offsets); i += callers {
				start := time.Now()
				if err := w.write(offsets[i]); err != nil {
					errs <- fmt.Errorf("%s at %d: %w", w.name, offsets[i], err)
					return
				}
				latencies[i] = time.Since(start)
			}
		})
	}
	wg.Wait()
	close(errs)
	return latencies, <-errs
}

func fileWriter(b *testing.B) writer {
	f, _, err := openImage(filepath.Join(b.TempDir(), "direct.img"), benchSize)
	require.NoError(b, err)
	b.Cleanup(func() { f.Close() })
	img, data := imageFile{f}, block(benchBlock, 'f')
	return writer{"file", func(off int64) error {
		if _, err := img.WriteAt(data, off); err != nil {
			return err
		}
		return img.Sync()
	}}
}

func clientWriter(b *testing.B) writer {
	s := serveSized(b, filepath.Join(b.TempDir(), "served.img"), benchSize)
	c := newTestClient(b, s.addr, "bench")
	data := block(benchBlock, 'c')
	var seq atomic.Uint64
	return writer{"client", func(off int64) error {
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		_, err := c.Write(ctx, seq.Add(1), off, data)
		return err
	}}
}
