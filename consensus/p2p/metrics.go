package p2p

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a message or a connection is dropped, as metric labels.
const (
	dropQueueFull    = "queue_full"
	dropUnreachable  = "unreachable"
	dropDisconnected = "disconnected" // queued, then the connection failed

	refusedUnknownPeer = "unknown_peer"
	refusedHandshake   = "handshake"

	// snapshot directions and outcomes
	snapshotSent     = "sent"
	snapshotReceived = "received"
	snapshotOK       = "ok"
	snapshotFailed   = "failed"
)

// metrics counts traffic per peer (label "peer" is the NodeID) so an
// operator can see which link is slow or dropping.
type metrics struct {
	sentMessages, sentBytes *prometheus.CounterVec
	recvMessages, recvBytes *prometheus.CounterVec
	dropped                 *prometheus.CounterVec
	refused                 *prometheus.CounterVec
	connected               *prometheus.GaugeVec
	snapshots               *prometheus.CounterVec
	snapshotBytes           *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "synod", Subsystem: "p2p", Name: name, Help: help,
		}, labels)
	}
	m := &metrics{
		sentMessages:  counter("sent_messages_total", "Messages written to a peer's stream.", "peer"),
		sentBytes:     counter("sent_bytes_total", "Message bytes written to a peer's stream.", "peer"),
		recvMessages:  counter("received_messages_total", "Messages received from a peer.", "peer"),
		recvBytes:     counter("received_bytes_total", "Message bytes received from a peer.", "peer"),
		dropped:       counter("dropped_messages_total", "Messages dropped instead of sent, by reason.", "peer", "reason"),
		refused:       counter("refused_connections_total", "Connections refused: unknown peer id, or a failed handshake (wrong pre-shared key, junk).", "reason"),
		snapshots:     counter("snapshots_total", "Snapshot transfers to and from a peer, by direction and outcome.", "peer", "direction", "outcome"),
		snapshotBytes: counter("snapshot_bytes_total", "Bytes of snapshots transferred whole, by direction.", "peer", "direction"),
		connected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "synod", Subsystem: "p2p", Name: "peer_connected",
			Help: "1 while the outbound stream to the peer is up.",
		}, []string{"peer"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.sentMessages, m.sentBytes, m.recvMessages, m.recvBytes, m.dropped, m.refused, m.connected, m.snapshots, m.snapshotBytes} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register p2p metrics: %w", err)
		}
	}
	return m, nil
}
