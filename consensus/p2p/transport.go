// Package p2p is the node-to-node transport of a real synod cluster:
// consensus.Transport on go-libp2p.
//
// Each node has a fixed ed25519 identity (its key file); the cluster shares
// a pre-shared key, so the network is private and a stranger's bytes are
// noise to us; Noise authenticates every connection; a connection gater
// admits only the peer ids of the cluster config. Nothing else of libp2p is
// switched on: no mDNS, DHT, relay, NAT traversal or ping service.
//
// Messages travel as length-prefixed frames on protocol /synod/msg/1.0.0.
// Every node keeps one outbound stream to every other node and writes only
// to it, so each ordered pair of nodes has exactly one stream and messages
// from one node to another arrive in the order sent (or not at all). A
// goroutine per peer dials, redials with bounded exponential backoff with
// jitter, and drains that peer's bounded queue; Send only appends to the
// queue, so a slow or dead peer never stalls the caller.
//
// Snapshots (SendSnapshot) have a protocol of their own,
// /synod/snapshot/1.0.0 (snapshot.go): one stream per snapshot, written
// in chunks at the receiver's pace, confirmed by the receiver, with no
// size limit; the message stream keeps carrying heartbeats and appends
// meanwhile.
package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/cluster"
)

// ProtocolID names the message stream between synod nodes.
const ProtocolID protocol.ID = "/synod/msg/1.0.0"

// Errors Send returns besides consensus.ErrUnreachable. Each is wrapped
// with the destination node.
var (
	ErrUnknownPeer     = errors.New("node is not a peer in the cluster config")
	ErrQueueFull       = errors.New("send queue full; message dropped")
	ErrMessageTooLarge = errors.New("message larger than MaxMessageSize")
	ErrClosed          = errors.New("transport closed")
)

// Options configure a Transport. Zero values take the defaults documented
// on each field.
type Options struct {
	// Cluster is the loaded cluster config; it supplies the peers, their
	// addresses and identities, and the pre-shared key. Required.
	Cluster *cluster.Config
	// Self is this node's id in Cluster. Required.
	Self consensus.NodeID
	// Key is this node's private key; nil loads it from the node's
	// key_file (checked against its peer_id either way).
	Key crypto.PrivKey
	// Logger receives connection events and refusals; nil means slog.Default().
	Logger *slog.Logger
	// Metrics, when set, receives the per-peer traffic counters.
	Metrics prometheus.Registerer

	// MaxMessageSize bounds one message, both ways (default 64 MiB). The
	// receiver allocates a frame only after checking it against this, so
	// it is also the most one peer can make us allocate at once for a
	// message. Snapshots are not messages: they have no limit.
	MaxMessageSize int
	// QueueMessages bounds each peer's send queue in messages (default
	// 4096). A full queue drops: raft retransmits, and a backlog to a slow
	// peer would only be stale by the time it drained.
	QueueMessages int
	// QueueBytes bounds each peer's send queue in bytes (default 64 MiB).
	QueueBytes int
	// InboundBuffer is the capacity of the Inbound channel (default 1024).
	// When it is full, reading stops and the peers' streams back up into
	// their own queues: back-pressure instead of unbounded memory.
	InboundBuffer int
	// DialTimeout bounds one connection attempt (default 5 s).
	DialTimeout time.Duration
	// SnapshotChunkSize is how much of a snapshot is written or read at a
	// time (default 1 MiB), the unit of progress SnapshotTimeout watches.
	SnapshotChunkSize int
	// MapSnapshots holds each snapshot received in a memory file rather
	// than in the heap (largesink_linux.go), and delivers it mapped, with
	// an Inbound.Release that the receiver must call once it no longer
	// uses the data; raftlog does. Off, a snapshot is in the heap and has
	// no Release.
	MapSnapshots bool
	// SnapshotTimeout is how long a snapshot transfer may make no
	// progress (default 30 s): the peer takes no chunk, or does not
	// confirm. A transfer that keeps moving takes as long as it needs.
	SnapshotTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between attempts to reach a
	// peer (defaults 50 ms and 2 s): short enough that a restarted node
	// is back within a raft election timeout, long enough not to spin on a
	// node that is down.
	MinBackoff, MaxBackoff time.Duration
	// RefusalLogInterval is how often the same refused peer id or address
	// is logged again (default 1 minute); metrics count every refusal.
	RefusalLogInterval time.Duration
}

func (o *Options) setDefaults() {
	setDefault := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	setDefault(&o.MaxMessageSize, 64<<20)
	setDefault(&o.QueueMessages, 4096)
	setDefault(&o.QueueBytes, 64<<20)
	setDefault(&o.InboundBuffer, 1024)
	setDefault(&o.SnapshotChunkSize, 1<<20)
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.SnapshotTimeout <= 0 {
		o.SnapshotTimeout = 30 * time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 50 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(2*time.Second, o.MinBackoff)
	}
	if o.RefusalLogInterval <= 0 {
		o.RefusalLogInterval = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Transport is a consensus.Transport over libp2p. Make one with New.
type Transport struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics
	// refusalLogs keeps refused strangers from flooding the log.
	refusalLogs *logLimiter
	host        host.Host
	members     map[peer.ID]consensus.NodeID // every peer but self
	links       map[consensus.NodeID]*link
	recv        map[consensus.NodeID]*receiver
	inbound     chan consensus.Inbound
	// snapshotsSent carries the outcome of each SendSnapshot.
	snapshotsSent chan consensus.SnapshotSent
	// gone carries the peers whose process ended (consensus.PeerWatcher).
	gone chan consensus.NodeID

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc

	// mu guards closed, readers.Add and senders.Add against Close, and
	// the snapshot streams.
	mu     sync.Mutex
	closed bool
	// snapshotsOut holds the peers a snapshot is on its way to;
	// snapshotsIn the stream each peer's snapshot arrives on.
	snapshotsOut map[consensus.NodeID]bool
	snapshotsIn  map[consensus.NodeID]network.Stream
	senders      sync.WaitGroup
	readers      sync.WaitGroup
}

var (
	_ consensus.Transport   = (*Transport)(nil)
	_ consensus.PeerWatcher = (*Transport)(nil)
)

// testHookHandlersSet, set only by tests, runs in New as soon as the
// transport's stream handlers are registered: from then on a peer's
// stream may arrive.
var testHookHandlersSet func()

// New starts the transport of node opts.Self: it listens on the node's
// address and starts connecting to every other node of the cluster.
func New(opts Options) (*Transport, error) {
	if opts.Cluster == nil {
		return nil, errors.New("p2p: Options.Cluster is nil")
	}
	opts.setDefaults()
	self, err := opts.Cluster.Node(opts.Self)
	if err != nil {
		return nil, fmt.Errorf("p2p: %w", err)
	}
	key := opts.Key
	if key == nil {
		if key, err = opts.Cluster.LoadKey(opts.Self); err != nil {
			return nil, fmt.Errorf("p2p: %w", err)
		}
	}
	if id, err := peer.IDFromPrivateKey(key); err != nil || id != self.PeerID {
		return nil, fmt.Errorf("p2p: the key given for node %d is not the key of its peer_id %s", opts.Self, self.PeerID)
	}
	m, err := newMetrics(opts.Metrics)
	if err != nil {
		return nil, fmt.Errorf("p2p: %w", err)
	}
	t := &Transport{
		opts:    opts,
		log:     opts.Logger.With("node", opts.Self),
		metrics: m,
		members: map[peer.ID]consensus.NodeID{},
		links:   map[consensus.NodeID]*link{},
		recv:    map[consensus.NodeID]*receiver{},
		inbound: make(chan consensus.Inbound, opts.InboundBuffer),

		snapshotsSent: make(chan consensus.SnapshotSent, len(opts.Cluster.Nodes)),
		gone:          make(chan consensus.NodeID, len(opts.Cluster.Nodes)),
		snapshotsOut:  map[consensus.NodeID]bool{},
		snapshotsIn:   map[consensus.NodeID]network.Stream{},
	}
	for _, n := range opts.Cluster.Nodes {
		if n.ID != opts.Self {
			t.members[n.PeerID] = n.ID
		}
	}
	t.refusalLogs = newLogLimiter(opts.RefusalLogInterval)
	t.host, err = newHost(key, self.Listen, opts.Cluster.PreSharedKey(), &gater{
		members: t.members,
		log:     t.log,
		limit:   t.refusalLogs,
		refused: func(reason string) { m.refused.WithLabelValues(reason).Inc() },
	}, t.handshakeFailed)
	if err != nil {
		return nil, fmt.Errorf("p2p: node %d: %w", opts.Self, err)
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	// The host listens already: a peer's stream may arrive the moment a
	// handler is registered, and the handlers read links and recv
	// unlocked, so both are complete before.
	for _, n := range opts.Cluster.Nodes {
		if n.ID == opts.Self {
			continue
		}
		t.host.Peerstore().AddAddrs(n.PeerID, []ma.Multiaddr{n.Listen}, peerstore.PermanentAddrTTL)
		t.links[n.ID] = newLink(t, n)
		t.recv[n.ID] = &receiver{}
	}
	t.host.SetStreamHandler(ProtocolID, t.handleStream)
	t.host.SetStreamHandler(SnapshotProtocolID, t.handleSnapshot)
	if testHookHandlersSet != nil {
		testHookHandlersSet()
	}
	for _, l := range t.links {
		t.senders.Go(func() { l.run(t.ctx) })
	}
	t.log.Info("p2p: listening", "peer", self.PeerID, "addrs", t.host.Addrs())
	return t, nil
}

// Send queues msg for node to. It never blocks: it fails at once when the
// peer is unknown, not connected (consensus.ErrUnreachable) or its queue
// is full, and the message is then dropped.
func (t *Transport) Send(to consensus.NodeID, msg []byte) error {
	l, ok := t.links[to]
	if !ok {
		return fmt.Errorf("send to node %d: %w", to, ErrUnknownPeer)
	}
	if len(msg) > t.opts.MaxMessageSize {
		return fmt.Errorf("send %d bytes to node %d: %w", len(msg), to, ErrMessageTooLarge)
	}
	if t.ctx.Err() != nil {
		return fmt.Errorf("send to node %d: %w", to, ErrClosed)
	}
	return l.send(msg)
}

// Inbound delivers every message received, with the sender's node id as
// proven by its libp2p identity. Close closes it.
func (t *Transport) Inbound() <-chan consensus.Inbound { return t.inbound }

// PeersGone delivers each peer whose process ended: a link to it broke
// and the peer's host refused the connection made again at once.
func (t *Transport) PeersGone() <-chan consensus.NodeID { return t.gone }

// peerGone reports that id's process ended. It never blocks: one report
// of a peer still unread is enough.
func (t *Transport) peerGone(id consensus.NodeID) {
	select {
	case t.gone <- id:
	default:
	}
}

// Close stops every goroutine, closes all connections and then Inbound.
// Messages still queued are dropped. Calling it again does nothing.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.mu.Unlock()

	t.cancel()
	t.host.RemoveStreamHandler(ProtocolID)
	t.host.RemoveStreamHandler(SnapshotProtocolID)
	t.host.RemoveStreamHandler(RequestProtocolID)
	err := t.host.Close()
	t.senders.Wait()
	t.readers.Wait()
	close(t.inbound)
	if err != nil {
		return fmt.Errorf("p2p: close node %d: %w", t.opts.Self, err)
	}
	return nil
}

// Connected lists the peers whose outbound stream is up right now, in
// config order: the ones Send can reach.
func (t *Transport) Connected() []consensus.NodeID {
	var up []consensus.NodeID
	for _, n := range t.opts.Cluster.Nodes {
		if l, ok := t.links[n.ID]; ok && l.isConnected() {
			up = append(up, n.ID)
		}
	}
	return up
}

// Addrs are the addresses the transport listens on.
func (t *Transport) Addrs() []ma.Multiaddr { return t.host.Addrs() }

// handshakeFailed logs an inbound connection that never became a secure
// one: a peer with the wrong pre-shared key, or junk.
func (t *Transport) handshakeFailed(remote ma.Multiaddr) {
	if t.refusalLogs.allow(hostOf(remote)) {
		t.log.Warn("p2p: refused an inbound connection that failed the handshake (wrong pre-shared key, or not a synod node)",
			"remote", remote)
	}
	t.metrics.refused.WithLabelValues(refusedHandshake).Inc()
}

// hostOf is the address part of a remote multiaddr (ports change with
// every connection; the refusal log is limited per host).
func hostOf(a ma.Multiaddr) string {
	if len(a) == 0 {
		return ""
	}
	return a[0].String()
}

func nodeLabel(id consensus.NodeID) string { return strconv.FormatUint(uint64(id), 10) }
