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
	// Release, when set, must be called once, when Data is no longer
	// used: Data is then memory the transport mapped for a large message
	// (a snapshot), which the garbage collector does not free.
	Release func()
}

// SnapshotSent is the outcome of one Transport.SendSnapshot. Err is nil
// once the peer has confirmed that it received the whole message intact
// and handed it to its Inbound.
type SnapshotSent struct {
	To  NodeID
	Err error
}

var (
	// ErrUnreachable is returned by Send when no connection to the peer
	// exists right now. Raft treats it as a hint (ReportUnreachable) and
	// resends later.
	ErrUnreachable = errors.New("peer unreachable")
	// ErrSnapshotInFlight is returned by SendSnapshot while an earlier
	// snapshot to the same peer is still on its way.
	ErrSnapshotInFlight = errors.New("a snapshot to this peer is still in flight")
)

// Transport carries opaque messages between the members of one cluster.
//
// Send never blocks on the network: a message that cannot be queued is
// dropped and reported, because the protocols above (raft, the replica
// runtime) retransmit, and a slow peer must never stall the event loop that
// drives consensus. Messages to one peer are delivered in the order sent or
// not at all.
//
// Snapshots are the exception to both the size limit and the ordering: a
// machine snapshot can be hundreds of megabytes, which would hold up every
// heartbeat and append queued behind it (a leader that cannot heartbeat is
// deposed) and cannot be held in a bounded queue. SendSnapshot therefore
// sends one large message on a channel of its own, in pieces, at the pace
// the receiver takes them, and reports when the receiver has it.
//
// The core and the simulator see only this interface; libp2p lives behind
// it in its own package and nothing else imports libp2p.
type Transport interface {
	// Send queues msg for delivery to the peer. The transport owns msg
	// after the call.
	Send(to NodeID, msg []byte) error
	// SendSnapshot starts sending one message of any size, given in two
	// parts: the peer receives a single Inbound whose Data is head
	// followed by body. It travels apart from Send's messages, neither
	// delayed by them nor delaying them, and in no particular order with
	// them. It returns at once; the outcome arrives on SnapshotsSent,
	// once for every call that returned nil, unless the transport is
	// closed first. One snapshot per peer is in flight at a time: another
	// fails with ErrSnapshotInFlight. The transport reads head and body
	// after the call and never modifies them.
	SendSnapshot(to NodeID, head, body []byte) error
	// SnapshotsSent delivers the outcome of every SendSnapshot.
	SnapshotsSent() <-chan SnapshotSent
	// Inbound delivers every received message. It is closed by Close.
	Inbound() <-chan Inbound
	// Close stops the transport and releases its connections.
	Close() error
}

// PeerWatcher is implemented by a transport that can tell that a peer's
// process has ended, not merely that the peer is unreachable: the peer's
// host refused a new connection right after the old one broke (a killed
// process's sockets are closed by its kernel; nothing listens any more).
// The log elects a new leader at once when its leader's process ends,
// instead of waiting out an election timeout. A partition gives no such
// signal, only silence, and is left to the timeout.
type PeerWatcher interface {
	// PeersGone delivers the id of each peer whose process ended.
	PeersGone() <-chan NodeID
}
