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
const benchSize = 64 << 20

const benchBlock = 4096

// writer is one way of making a 4 KiB write durable.
type writer func(off int64, seq uint64) error

// BenchmarkWrite4K prints the throughput and latency (p50, p99) of
// durable 4 KiB writes, sequential and random, one outstanding at a
// time: through the client to a server on loopback, and with pwrite and
// fdatasync on a file directly (what the server does for the image,
// before it does the same for its sequence table). "8 callers" shares
// one client among 8 goroutines: the server commits their writes in
// batches.
//
//	go test ./peripherals/disk -run '^$' -bench Write4K
func BenchmarkWrite4K(b *testing.B) {
	var seq atomic.Uint64
	ways := []struct {
		name string
		open func(b *testing.B) writer
	}{
		{"file", func(b *testing.B) writer {
			f, _, err := openImage(filepath.Join(b.TempDir(), "direct.img"), benchSize)
			require.NoError(b, err)
			b.Cleanup(func() { f.Close() })
			img, data := imageFile{f}, block(benchBlock, 'f')
			return func(off int64, _ uint64) error {
				if _, err := img.WriteAt(data, off); err != nil {
					return err
				}
				return img.Sync()
			}
		}},
		{"client", func(b *testing.B) writer {
			s := serveSized(b, filepath.Join(b.TempDir(), "served.img"), benchSize)
			c := newTestClient(b, s.addr, "bench")
			data := block(benchBlock, 'c')
			return func(off int64, seq uint64) error {
				ctx, cancel := context.WithTimeout(context.Background(), patience)
				defer cancel()
				_, err := c.Write(ctx, seq, off, data)
				return err
			}
		}},
	}
	patterns := []struct {
		name    string
		callers int
		offset  func(rng *rand.Rand, i int) int64
	}{
		{"sequential", 1, func(_ *rand.Rand, i int) int64 { return int64(i) * benchBlock % benchSize }},
		{"random", 1, func(rng *rand.Rand, _ int) int64 { return rng.Int64N(benchSize/benchBlock) * benchBlock }},
		{"random-8-callers", 8, func(rng *rand.Rand, _ int) int64 { return rng.Int64N(benchSize/benchBlock) * benchBlock }},
	}
	for _, w := range ways {
		for _, p := range patterns {
			if w.name == "file" && p.callers > 1 {
				continue
			}
			b.Run(w.name+"/"+p.name, func(b *testing.B) {
				write := w.open(b)
				latencies := make([]time.Duration, b.N)
				b.SetBytes(benchBlock)
				b.ResetTimer()
				var wg sync.WaitGroup
				errs := make(chan error, p.callers)
				for c := range p.callers {
					rng := rand.New(rand.NewPCG(uint64(c), 7))
					wg.Go(func() {
						for i := c; i < b.N; i += p.callers {
							start := time.Now()
							if err := write(p.offset(rng, i), seq.Add(1)); err != nil {
								errs <- fmt.Errorf("write %d: %w", i, err)
								return
							}
							latencies[i] = time.Since(start)
						}
					})
				}
				wg.Wait()
				elapsed := b.Elapsed()
				b.StopTimer()
				close(errs)
				for err := range errs {
					require.NoError(b, err)
				}
				slices.Sort(latencies)
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "writes/s")
				b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds()), "p99-µs")
			})
		}
	}
}
