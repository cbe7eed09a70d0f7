package p2p

import (
	"bufio"
	"errors"
	"io"
	"sync"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/synodvm/synod/consensus"
)

// receiver holds the current inbound stream from one peer. A peer that
// reconnects opens a new stream while the old one may still be delivering;
// the new one waits until the old reader has stopped, so messages from a
// peer reach Inbound in the order sent even across reconnects.
type receiver struct {
	mu     sync.Mutex
	stream network.Stream
	done   chan struct{} // closed when stream's reader has returned
}

// replace makes s the current stream and returns the previous one with
// its done channel (nil when there was none).
func (r *receiver) replace(s network.Stream, done chan struct{}) (network.Stream, chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old, oldDone := r.stream, r.done
	r.stream, r.done = s, done
	return old, oldDone
}

// handleStream serves one peer's stream of messages to us.
func (t *Transport) handleStream(s network.Stream) {
	from, ok := t.members[s.Conn().RemotePeer()]
	if !ok || !t.startReader() {
		s.Reset()
		return
	}
	defer t.readers.Done()
	if l, ok := t.links[from]; ok {
		l.peerOpened()
	}
	done := make(chan struct{})
	defer close(done)
	if old, oldDone := t.recv[from].replace(s, done); old != nil {
		old.Reset()
		select {
		case <-oldDone:
		case <-t.ctx.Done():
			s.Reset()
			return
		}
	}
	t.read(from, s)
}

// startReader registers a reader unless the transport is closing, so that
// Close can wait for every reader before closing Inbound.
func (t *Transport) startReader() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.readers.Add(1)
	return true
}

// read delivers frames from s until it ends. A bad frame closes the stream
// (the sender reconnects); it is logged, never fatal.
func (t *Transport) read(from consensus.NodeID, s network.Stream) {
	defer s.Reset()
	label := nodeLabel(from)
	// Resolved once per stream: a lookup by label costs a hash of it
	// and a lock, twice for every message.
	recvMessages, recvBytes := t.metrics.recvMessages.WithLabelValues(label), t.metrics.recvBytes.WithLabelValues(label)
	log := t.log.With("peer_node", from, "peer", s.Conn().RemotePeer(), "remote", s.Conn().RemoteMultiaddr())
	r := bufio.NewReaderSize(s, 64<<10)
	for {
		msg, err := readFrame(r, t.opts.MaxMessageSize)
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			log.Debug("p2p: peer closed its stream")
			return
		case errors.Is(err, errFrameTooLarge), errors.Is(err, io.ErrUnexpectedEOF):
			log.Warn("p2p: malformed frame from peer; closing its stream", "err", err)
			return
		default:
			log.Debug("p2p: stream from peer ended", "err", err)
			return
		}
		recvMessages.Inc()
		recvBytes.Add(float64(len(msg)))
		select {
		case t.inbound <- consensus.Inbound{From: from, Data: msg}:
		case <-t.ctx.Done():
			return
		}
	}
}
