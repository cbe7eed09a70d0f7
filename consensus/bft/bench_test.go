package bft

import (
	"fmt"
	"testing"

	"github.com/synodvm/synod/consensus"
)

// BenchmarkOrdering measures the whole cluster's work per ordered entry:
// four replicas on one goroutine exchanging messages in order, every
// message signed and checked, no faults, proposals of 64 bytes from every
// member as fast as back-pressure allows. The figure is per entry executed
// at all four replicas, on one core. Unbounded, the batches grow to over
// a hundred requests and the requests' signatures are nearly all the
// work; batches of 4 are nearer a cluster's (2 to 7 requests under 16
// clients, docs/byzantine.md), where the votes' share is larger. Since a
// member gathers the proposals made while its request waits into one
// request, proposing all it may fills requests of hundreds of proposals;
// paced, each member proposes one entry a round of messages, nearer a
// cluster's clients, which wait for their replies.
func BenchmarkOrdering(b *testing.B) {
	b.Run("unbounded", func(b *testing.B) { benchmarkOrdering(b, 0, 0) })
	b.Run("batch4", func(b *testing.B) { benchmarkOrdering(b, 4, 0) })
	b.Run("paced", func(b *testing.B) { benchmarkOrdering(b, 0, 1) })
}

// benchmarkOrdering runs BenchmarkOrdering with at most maxBatch
// requests a batch (0: the default) and perRound proposals a member each
// round (0: as many as back-pressure allows).
func benchmarkOrdering(b *testing.B, maxBatch, perRound int) {
	const n = 4
	cores := make([]*Core, n)
	for i := range cores {
		cfg := testConfig(consensus.NodeID(i+1), n)
		cfg.CheckpointInterval, cfg.Window, cfg.MaxBatchRequests = 64, 128, maxBatch
		core, err := NewCore(cfg, nil)
		if err != nil {
			b.Fatal(err)
		}
		cores[i] = core
	}
	type packet struct {
		from, to consensus.NodeID
		data     []byte
	}
	var queue []packet
	executed := make([]uint64, n)
	data := make([]byte, 64)
	proposed := 0
	b.ResetTimer()
	for executed[n-1] < uint64(b.N) {
		for i, c := range cores {
			for k := 0; proposed < b.N && (perRound == 0 || k < perRound); k++ {
				copy(data, fmt.Sprintf("entry %d", proposed))
				if c.Propose(append([]byte(nil), data...)) != nil {
					break
				}
				proposed++
			}
			rd := c.Ready()
			for _, m := range rd.Messages {
				queue = append(queue, packet{c.id, m.To, m.Data})
			}
			for _, a := range rd.Applies {
				executed[i] += uint64(len(a.Entries))
			}
			if rd.SnapshotDue != nil {
				if err := c.SnapshotTaken(rd.SnapshotDue.Seq, []byte(fmt.Sprint(executed[i]))); err != nil {
					b.Fatal(err)
				}
			}
		}
		if len(queue) == 0 {
			for _, c := range cores {
				c.Tick()
			}
			continue
		}
		batch := queue
		queue = nil
		for _, p := range batch {
			_ = cores[p.to-1].Step(p.from, p.data)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}
