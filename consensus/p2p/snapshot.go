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

// SnapshotProtocolID names the snapshot streams between synod nodes. Each
// snapshot opens one: the sender writes it as a large message (large.go)
// and closes its side; the receiver hands it to Inbound and answers with
// one frame, answerOK or answerError and the reason. A snapshot thus never
// waits behind the raft messages of /synod/msg/1.0.0, nor they behind it,
// and is confirmed only once the receiver holds it whole.
const SnapshotProtocolID protocol.ID = "/synod/snapshot/1.0.0"

// maxAnswerSize bounds a snapshot's answer frame.
const maxAnswerSize = 64 << 10

// SendSnapshot implements consensus.Transport: head and body go to node to
// as one message on a snapshot stream of their own, and the outcome comes
// on SnapshotsSent. It fails at once when the peer is unknown, not
// connected (consensus.ErrUnreachable) or still receiving the previous
// snapshot (consensus.ErrSnapshotInFlight).
func (t *Transport) SendSnapshot(to consensus.NodeID, head, body []byte) error {
	l, ok := t.links[to]
	switch {
	case !ok:
		return fmt.Errorf("send snapshot to node %d: %w", to, ErrUnknownPeer)
	case len(head) > t.opts.MaxMessageSize:
		return fmt.Errorf("send a snapshot with a %d-byte head to node %d: %w", len(head), to, ErrMessageTooLarge)
	case t.ctx.Err() != nil:
		return fmt.Errorf("send snapshot to node %d: %w", to, ErrClosed)
	case !l.isConnected():
		return fmt.Errorf("send snapshot to node %d: %w", to, consensus.ErrUnreachable)
	}
	t.mu.Lock()
	switch {
	case t.closed:
		t.mu.Unlock()
		return fmt.Errorf("send snapshot to node %d: %w", to, ErrClosed)
	case t.snapshotsOut[to]:
		t.mu.Unlock()
		return fmt.Errorf("send snapshot to node %d: %w", to, consensus.ErrSnapshotInFlight)
	}
	t.snapshotsOut[to] = true
	t.senders.Add(1)
	t.mu.Unlock()
	go func() {
		defer t.senders.Done()
		start := time.Now()
		err := t.sendSnapshot(l, head, body)
		size := len(head) + len(body)
		if err != nil {
			err = fmt.Errorf("snapshot of %d bytes to node %d: %w", size, to, err)
			t.metrics.snapshots.WithLabelValues(l.label, snapshotSent, snapshotFailed).Inc()
			t.log.Warn("p2p: sending a snapshot failed", "peer_node", to, "bytes", size, "err", err)
		} else {
			t.metrics.snapshots.WithLabelValues(l.label, snapshotSent, snapshotOK).Inc()
			t.metrics.snapshotBytes.WithLabelValues(l.label, snapshotSent).Add(float64(size))
			t.log.Info("p2p: sent a snapshot", "peer_node", to, "bytes", size, "took", time.Since(start))
		}
		// The slot stays taken until the outcome is queued, so at most
		// one outcome per peer waits for the reader.
		select {
		case t.snapshotsSent <- consensus.SnapshotSent{To: to, Err: err}:
		case <-t.ctx.Done():
		}
		t.mu.Lock()
		delete(t.snapshotsOut, to)
		t.mu.Unlock()
	}()
	return nil
}

// SnapshotsSent implements consensus.Transport. It is never closed.
func (t *Transport) SnapshotsSent() <-chan consensus.SnapshotSent { return t.snapshotsSent }

// sendSnapshot opens a snapshot stream to l's peer, writes the snapshot
// and waits for the peer's answer.
func (t *Transport) sendSnapshot(l *link, head, body []byte) error {
	ctx, cancel := context.WithTimeout(t.ctx, t.opts.DialTimeout)
	s, err := t.host.NewStream(network.WithForceDirectDial(ctx, "synod cluster peer"), l.peer, SnapshotProtocolID)
	cancel()
	if err != nil {
		return fmt.Errorf("open a snapshot stream: %w", err)
	}
	stopReset := context.AfterFunc(t.ctx, func() { s.Reset() })
	defer stopReset()
	timeout := t.opts.SnapshotTimeout
	err = writeLarge(s, head, body, t.opts.SnapshotChunkSize, timeout)
	if err == nil {
		err = s.CloseWrite()
	}
	var answer []byte
	if err == nil {
		// The receiver answers once it has checked the whole snapshot and
		// handed it on, which may wait for its event loop: allow it a
		// timeout for each of the two.
		err = s.SetReadDeadline(time.Now().Add(2 * timeout))
	}
	if err == nil {
		answer, err = readFrame(bufio.NewReader(s), maxAnswerSize)
	}
	if err != nil {
		s.Reset()
		if t.ctx.Err() != nil {
			return ErrClosed
		}
		return err
	}
	_ = s.Close()
	switch {
	case len(answer) > 0 && answer[0] == answerOK:
		return nil
	case len(answer) > 0 && answer[0] == answerError:
		return fmt.Errorf("%w: %s", ErrRefused, answer[1:])
	}
	return fmt.Errorf("unknown answer of %d bytes", len(answer))
}

// handleSnapshot receives one snapshot stream. A peer sends one snapshot
// at a time, so a new stream from it means it gave up on the previous
// one, which is dropped: at most one snapshot per peer is held in memory
// until the receiver takes it. With MapSnapshots it is held in a memory
// file (largesink_linux.go) and delivered mapped, with its Release.
func (t *Transport) handleSnapshot(s network.Stream) {
	from, ok := t.members[s.Conn().RemotePeer()]
	if !ok || !t.startReader() {
		s.Reset()
		return
	}
	defer t.readers.Done()
	stopReset := context.AfterFunc(t.ctx, func() { s.Reset() })
	defer stopReset()
	t.replaceSnapshotStream(from, s)
	defer t.endSnapshotStream(from, s)

	label := nodeLabel(from)
	log := t.log.With("peer_node", from, "peer", s.Conn().RemotePeer())
	start := time.Now()
	timeout := t.opts.SnapshotTimeout
	newSink := newHeapSink
	if t.opts.MapSnapshots {
		newSink = newMappedSink
	}
	msg, release, err := readLarge(s, bufio.NewReaderSize(s, 64<<10), t.opts.MaxMessageSize, t.opts.SnapshotChunkSize, timeout, newSink)
	if err == nil {
		wait := time.NewTimer(timeout)
		select {
		case t.inbound <- consensus.Inbound{From: from, Data: msg, Release: release}:
		case <-t.ctx.Done():
			err = ErrClosed
		case <-wait.C:
			err = errors.New("the receiver's event loop took no message for a whole snapshot timeout")
		}
		wait.Stop()
		if err != nil && release != nil {
			release()
		}
	}
	if err != nil {
		t.metrics.snapshots.WithLabelValues(label, snapshotReceived, snapshotFailed).Inc()
		if errors.Is(err, errMalformedLarge) {
			log.Warn("p2p: malformed snapshot from peer; refused", "err", err)
		} else {
			log.Info("p2p: receiving a snapshot failed", "err", err)
		}
		why := err.Error()
		answerSnapshot(s, append([]byte{answerError}, why[:min(len(why), maxAnswerSize-1)]...))
		_ = s.Close() // a reset would discard the answer
		return
	}
	t.metrics.snapshots.WithLabelValues(label, snapshotReceived, snapshotOK).Inc()
	t.metrics.snapshotBytes.WithLabelValues(label, snapshotReceived).Add(float64(len(msg)))
	log.Info("p2p: received a snapshot", "bytes", len(msg), "took", time.Since(start))
	answerSnapshot(s, []byte{answerOK})
	_ = s.Close()
}

// answerSnapshot tells the sender the outcome, as far as the stream still
// carries it.
func answerSnapshot(s network.Stream, answer []byte) {
	_ = s.SetWriteDeadline(time.Now().Add(5 * time.Second))
	w := bufio.NewWriter(s)
	_ = errors.Join(writeFrame(w, answer), w.Flush())
}

// replaceSnapshotStream makes s the stream peer from's snapshot arrives
// on, resetting the one before.
func (t *Transport) replaceSnapshotStream(from consensus.NodeID, s network.Stream) {
	t.mu.Lock()
	old := t.snapshotsIn[from]
	t.snapshotsIn[from] = s
	t.mu.Unlock()
	if old != nil {
		old.Reset()
	}
}

// endSnapshotStream forgets s unless a newer stream has replaced it.
func (t *Transport) endSnapshotStream(from consensus.NodeID, s network.Stream) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.snapshotsIn[from] == s {
		delete(t.snapshotsIn, from)
	}
}
