package p2p

import (
	"context"
	"log/slog"
	"net"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/transport"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/internal/rawio"
)

// gater admits only the peers of the cluster config, in both directions,
// and logs every refusal with the peer id and address. Identity is only
// known after the Noise handshake, so inbound refusals happen in
// InterceptSecured; a stranger never gets a stream.
type gater struct {
	members map[peer.ID]consensus.NodeID
	log     *slog.Logger
	limit   *logLimiter
	refused func(reason string)
}

func (g *gater) InterceptPeerDial(p peer.ID) bool {
	if _, ok := g.members[p]; ok {
		return true
	}
	if g.limit.allow(p.String()) {
		g.log.Warn("p2p: refused to dial a peer not in the cluster config", "peer", p)
	}
	g.refused(refusedUnknownPeer)
	return false
}

func (g *gater) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }

func (g *gater) InterceptAccept(network.ConnMultiaddrs) bool { return true }

func (g *gater) InterceptSecured(dir network.Direction, p peer.ID, addrs network.ConnMultiaddrs) bool {
	if w, ok := addrs.(*watchedConn); ok {
		w.secured.Store(true)
	}
	if _, ok := g.members[p]; ok {
		return true
	}
	if g.limit.allow(p.String()) {
		g.log.Warn("p2p: refused a peer not in the cluster config",
			"peer", p, "remote", addrs.RemoteMultiaddr(), "direction", dir)
	}
	g.refused(refusedUnknownPeer)
	return false
}

func (g *gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }

// watchingUpgrader wraps libp2p's upgrader so that an inbound connection
// that dies before the secure handshake completes is reported. With a
// private network that is what a peer with the wrong pre-shared key looks
// like (its bytes decrypt to noise and negotiation fails inside libp2p,
// which only logs it at debug level), and also a port scanner or junk.
type watchingUpgrader struct {
	transport.Upgrader
	failed func(remote ma.Multiaddr)
}

// Upgrade secures an outbound connection, whose reads and writes are
// raw system calls too (rawIO).
func (u watchingUpgrader) Upgrade(ctx context.Context, t transport.Transport, c manet.Conn, dir network.Direction, p peer.ID, scope network.ConnManagementScope) (transport.CapableConn, error) {
	return u.Upgrader.Upgrade(ctx, t, rawIO(c), dir, p, scope)
}

func (u watchingUpgrader) UpgradeGatedMaListener(t transport.Transport, l transport.GatedMaListener) transport.Listener {
	return u.Upgrader.UpgradeGatedMaListener(t, watchingListener{l, u.failed})
}

type watchingListener struct {
	transport.GatedMaListener
	failed func(remote ma.Multiaddr)
}

func (l watchingListener) Accept() (manet.Conn, network.ConnManagementScope, error) {
	c, scope, err := l.GatedMaListener.Accept()
	if err != nil {
		return c, scope, err
	}
	return &watchedConn{Conn: rawIO(c), failed: l.failed}, scope, nil
}

// watchedConn is a raw inbound connection whose handshake outcome is
// reported once: the gater marks it secured, and a Close before that means
// the handshake failed.
type watchedConn struct {
	manet.Conn
	failed  func(remote ma.Multiaddr)
	secured atomic.Bool
	closed  atomic.Bool
}

func (c *watchedConn) Close() error {
	if !c.closed.Swap(true) && !c.secured.Load() {
		c.failed(c.RemoteMultiaddr())
	}
	return c.Conn.Close()
}

// rawConn is a connection to a peer whose reads and writes keep their
// goroutine's processor: every message of the cluster crosses one, and
// made the usual way they woke Go's monitor thread many times a
// millisecond (internal/rawio).
type rawConn struct {
	manet.Conn
	raw net.Conn
}

func rawIO(c manet.Conn) manet.Conn { return rawConn{Conn: c, raw: rawio.Wrap(c)} }

func (c rawConn) Read(b []byte) (int, error)  { return c.raw.Read(b) }
func (c rawConn) Write(b []byte) (int, error) { return c.raw.Write(b) }
