package consensus

import "errors"

// NodeID names a cluster member. Zero is never a valid id: etcd raft
// reserves it for "no node".
type NodeID uint64

// Inbound is one message received from a peer whose identity the transport
// has verified (libp2p peer id, or the in-memory network's sender).
type Inbound struct {
	From NodeID
	Data []byte
}

// ErrUnreachable is returned by Send when no connection to the peer exists
// right now. Raft treats it as a hint (ReportUnreachable) and resends later.
var ErrUnreachable = errors.New("peer unreachable")

// Transport carries opaque messages between the members of one cluster.
//
// Send never blocks on the network: a message that cannot be queued is
// dropped and reported, because the protocols above (raft, the replica
// runtime) retransmit, and a slow peer must never stall the event loop that
// drives consensus. Messages to one peer are delivered in the order sent or
// not at all.
//
// The core and the simulator see only this interface; libp2p lives behind
// it in its own package and nothing else imports libp2p.
type Transport interface {
	// Send queues msg for delivery to the peer. The transport owns msg
	// after the call.
	Send(to NodeID, msg []byte) error
	// Inbound delivers every received message. It is closed by Close.
	Inbound() <-chan Inbound
	// Close stops the transport and releases its connections.
	Close() error
}
