package p2p

import (
	"context"
	"log/slog"
	"testing"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/cluster"
)

// rawHost is a legitimate member's libp2p host without our framing, so a
// test can write arbitrary bytes on the message protocol.
type rawHost struct{ h host.Host }

func rawPeer(t *testing.T, c *cluster.Config, id consensus.NodeID) *rawHost {
	t.Helper()
	key, err := c.LoadKey(id)
	require.NoError(t, err)
	self, err := c.Node(id)
	require.NoError(t, err)
	members := map[peer.ID]consensus.NodeID{}
	for _, n := range c.Nodes {
		members[n.PeerID] = n.ID
	}
	g := &gater{members: members, log: slog.New(slog.DiscardHandler), limit: newLogLimiter(0), refused: func(string) {}}
	h, err := newHost(key, self.Listen, c.PreSharedKey(), g, func(ma.Multiaddr) {})
	require.NoError(t, err)
	r := &rawHost{h}
	t.Cleanup(func() { h.Close() })
	return r
}

func (r *rawHost) stream(t *testing.T, to cluster.Node) network.Stream {
	t.Helper()
	return r.streamOf(t, to, ProtocolID)
}

// streamOf opens a stream of protocol proto to node to.
func (r *rawHost) streamOf(t *testing.T, to cluster.Node, proto protocol.ID) network.Stream {
	t.Helper()
	r.h.Peerstore().AddAddrs(to.PeerID, []ma.Multiaddr{to.Listen}, peerstore.PermanentAddrTTL)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	s, err := r.h.NewStream(ctx, to.PeerID, proto)
	require.NoError(t, err)
	return s
}

func (r *rawHost) close(t *testing.T) {
	t.Helper()
	require.NoError(t, r.h.Close())
}
