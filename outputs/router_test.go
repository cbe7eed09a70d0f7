package outputs

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
)

// Addressed counts every new output by the node it is addressed to and
// kind, performed here or not, and a map it returned stays as it was.
func TestRouterCountsOutputsByNodeAndKind(t *testing.T) {
	var refilled int
	r := &Router{Self: 1, Devices: Devices{Refill: func(a Refill) { refilled += a.Bytes }}}
	r.Route([]Output{
		{Seq: 1, Node: 1, Action: Refill{Bytes: 16}},
		{Seq: 2, Node: 2, Action: Refill{Bytes: 16}},
		{Seq: 3, Node: 2, Action: CloseConn{}},
	})
	first := r.Addressed()
	r.Route([]Output{
		{Seq: 3, Node: 2, Action: CloseConn{}}, // already routed
		{Seq: 4, Node: 3, Action: Refill{Bytes: 16}},
	})
	refill, closeConn := KindOf(Refill{}), KindOf(CloseConn{})
	want := func(counts map[int]uint64) [NumKinds]uint64 {
		var byKind [NumKinds]uint64
		for k, n := range counts {
			byKind[k] = n
		}
		return byKind
	}
	require.Equal(t, map[consensus.NodeID][NumKinds]uint64{
		1: want(map[int]uint64{refill: 1}),
		2: want(map[int]uint64{refill: 1, closeConn: 1}),
		3: want(map[int]uint64{refill: 1}),
	}, r.Addressed())
	require.Len(t, first, 2, "a map Addressed returned does not change")
	require.Equal(t, 16, refilled, "only the output addressed here is performed")
}
