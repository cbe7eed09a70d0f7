package p2p

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBackoffGrowsToItsBoundWithJitter(t *testing.T) {
	b := backoff{min: 10 * time.Millisecond, max: 80 * time.Millisecond}
	ceilings := []time.Duration{10, 20, 40, 80, 80, 80}
	for round := range 50 {
		for i, ceiling := range ceilings {
			ceiling *= time.Millisecond
			d := b.next()
			require.GreaterOrEqual(t, d, ceiling/2, "round %d step %d", round, i)
			require.Less(t, d, ceiling, "round %d step %d", round, i)
		}
		b.reset()
	}
}
