package p2p

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/cluster"
)

// link carries messages to one peer: a bounded queue that Send appends to
// without blocking, and a goroutine (run) that keeps one stream open to
// the peer and drains the queue into it.
type link struct {
	t     *Transport
	id    consensus.NodeID
	peer  peer.ID
	label string // the id as a metric label

	mu        sync.Mutex
	connected bool     // a stream is open: Send may queue
	queue     [][]byte // waiting to be written, oldest first
	spare     [][]byte // the previous batch's backing array, reused
	queued    int      // bytes in queue
	wake      chan struct{}
	// peerUp cuts a wait between attempts short: the peer opened a
	// stream to us, so its process is up (see peerOpened).
	peerUp chan struct{}
}

func newLink(t *Transport, n cluster.Node) *link {
	return &link{t: t, id: n.ID, peer: n.PeerID, label: nodeLabel(n.ID), wake: make(chan struct{}, 1), peerUp: make(chan struct{}, 1)}
}

// peerOpened tells a link that is down that its peer has just opened a
// stream to us: the peer's process is up, so the link dials it now
// rather than at the end of its backoff. A peer restarted after a couple
// of seconds down was otherwise reached only when the doubled wait ran
// out, up to MaxBackoff later, while its own links were up at once: a
// restarted Byzantine member heard the others' agreement and answers
// for 0.2 to 0.8 s after it started, took clients on the stale
// checkpoint of a state it installed meanwhile, and hung up on them at
// the others' next checkpoint (issue 11).
func (l *link) peerOpened() {
	if l.isConnected() {
		return
	}
	select {
	case l.peerUp <- struct{}{}:
	default: // a dial is already due
	}
}

func (l *link) send(msg []byte) error {
	l.mu.Lock()
	var err error
	switch {
	case !l.connected:
		err = consensus.ErrUnreachable
		l.t.metrics.dropped.WithLabelValues(l.label, dropUnreachable).Inc()
	case len(l.queue) >= l.t.opts.QueueMessages || l.queued+len(msg) > l.t.opts.QueueBytes:
		err = ErrQueueFull
		l.t.metrics.dropped.WithLabelValues(l.label, dropQueueFull).Inc()
	default:
		l.queue = append(l.queue, msg)
		l.queued += len(msg)
	}
	l.mu.Unlock()
	if err != nil {
		return fmt.Errorf("send to node %d: %w", l.id, err)
	}
	select {
	case l.wake <- struct{}{}:
	default: // already woken; the writer takes the whole queue
	}
	return nil
}

// goneWindow is how soon after a stream breaks a refused connection
// still reports the peer's process ended: later, the refusal says less
// (the peer may have been restarted and stopped again).
const goneWindow = time.Second

// take hands the writer everything queued so far.
func (l *link) take() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	batch := l.queue
	l.queue, l.spare = l.spare[:0], nil
	l.queued = 0
	return batch
}

// giveBack returns a written batch's array for reuse.
func (l *link) giveBack(batch [][]byte) {
	clear(batch)
	l.mu.Lock()
	l.spare = batch[:0]
	l.mu.Unlock()
}

func (l *link) isConnected() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.connected
}

func (l *link) setConnected(up bool) {
	l.mu.Lock()
	l.connected = up
	dropped := len(l.queue)
	if !up {
		clear(l.queue)
		l.queue, l.queued = l.queue[:0], 0
	}
	l.mu.Unlock()
	if dropped > 0 && !up {
		l.t.metrics.dropped.WithLabelValues(l.label, dropDisconnected).Add(float64(dropped))
	}
	gauge := 0.0
	if up {
		gauge = 1
	}
	l.t.metrics.connected.WithLabelValues(l.label).Set(gauge)
}

// run connects, writes until the stream fails, and reconnects, until ctx
// ends. A stream that fails within MaxBackoff of opening counts as a failed
// attempt, so a peer that accepts and then drops us is not redialled at
// full speed. Failed attempts are logged once per outage, then at debug
// level, so that a node that is down does not flood the log.
func (l *link) run(ctx context.Context) {
	log := l.t.log.With("peer_node", l.id, "peer", l.peer)
	b := backoff{min: l.t.opts.MinBackoff, max: l.t.opts.MaxBackoff}
	failures := 0
	// lostAt is when the last stream broke, until the peer is reported
	// gone: an attempt soon after that the peer's host refuses tells a
	// peer whose process ended from one that is only slow or cut off.
	var lostAt time.Time
	for {
		s, err := l.open(ctx)
		if !lostAt.IsZero() && err != nil && errors.Is(err, syscall.ECONNREFUSED) && time.Since(lostAt) < goneWindow {
			log.Warn("p2p: the peer's process has ended (its host refuses connections)")
			l.t.peerGone(l.id)
			lostAt = time.Time{}
		}
		lived := false // the stream was up long enough to count as a success
		if err == nil {
			log.Info("p2p: connected")
			opened := time.Now()
			err = l.pump(ctx, s) // returns at once if ctx has ended
			lived = time.Since(opened) >= l.t.opts.MaxBackoff
			lostAt = time.Now()
		}
		switch {
		case ctx.Err() != nil:
			return
		case lived:
			log.Warn("p2p: lost the stream to a peer; reconnecting", "err", err)
			b.reset()
			failures = 0
		default:
			failures++
			lvl := slog.LevelDebug
			if failures == 1 {
				lvl = slog.LevelInfo
			}
			log.Log(ctx, lvl, "p2p: cannot reach peer; retrying with backoff", "attempt", failures, "err", err)
		}
		wait := time.NewTimer(b.next())
		select {
		case <-ctx.Done():
			wait.Stop()
			return
		case <-wait.C:
		case <-l.peerUp:
			wait.Stop()
			b.reset()
		}
	}
}

func (l *link) open(ctx context.Context) (network.Stream, error) {
	ctx, cancel := context.WithTimeout(ctx, l.t.opts.DialTimeout)
	defer cancel()
	// Our own backoff paces redials; libp2p's per-address dial backoff
	// would add up to minutes after a peer restart, so skip it.
	ctx = network.WithForceDirectDial(ctx, "synod cluster peer")
	return l.t.host.NewStream(ctx, l.peer, ProtocolID)
}

// errPeerWrote reports a peer that wrote on a stream meant for our
// messages only; the stream is out of protocol and is dropped.
var errPeerWrote = errors.New("peer wrote on our send-only stream")

// pump writes queued messages to s until s fails or ctx ends. The peer
// never writes on our stream, so a read that returns means the peer closed
// or reset it or the connection died: the watcher turns that into a prompt
// disconnect even while we have nothing to send.
func (l *link) pump(ctx context.Context, s network.Stream) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		var one [1]byte
		_, err := s.Read(one[:])
		if err == nil {
			err = errPeerWrote
		}
		cancel(fmt.Errorf("stream closed: %w", err))
	}()
	stopReset := context.AfterFunc(ctx, func() { s.Reset() }) // unblocks a write stuck on a dead peer
	l.setConnected(true)
	defer func() {
		l.setConnected(false)
		stopReset()
		s.Reset()
		<-watched
	}()

	// Resolved once per stream, not for every batch written.
	sentMessages, sentBytes := l.t.metrics.sentMessages.WithLabelValues(l.label), l.t.metrics.sentBytes.WithLabelValues(l.label)
	w := bufio.NewWriterSize(s, 64<<10)
	for {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-l.wake:
		}
		batch := l.take()
		bytes := 0
		var err error
		for _, msg := range batch {
			if err = writeFrame(w, msg); err != nil {
				break
			}
			bytes += len(msg)
		}
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
			if ctx.Err() != nil {
				err = context.Cause(ctx)
			}
			l.t.metrics.dropped.WithLabelValues(l.label, dropDisconnected).Add(float64(len(batch)))
			return err
		}
		sentMessages.Add(float64(len(batch)))
		sentBytes.Add(float64(bytes))
		l.giveBack(batch)
	}
}
