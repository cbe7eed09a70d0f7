package disk

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"
)

// Options tunes a server; the zero value is the defaults.
type Options struct {
	Logger *slog.Logger
	// ResultsPerClient is how many of a client's last writes the table
	// keeps the answers of (default 1024; at least 128, a batch). A
	// client must not have more writes than this unanswered at once.
	ResultsPerClient int
	// MaxClients is how many clients the table keeps answers for (default
	// 1024); a write of one more client is refused.
	MaxClients int
	// MaxConns bounds the connections served at once (default 128).
	MaxConns int
	// CheckWrite, when set, is asked about every write before it is
	// applied, with the certificate the write came with (nil for none);
	// an error refuses it with StatusUncertified. A Byzantine cluster's
	// disk checks that f+1 replicas signed the write, so that a faulty
	// node cannot write what no correct replica asked for.
	CheckWrite func(seq uint64, offset int64, data, cert []byte) error
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ResultsPerClient <= 0 {
		o.ResultsPerClient = 1024
	}
	o.ResultsPerClient = max(o.ResultsPerClient, maxBatch)
	if o.MaxClients <= 0 {
		o.MaxClients = 1024
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 128
	}
	return o
}

// Per connection, the requests read and not yet answered are bounded in
// number and in bytes (a write's data, a read's answer), so a client that
// sends faster than it reads cannot take the server's memory.
const (
	connMaxUnanswered = 64
	connMaxBytes      = 4 << 20
)

// Server serves one disk image to the clients that connect to it.
type Server struct {
	store      *store
	size       int64
	logger     *slog.Logger
	maxConns   int
	checkWrite func(seq uint64, offset int64, data, cert []byte) error

	mu        sync.Mutex
	listeners map[net.Listener]bool
	conns     map[*serverConn]bool
	closed    bool
	wg        sync.WaitGroup
}

// Open opens the image at path, which must be size bytes, or creates it
// sparse, and loads its sequence table from next to it.
func Open(path string, size int64, opts Options) (*Server, error) {
	opts = opts.withDefaults()
	f, created, err := openImage(path, size)
	if err != nil {
		return nil, err
	}
	if created {
		err = removeStaleTable(journalPath(path), opts.Logger)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	s, err := newServer(imageFile{f}, path, size, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// removeStaleTable removes the sequence table of an image that no longer
// exists: its answers are of writes to a disk that is gone, and a new
// disk's writes under the same seqs would be answered from it.
func removeStaleTable(path string, logger *slog.Logger) error {
	err := os.Remove(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("remove the sequence table of a former image: %w", err)
	}
	logger.Warn("removed the sequence table of a former image at the same path", "table", path)
	return nil
}

// newServer serves image, whose sequence table is kept next to path.
func newServer(image Image, path string, size int64, opts Options) (*Server, error) {
	opts = opts.withDefaults()
	table := newSeqTable(opts.ResultsPerClient, opts.MaxClients)
	j, err := openJournal(journalPath(path), table, opts.Logger)
	if err != nil {
		return nil, err
	}
	return &Server{
		store:      newStore(image, path, size, table, j, opts.Logger),
		size:       size,
		logger:     opts.Logger,
		maxConns:   opts.MaxConns,
		checkWrite: opts.CheckWrite,
		listeners:  map[net.Listener]bool{},
		conns:      map[*serverConn]bool{},
	}, nil
}

// Size is the image's size in bytes.
func (s *Server) Size() int64 { return s.size }

// Serve answers the clients ln accepts until Close, or until ln is
// closed.
func (s *Server) Serve(ln net.Listener) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return
	}
	s.listeners[ln] = true
	s.mu.Unlock()
	var pause time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors, say: the clients served go on, and
			// new ones are accepted once there is room.
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			s.logger.Warn("disk server: accept failed; trying again", "addr", ln.Addr(), "err", err, "in", pause)
			time.Sleep(pause)
			continue
		}
		pause = 0
		c := newServerConn(s, nc)
		s.mu.Lock()
		switch {
		case s.closed:
			nc.Close()
		case len(s.conns) >= s.maxConns:
			s.logger.Warn("refusing a disk client: too many connections", "remote", nc.RemoteAddr(), "max", s.maxConns)
			nc.Close()
		default:
			s.conns[c] = true
			s.wg.Add(2)
			go c.readLoop()
			go c.writeLoop()
		}
		s.mu.Unlock()
	}
}

// Close stops serving: it closes the listeners and the connections, lets
// the batch being applied finish, and closes the image and its table.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return s.store.stop()
}

// check answers a request that never reaches the image: INFO, and the
// ones that are wrong whatever the image holds.
func (s *Server) check(f frame) (result, bool) {
	if f.client == "" {
		return result{status: StatusBadRequest, text: "no client identity"}, true
	}
	off, n := f.value, uint64(len(f.data))
	switch Op(f.kind) {
	case OpInfo:
		return result{status: StatusOK, value: uint64(s.size)}, true
	case OpFlush:
		return result{}, false
	case OpRead:
		if f.count > MaxData {
			return result{status: StatusTooLarge, text: fmt.Sprintf("a read of %d bytes exceeds the %d-byte limit", f.count, MaxData)}, true
		}
		n = uint64(f.count)
	case OpWrite:
		if s.checkWrite != nil {
			if err := s.checkWrite(f.seq, int64(f.value), f.data, f.cert); err != nil {
				s.logger.Warn("disk: refused a write without a valid certificate", "client", f.client, "seq", f.seq, "err", err)
				return result{status: StatusUncertified, text: err.Error()}, true
			}
		}
	default:
		return result{status: StatusBadRequest, text: fmt.Sprintf("unknown op %d", f.kind)}, true
	}
	if off > uint64(s.size) || n > uint64(s.size)-off {
		return result{status: StatusOutOfRange,
			text: fmt.Sprintf("%d bytes at %d reach past the image's end at %d", n, off, s.size)}, true
	}
	return result{}, false
}

// serverConn is one client connection: a goroutine reads requests, one
// writes answers.
type serverConn struct {
	s   *Server
	nc  net.Conn
	out chan outgoing
	// gone is closed with the connection: answers still coming from the
	// store are dropped.
	gone      chan struct{}
	closeOnce sync.Once

	mu         sync.Mutex
	room       *sync.Cond // signalled when an answer is written or the connection closes
	unanswered int
	bytes      int
	closed     bool
}

type outgoing struct {
	b    []byte
	cost int
}

func newServerConn(s *Server, nc net.Conn) *serverConn {
	c := &serverConn{s: s, nc: nc, out: make(chan outgoing, connMaxUnanswered), gone: make(chan struct{})}
	c.room = sync.NewCond(&c.mu)
	return c
}

func (c *serverConn) close() {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.room.Broadcast()
		c.mu.Unlock()
		close(c.gone)
		c.nc.Close()
	})
}

func (c *serverConn) readLoop() {
	defer c.s.wg.Done()
	defer func() {
		c.close()
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.mu.Unlock()
	}()
	r := bufio.NewReaderSize(c.nc, 64<<10)
	for {
		f, err := readFrame(r)
		switch {
		case errors.Is(err, io.EOF):
			c.drain()
			return
		case errors.Is(err, errTooLarge):
			if !c.take(0) {
				return
			}
			c.reply(f, result{status: StatusTooLarge, text: fmt.Sprintf("more than %d bytes of data", MaxData)}, nil, 0)
			continue
		case err != nil:
			c.logClose(err)
			return
		}
		cost := len(f.data)
		if Op(f.kind) == OpRead {
			cost = int(min(f.count, MaxData))
		}
		if !c.take(cost) {
			return
		}
		if res, answered := c.s.check(f); answered {
			c.reply(f, res, nil, cost)
			continue
		}
		if !c.s.store.submit(&request{f: f, answer: func(a frame) { c.send(a, cost) }}) {
			return
		}
	}
}

// logClose says in one line why the connection is being closed.
func (c *serverConn) logClose(err error) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return
	}
	c.s.logger.Warn("closing a disk connection", "remote", c.nc.RemoteAddr(), "reason", err)
}

// take waits until the connection has room for a request of cost bytes,
// and counts it; it reports false once the connection is closed.
func (c *serverConn) take(cost int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for !c.closed && c.unanswered > 0 &&
		(c.unanswered >= connMaxUnanswered || c.bytes+cost > connMaxBytes) {
		c.room.Wait()
	}
	c.unanswered++
	c.bytes += cost
	return !c.closed
}

// drain waits, after the client closed its side, until the answers it
// is owed are written.
func (c *serverConn) drain() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for !c.closed && c.unanswered > 0 {
		c.room.Wait()
	}
}

func (c *serverConn) reply(req frame, res result, data []byte, cost int) {
	c.send(frame{kind: uint8(res.status), client: req.client, seq: req.seq, value: res.value, text: res.text, data: data}, cost)
}

// send hands an answer to the writer; the writer never falls behind by
// more than connMaxUnanswered, so this does not block.
func (c *serverConn) send(a frame, cost int) {
	select {
	case c.out <- outgoing{b: appendFrame(nil, &a), cost: cost}:
	case <-c.gone:
	}
}

func (c *serverConn) writeLoop() {
	defer c.s.wg.Done()
	for {
		select {
		case o := <-c.out:
			if _, err := c.nc.Write(o.b); err != nil {
				c.logClose(fmt.Errorf("write an answer: %w", err))
				c.close()
				return
			}
			c.mu.Lock()
			c.unanswered--
			c.bytes -= o.cost
			c.room.Broadcast()
			c.mu.Unlock()
		case <-c.gone:
			return
		}
	}
}
