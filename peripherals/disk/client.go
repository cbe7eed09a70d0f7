package disk

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// ErrUncertain is the outcome of a request that was sent, or may have
// been, and got no answer: its connection broke, or its context ended
// first. The server may or may not have applied it. Sending it again
// with the same sequence number is safe: a write the server applied is
// answered with its first answer.
var ErrUncertain = errors.New("outcome unknown: no answer came")

// ErrNotSent is the outcome of a request that was never sent: there was
// no connection to the server, and none could be made.
var ErrNotSent = errors.New("not sent: the disk server could not be reached")

// StatusError is a definite answer other than OK: the server did not
// apply the request (an I/O error may have left a write partly applied).
type StatusError struct {
	Op     Op
	Status Status
	Text   string
}

func (e *StatusError) Error() string {
	if e.Text == "" {
		return e.Status.String()
	}
	return e.Status.String() + ": " + e.Text
}

// ClientConfig configures a Client.
type ClientConfig struct {
	// Addr is the server's host:port.
	Addr string
	// ID names the client to the server's sequence table: the same ID and
	// seq name the same request, across reconnections and restarts of
	// either side. One ID per sequence of seqs, such as a cluster's id and
	// the disk's name; 1 to MaxClientID bytes.
	ID     string
	Logger *slog.Logger
	// DialTimeout bounds a connection attempt (default 2 s), as does the
	// call's context.
	DialTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait after a failed connection
	// attempt, which doubles from one to the other (defaults 20 ms and
	// 1 s): until it has passed, calls fail at once with ErrNotSent.
	MinBackoff, MaxBackoff time.Duration
}

// Client sends requests to one disk server over one connection,
// pipelined: calls from several goroutines share it, and answers are
// matched to calls by seq. When the connection breaks, the calls waiting
// on it end with ErrUncertain, and the next call connects again; after a
// failed attempt, the next is made once a bounded backoff has passed.
type Client struct {
	cfg ClientConfig

	mu       sync.Mutex
	conn     *clientConn
	dialing  chan struct{} // closed when the attempt in progress ends
	backoff  time.Duration // the wait before the next attempt; 0 after a success
	nextDial time.Time
	dialErr  error // why the last attempt failed
	closed   bool
}

// NewClient returns a client of the server at cfg.Addr; it connects on
// the first call.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.ID == "" || len(cfg.ID) > MaxClientID {
		return nil, fmt.Errorf("disk client of %s: an ID of %d bytes; want 1 to %d", cfg.Addr, len(cfg.ID), MaxClientID)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 2 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 20 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(time.Second, cfg.MinBackoff)
	}
	return &Client{cfg: cfg}, nil
}

// Read reads length bytes at offset, at most MaxData.
func (c *Client) Read(ctx context.Context, seq uint64, offset int64, length int) ([]byte, error) {
	switch {
	case length < 0:
		return nil, c.callError(OpRead, seq, &StatusError{Op: OpRead, Status: StatusBadRequest,
			Text: fmt.Sprintf("a read of %d bytes", length)})
	case length > MaxData:
		return nil, c.callError(OpRead, seq, &StatusError{Op: OpRead, Status: StatusTooLarge,
			Text: fmt.Sprintf("a read of %d bytes; the most is %d", length, MaxData)})
	}
	a, err := c.do(ctx, frame{kind: uint8(OpRead), seq: seq, value: uint64(offset), count: uint32(length)}, offset)
	if err != nil {
		return nil, err
	}
	if len(a.data) != length {
		return nil, c.callError(OpRead, seq, fmt.Errorf("%w: %d bytes answered, %d asked for", ErrUncertain, len(a.data), length))
	}
	return a.data, nil
}

// Write writes data, at most MaxData bytes, at offset, durably, and says
// how many bytes were written: all of them, unless err says otherwise.
func (c *Client) Write(ctx context.Context, seq uint64, offset int64, data []byte) (int, error) {
	return c.WriteCertified(ctx, seq, offset, data, nil)
}

// WriteCertified is Write with the certificate a server that checks them
// needs: f+1 replicas' signatures over the write (see Options.CheckWrite).
func (c *Client) WriteCertified(ctx context.Context, seq uint64, offset int64, data, cert []byte) (int, error) {
	switch {
	case len(data) > MaxData:
		return 0, c.callError(OpWrite, seq, &StatusError{Op: OpWrite, Status: StatusTooLarge,
			Text: fmt.Sprintf("a write of %d bytes; the most is %d", len(data), MaxData)})
	case len(cert) > MaxCertificate:
		return 0, c.callError(OpWrite, seq, &StatusError{Op: OpWrite, Status: StatusBadRequest,
			Text: fmt.Sprintf("a certificate of %d bytes; the most is %d", len(cert), MaxCertificate)})
	}
	a, err := c.do(ctx, frame{kind: uint8(OpWrite), seq: seq, value: uint64(offset), data: data, cert: cert}, offset)
	if err != nil {
		return 0, err
	}
	return int(a.value), nil
}

// Flush returns once everything answered before is durable.
func (c *Client) Flush(ctx context.Context, seq uint64) error {
	_, err := c.do(ctx, frame{kind: uint8(OpFlush), seq: seq}, 0)
	return err
}

// Info asks for the image's size in bytes.
func (c *Client) Info(ctx context.Context, seq uint64) (int64, error) {
	a, err := c.do(ctx, frame{kind: uint8(OpInfo), seq: seq}, 0)
	if err != nil {
		return 0, err
	}
	return int64(a.value), nil
}

// Close ends the connection; calls waiting on it end with ErrUncertain,
// later ones fail.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	cc := c.conn
	c.mu.Unlock()
	if cc != nil {
		cc.fail(errors.New("client closed"))
	}
	return nil
}

// callError is err with the call it ended.
func (c *Client) callError(op Op, seq uint64, err error) error {
	return fmt.Errorf("disk %s %s seq %d: %w", c.cfg.Addr, op, seq, err)
}

// do sends f with the client's identity and waits for its answer.
func (c *Client) do(ctx context.Context, f frame, offset int64) (frame, error) {
	op := Op(f.kind)
	if offset < 0 {
		return frame{}, c.callError(op, f.seq, &StatusError{Op: op, Status: StatusOutOfRange, Text: fmt.Sprintf("offset %d", offset)})
	}
	f.client = c.cfg.ID
	var a frame
	for {
		if err := ctx.Err(); err != nil {
			return frame{}, c.callError(op, f.seq, fmt.Errorf("%w: %w", ErrNotSent, err))
		}
		cc, err := c.connect(ctx)
		if err != nil {
			return frame{}, c.callError(op, f.seq, err)
		}
		a, err = cc.call(ctx, f)
		if errors.Is(err, errConnGone) {
			continue
		}
		if err != nil {
			return frame{}, c.callError(op, f.seq, err)
		}
		break
	}
	if Status(a.kind) != StatusOK {
		return frame{}, c.callError(op, f.seq, &StatusError{Op: op, Status: Status(a.kind), Text: a.text})
	}
	return a, nil
}

// connect returns the live connection, or makes one. A call waits for
// an attempt in progress, or makes one. After a failed attempt, calls
// fail at once with ErrNotSent until a backoff has passed, doubling from
// MinBackoff to MaxBackoff: while the server is down its callers learn it
// at no cost, and can try another path.
func (c *Client) connect(ctx context.Context) (*clientConn, error) {
	c.mu.Lock()
	for c.dialing != nil {
		attempt := c.dialing
		c.mu.Unlock()
		select {
		case <-attempt:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", ErrNotSent, ctx.Err())
		}
		c.mu.Lock()
	}
	switch {
	case c.closed:
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: client closed", ErrNotSent)
	case c.conn != nil:
		cc := c.conn
		c.mu.Unlock()
		return cc, nil
	case time.Now().Before(c.nextDial):
		defer c.mu.Unlock()
		return nil, fmt.Errorf("%w: %w (next attempt in %v)", ErrNotSent, c.dialErr, time.Until(c.nextDial).Round(time.Millisecond))
	}
	attempt := make(chan struct{})
	c.dialing = attempt
	c.mu.Unlock()
	d := net.Dialer{Timeout: c.cfg.DialTimeout}
	nc, err := d.DialContext(ctx, "tcp", c.cfg.Addr)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dialing = nil
	close(attempt)
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, fmt.Errorf("%w: %w", ErrNotSent, err)
	case err != nil:
		if c.backoff == 0 {
			c.cfg.Logger.Warn("cannot reach the disk server", "addr", c.cfg.Addr, "err", err)
		}
		c.backoff = min(max(2*c.backoff, c.cfg.MinBackoff), c.cfg.MaxBackoff)
		c.nextDial = time.Now().Add(c.backoff)
		c.dialErr = err
		return nil, fmt.Errorf("%w: %w", ErrNotSent, err)
	case c.closed:
		nc.Close()
		return nil, fmt.Errorf("%w: client closed", ErrNotSent)
	}
	if c.backoff > 0 {
		c.cfg.Logger.Info("connected to the disk server again", "addr", c.cfg.Addr)
	}
	c.backoff, c.dialErr = 0, nil
	c.conn = newClientConn(c, nc)
	return c.conn, nil
}

// errConnGone is a call's outcome on a connection that broke before the
// call was sent on it: the client connects again.
var errConnGone = errors.New("connection gone before the request was sent")

// clientConn is one connection: callers write their frames whole, one
// goroutine reads the answers and hands each to the call waiting on its
// seq.
type clientConn struct {
	c  *Client
	nc net.Conn

	wmu sync.Mutex // one frame at a time on the wire
	// dmu guards the write deadline; writing numbers the writes, so that
	// a context ending late cannot cut a later write short.
	dmu     sync.Mutex
	writing uint64

	mu      sync.Mutex
	pending map[uint64]chan frame
	broken  chan struct{} // closed when the connection fails
	err     error         // why
}

func newClientConn(c *Client, nc net.Conn) *clientConn {
	cc := &clientConn{c: c, nc: nc, pending: map[uint64]chan frame{}, broken: make(chan struct{})}
	go cc.readLoop()
	return cc
}

// call sends f and waits for the answer with its seq.
func (cc *clientConn) call(ctx context.Context, f frame) (frame, error) {
	answer := make(chan frame, 1)
	cc.mu.Lock()
	if cc.err != nil {
		cc.mu.Unlock()
		return frame{}, errConnGone
	}
	if _, ok := cc.pending[f.seq]; ok {
		cc.mu.Unlock()
		return frame{}, fmt.Errorf("%w: a request with this seq is in flight already", ErrUncertain)
	}
	cc.pending[f.seq] = answer
	cc.mu.Unlock()
	defer func() {
		cc.mu.Lock()
		if cc.pending[f.seq] == answer {
			delete(cc.pending, f.seq)
		}
		cc.mu.Unlock()
	}()

	if sent, err := cc.send(ctx, f); !sent {
		return frame{}, fmt.Errorf("%w: %w", ErrNotSent, err)
	} else if err != nil {
		return frame{}, fmt.Errorf("%w: %w", ErrUncertain, err)
	}
	select {
	case a := <-answer:
		return a, nil
	case <-cc.broken:
		select {
		case a := <-answer:
			return a, nil
		default:
		}
		return frame{}, fmt.Errorf("%w: %w", ErrUncertain, cc.failure())
	case <-ctx.Done():
		return frame{}, fmt.Errorf("%w: %w", ErrUncertain, ctx.Err())
	}
}

// send writes f whole, or breaks the connection: a frame cut short would
// leave the stream unreadable. It reports whether any of f may have left.
func (cc *clientConn) send(ctx context.Context, f frame) (bool, error) {
	b := appendFrame(nil, &f)
	cc.wmu.Lock()
	defer cc.wmu.Unlock()
	if err := ctx.Err(); err != nil {
		return false, err
	}
	cc.dmu.Lock()
	cc.writing++
	writing := cc.writing
	cc.dmu.Unlock()
	// A context that ends mid-write interrupts it, unless the write is
	// over by then and the next one has begun.
	stop := context.AfterFunc(ctx, func() {
		cc.dmu.Lock()
		if cc.writing == writing {
			cc.nc.SetWriteDeadline(time.Now())
		}
		cc.dmu.Unlock()
	})
	_, err := cc.nc.Write(b)
	stop()
	cc.dmu.Lock()
	cc.writing++
	cc.nc.SetWriteDeadline(time.Time{})
	cc.dmu.Unlock()
	if err != nil {
		err = fmt.Errorf("send to %s: %w", cc.c.cfg.Addr, err)
		cc.fail(err)
		return true, err
	}
	return true, nil
}

func (cc *clientConn) failure() error {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.err
}

// fail breaks the connection for good; the client makes a new one on its
// next call.
func (cc *clientConn) fail(err error) {
	cc.mu.Lock()
	if cc.err != nil {
		cc.mu.Unlock()
		return
	}
	cc.err = err
	waiting := len(cc.pending)
	close(cc.broken)
	cc.mu.Unlock()
	cc.nc.Close()
	c := cc.c
	c.mu.Lock()
	if c.conn == cc {
		c.conn = nil
	}
	closed := c.closed
	c.mu.Unlock()
	if !closed {
		c.cfg.Logger.Warn("disk connection lost", "addr", c.cfg.Addr, "calls_uncertain", waiting, "err", err)
	}
}

func (cc *clientConn) readLoop() {
	r := bufio.NewReaderSize(cc.nc, 64<<10)
	for {
		a, err := readFrame(r)
		if err != nil {
			cc.fail(fmt.Errorf("read from %s: %w", cc.c.cfg.Addr, err))
			return
		}
		if a.client != cc.c.cfg.ID {
			cc.fail(fmt.Errorf("%s answered for client %q, not %q", cc.c.cfg.Addr, a.client, cc.c.cfg.ID))
			return
		}
		cc.mu.Lock()
		answer := cc.pending[a.seq]
		delete(cc.pending, a.seq)
		cc.mu.Unlock()
		if answer != nil {
			answer <- a
		}
	}
}
