package p2p

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/synodvm/synod/consensus"
)

// RequestProtocolID names one-shot requests between synod nodes: the asker
// writes one frame, the answerer writes back a large message (large.go)
// whose first byte is answerOK or answerError, and the stream ends. They
// carry what does not belong in the ordered message stream, such as a
// whole replica state for a node that must replace its own, which has no
// size limit.
const RequestProtocolID protocol.ID = "/synod/request/2.0.0"

// maxRequestSize bounds a request and the text of a refusal.
const maxRequestSize = 64 << 10

// requestTimeout bounds how long a node spends answering one request.
const requestTimeout = time.Minute

// An answer frame starts with one of these.
const (
	answerOK    byte = 0
	answerError byte = 1
)

// Responder answers one request from a cluster member.
type Responder func(ctx context.Context, from consensus.NodeID, req []byte) ([]byte, error)

// ErrRefused wraps the error a peer answered a request with.
var ErrRefused = errors.New("peer refused the request")

// HandleRequests makes r answer the requests of the other nodes; until it
// is called, every request is refused.
func (t *Transport) HandleRequests(r Responder) {
	t.host.SetStreamHandler(RequestProtocolID, func(s network.Stream) { t.answer(s, r) })
}

// answer serves one request stream. Only members get here: the gater
// refuses everyone else's connections.
func (t *Transport) answer(s network.Stream, r Responder) {
	from, ok := t.members[s.Conn().RemotePeer()]
	if !ok || !t.startReader() {
		s.Reset()
		return
	}
	defer t.readers.Done()
	defer s.Close()
	ctx, cancel := context.WithTimeout(t.ctx, requestTimeout)
	defer cancel()
	_ = s.SetDeadline(time.Now().Add(requestTimeout))
	req, err := readFrame(bufio.NewReader(s), maxRequestSize)
	if err != nil {
		t.log.Warn("p2p: unreadable request from a peer", "peer_node", from, "err", err)
		s.Reset()
		return
	}
	answer, err := r(ctx, from, req)
	head := []byte{answerOK}
	if err != nil {
		why := err.Error()
		head, answer = append([]byte{answerError}, why[:min(len(why), maxRequestSize-1)]...), nil
	}
	if err := writeLarge(s, head, answer, t.opts.SnapshotChunkSize, requestTimeout); err != nil {
		t.log.Debug("p2p: answer to a peer not delivered", "peer_node", from, "err", err)
	}
}

// Request asks node to and returns its answer. It fails with ErrRefused
// when the peer answered with an error, and with the cause when the peer
// could not be reached or the exchange broke.
func (t *Transport) Request(ctx context.Context, to consensus.NodeID, req []byte) ([]byte, error) {
	n, err := t.opts.Cluster.Node(to)
	if err != nil || to == t.opts.Self {
		return nil, fmt.Errorf("request to node %d: %w", to, ErrUnknownPeer)
	}
	if len(req) > maxRequestSize {
		return nil, fmt.Errorf("request of %d bytes to node %d: %w", len(req), to, ErrMessageTooLarge)
	}
	s, err := t.host.NewStream(ctx, n.PeerID, RequestProtocolID)
	if err != nil {
		return nil, fmt.Errorf("request to node %d: %w", to, err)
	}
	defer s.Close()
	// The answer may be long in coming (the peer takes a snapshot) and in
	// arriving (it may be hundreds of megabytes): the caller's context
	// bounds the whole, requestTimeout each step.
	stopReset := context.AfterFunc(ctx, func() { s.Reset() })
	defer stopReset()
	w := bufio.NewWriter(s)
	if err := errors.Join(s.SetWriteDeadline(time.Now().Add(requestTimeout)), writeFrame(w, req), w.Flush(), s.CloseWrite()); err != nil {
		s.Reset()
		return nil, fmt.Errorf("request to node %d: %w", to, err)
	}
	frame, _, err := readLarge(s, bufio.NewReaderSize(s, 64<<10), maxRequestSize, t.opts.SnapshotChunkSize, requestTimeout, newHeapSink)
	if err != nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	switch {
	case err != nil:
		s.Reset()
		return nil, fmt.Errorf("answer from node %d: %w", to, err)
	case len(frame) == 0:
		return nil, fmt.Errorf("answer from node %d: empty", to)
	case frame[0] == answerOK:
		return frame[1:], nil
	case frame[0] == answerError:
		return nil, fmt.Errorf("node %d: %w: %s", to, ErrRefused, frame[1:])
	}
	return nil, fmt.Errorf("answer from node %d: unknown status %d", to, frame[0])
}
