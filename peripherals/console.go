package peripherals

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
)

// ConsoleInputConfig configures a node's console input.
type ConsoleInputConfig struct {
	Node consensus.NodeID
	// Input is what the console types: the node's stdin, which synod up
	// feeds with its own.
	Input io.Reader
	Log   Proposer
	// Next reports what the replicated machine has taken so far: the
	// offset of the next byte it expects, and whether the input ended.
	Next   func() (uint64, bool)
	Logger *slog.Logger
	// RetryAfter is how long proposed input may go untaken before it is
	// proposed again (a leader change drops proposals). Default 1 s.
	RetryAfter time.Duration
	// MaxProposal, when set, bounds one proposal's encoded size: the log
	// takes no larger one (the Byzantine engine signs and bounds each
	// request), and an entry it refuses would be proposed again, refused
	// again, and the guest would never read past it. 0: consoleChunk.
	MaxProposal int
}

// consoleChunk is the most console bytes one entry carries.
const consoleChunk = 64 << 10

// maxConsoleBacklog bounds the console input read and not yet taken by
// the machine; beyond it the node stops reading its console until the
// guest catches up.
const maxConsoleBacklog = 4 << 20

// ConsoleInput reads a node's console and proposes what it reads for the
// guest's stdin. Every node that reads the console does, so that input
// survives the loss of any of them: the replicas keep the first copy of
// each byte (entry.ConsoleIn offsets). It proposes again whatever the
// machine has not taken after RetryAfter. Offsets count from the start
// of the node's input, so every node given the console must read the
// same stream from its start (synod up feeds the nodes it starts).
type ConsoleInput struct {
	cfg   ConsoleInputConfig
	chunk int // the most bytes one entry carries

	mu    sync.Mutex
	base  uint64 // the stream offset of buf[0]
	buf   []byte // read, not yet known taken
	eof   bool   // the console's input has ended after buf
	fresh chan struct{}
	room  *sync.Cond
}

// StartConsoleInput starts reading the console; the node proposes until
// ctx ends.
func StartConsoleInput(ctx context.Context, cfg ConsoleInputConfig) *ConsoleInput {
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = time.Second
	}
	c := &ConsoleInput{cfg: cfg, chunk: consoleChunk, fresh: make(chan struct{}, 1)}
	if fit := entry.DataThatFits(cfg.MaxProposal); fit > 0 && fit < c.chunk {
		c.chunk = fit
	}
	c.room = sync.NewCond(&c.mu)
	go c.read(ctx)
	go c.propose(ctx)
	return c
}

// read copies the console into buf, waiting while the backlog is full.
func (c *ConsoleInput) read(ctx context.Context) {
	b := make([]byte, consoleChunk)
	for ctx.Err() == nil {
		n, err := c.cfg.Input.Read(b)
		c.mu.Lock()
		for len(c.buf) >= maxConsoleBacklog && ctx.Err() == nil {
			c.room.Wait()
		}
		c.buf = append(c.buf, b[:n]...)
		if err != nil {
			c.eof = true
			if !errors.Is(err, io.EOF) {
				c.cfg.Logger.Warn("console input ended", "err", err)
			}
		}
		c.mu.Unlock()
		select {
		case c.fresh <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

// propose proposes what the machine has not taken, when there is new
// input or the last proposal has gone untaken for RetryAfter.
func (c *ConsoleInput) propose(ctx context.Context) {
	tick := time.NewTicker(c.cfg.RetryAfter)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			c.room.Broadcast()
			return
		case <-c.fresh:
		case <-tick.C:
		}
		for _, e := range c.untaken() {
			pctx, cancel := context.WithTimeout(ctx, c.cfg.RetryAfter)
			err := c.cfg.Log.Propose(pctx, entry.Encode(e))
			cancel()
			if err != nil {
				c.cfg.Logger.Debug("console input not proposed; again later", "err", err)
				break
			}
		}
	}
}

// untaken drops what the machine has taken and returns entries for the
// rest, from the machine's next offset on.
func (c *ConsoleInput) untaken() []entry.ConsoleIn {
	next, ended := c.cfg.Next()
	c.mu.Lock()
	defer c.mu.Unlock()
	if next > c.base {
		drop := min(next-c.base, uint64(len(c.buf)))
		c.buf = c.buf[drop:]
		c.base += drop
		c.room.Broadcast()
	}
	if ended || next < c.base {
		return nil
	}
	var out []entry.ConsoleIn
	for off := 0; ; {
		end := min(off+c.chunk, len(c.buf))
		last := end == len(c.buf)
		if end > off || (last && c.eof) {
			out = append(out, entry.ConsoleIn{Node: c.cfg.Node, Offset: c.base + uint64(off),
				Data: append([]byte(nil), c.buf[off:end]...), EOF: c.eof && last})
		}
		if last {
			break
		}
		off = end
	}
	return out
}
