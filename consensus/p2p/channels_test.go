package p2p

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
)

// TestChannelsSplitMessagesByTheirMark: with Options.Channels, a message
// sent on a channel reaches that channel's reader only, unmarked and in
// order; a lossy channel's reader that falls behind loses what overflows
// without holding up the other channel; a message that names no channel
// is dropped.
func TestChannelsSplitMessagesByTheirMark(t *testing.T) {
	c := newTestCluster(t, 2)
	channels := func(o *Options) { o.Channels = []ChannelOptions{{}, {Buffer: 2, Lossy: true}} }
	n1 := start(t, c, 1, nil, channels)
	n2 := start(t, c, 2, nil, channels)
	waitConnected(t, n1, 2)
	waitConnected(t, n2, 1)

	const sent = 10
	for i := range sent {
		require.NoError(t, n1.SendOn(2, 1, []byte{'o', byte(i)}))
	}
	require.NoError(t, n1.Send(2, []byte{7, 'x'}), "names channel 7, which node 2 does not have")
	require.NoError(t, n1.Send(2, nil))
	for i := range sent {
		require.NoError(t, n1.SendOn(2, 0, []byte{'e', byte(i)}))
	}
	for i := range sent {
		select {
		case in := <-n2.Channel(0):
			require.Equal(t, consensus.NodeID(1), in.From)
			require.Equal(t, []byte{'e', byte(i)}, in.Data)
		case <-time.After(patience):
			t.Fatalf("engine message %d did not arrive", i)
		}
	}
	var lossy []byte
	for len(n2.Channel(1)) > 0 {
		in := <-n2.Channel(1)
		require.Equal(t, byte('o'), in.Data[0])
		lossy = append(lossy, in.Data[1])
	}
	require.Equal(t, []byte{0, 1}, lossy, "the lossy channel holds the first two, and dropped the rest")
	require.Nil(t, n2.Channel(2))
	select {
	case in := <-n2.Inbound():
		t.Fatalf("Inbound delivered %v with channels set", in)
	default:
	}
}
