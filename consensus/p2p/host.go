package p2p

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/libp2p/go-libp2p/core/transport"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/synodvm/synod/consensus/cluster"
)

// newHost builds the libp2p host: fixed identity, Noise keyed to the
// cluster (clusterkey.go), TCP only, the cluster's gater, and none of
// libp2p's discovery or NAT-traversal services.
func newHost(key crypto.PrivKey, listen ma.Multiaddr, psk pnet.PSK, g *gater, handshakeFailed func(ma.Multiaddr)) (host.Host, error) {
	addrs, err := listenAddrs(listen)
	if err != nil {
		return nil, err
	}
	if err := checkBindable(addrs); err != nil {
		return nil, err
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(resourceLimits()))
	if err != nil {
		return nil, fmt.Errorf("resource manager: %w", err)
	}
	h, err := libp2p.New(
		libp2p.Identity(key),
		libp2p.Security(noise.ID, clusterNoise(psk)),
		libp2p.Transport(func(up transport.Upgrader, rm network.ResourceManager) (*tcp.TcpTransport, error) {
			return tcp.NewTCPTransport(watchingUpgrader{up, handshakeFailed}, rm, nil, tcp.DisableReuseport())
		}),
		libp2p.ListenAddrs(addrs...),
		libp2p.ConnectionGater(g),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(connmgr.NullConnMgr{}),
		libp2p.DisableRelay(),
		libp2p.Ping(false),
		libp2p.DisableMetrics(),
		libp2p.DisableIdentifyAddressDiscovery(),
		libp2p.UserAgent("synod"),
	)
	if err != nil {
		rm.Close()
		return nil, fmt.Errorf("start libp2p on %s: %w", listen, err)
	}
	return h, nil
}

// checkBindable tries the listen addresses before libp2p does: libp2p
// leaks goroutines when it fails to start, and the common failure (the
// port is taken) then gets a plain error.
func checkBindable(addrs []ma.Multiaddr) error {
	for _, a := range addrs {
		network, addr, err := manet.DialArgs(a)
		if err != nil {
			return fmt.Errorf("listen address %s: %w", a, err)
		}
		l, err := net.Listen(network, addr)
		if err != nil {
			return err
		}
		if err := l.Close(); err != nil {
			return err
		}
	}
	return nil
}

// listenAddrs turns the configured address into what the host binds: an
// IP address as is, a DNS name as the addresses it resolves to here (the
// other nodes dial the name, so it must name this host).
func listenAddrs(a ma.Multiaddr) ([]ma.Multiaddr, error) {
	host, port, err := cluster.ListenHostPort(a)
	if err != nil {
		return nil, err
	}
	switch a[0].Code() {
	case ma.P_IP4, ma.P_IP6:
		return []ma.Multiaddr{a}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("resolve listen address %s: %w", a, err)
	}
	var out []ma.Multiaddr
	for _, ip := range ips {
		proto := "ip4"
		if ip.IP.To4() == nil {
			proto = "ip6"
		}
		m, err := ma.NewMultiaddr("/" + proto + "/" + ip.IP.String() + "/tcp/" + port)
		if err != nil {
			return nil, fmt.Errorf("listen address %s: %w", a, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// resourceLimits sizes libp2p's resource manager for a cluster of at most
// nine nodes: each peer needs one connection (two while a simultaneous
// dial settles) carrying our stream each way plus identify's, so a
// handful per peer is plenty; anything beyond that is a bug or an attack.
// Unauthenticated (transient) connections are capped low so junk cannot
// crowd out the cluster. Memory comes from libp2p's own scaling at 1 GiB,
// which leaves each stream room to grow its window for snapshot-sized
// messages.
func resourceLimits() rcmgr.ConcreteLimitConfig {
	scaling := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&scaling)
	base := scaling.Scale(1<<30, 1024)
	return rcmgr.PartialLimitConfig{
		System: rcmgr.ResourceLimits{
			Conns: 64, ConnsInbound: 32, ConnsOutbound: 32,
			Streams: 512, FD: 128,
		},
		Transient: rcmgr.ResourceLimits{
			Conns: 16, ConnsInbound: 16, ConnsOutbound: 16,
			Streams: 64, FD: 16,
		},
		PeerDefault: rcmgr.ResourceLimits{
			Conns: 8, ConnsInbound: 4, ConnsOutbound: 4,
			Streams: 64,
		},
	}.Build(base)
}
