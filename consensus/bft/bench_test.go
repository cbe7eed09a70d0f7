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
// at all four replicas, on one core.
func BenchmarkOrdering(b *testing.B) {
	const n = 4
	cores := make([]*Core, n)
	for i := range cores {
		cfg := testConfig(consensus.NodeID(i+1), n)
		cfg.CheckpointInterval, cfg.Window = 64, 128
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
			for proposed < b.N {
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
