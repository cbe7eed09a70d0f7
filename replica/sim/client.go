package sim

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/synodvm/synod/consensus"
)

// client is one simulated user of the key-value guest: it connects to a
// node, sends pipelined SETs and GETs in RESP, reads the replies, closes
// now and then, and moves to another node when its connection fails.
// Every operation goes into the history the linearizability check reads.
type client struct {
	id  int
	sim *Sim
	// target is the node it connects to next.
	target consensus.NodeID
	conn   *pconn // nil while disconnected
	// pending are the operations sent and not yet answered, in order.
	pending []op
	inbox   []byte // received bytes not yet parsed
	next    time.Duration
	seq     int
	// pipeline is how many operations it sends at once, at most.
	pipeline int
	// done stops it issuing new operations (the run is winding down).
	done bool
	// A reader reads every key once through its target node, retrying
	// until it has all the answers (readDone); asked is set while its
	// reads are out.
	reader, asked, readDone bool
}

// op is one operation in flight.
type op struct {
	set        bool
	key, value string
	stamp      int64         // when it was sent (Sim.stamp)
	sent       time.Duration // the same, in virtual time
}

const guestPort = 6379

func (c *client) String() string { return fmt.Sprintf("c%d", c.id) }

// step lets the client act if its think time is over.
func (c *client) step() {
	s := c.sim
	if s.now < c.next {
		return
	}
	switch {
	case c.conn == nil:
		if !c.done && !c.readDone {
			c.dial()
		}
	case len(c.pending) > 0:
		// waiting for replies
	case c.reader && !c.asked:
		c.read()
	case c.reader:
		c.readDone = true
		c.close()
	case c.done:
		c.close()
	case s.rng.IntN(20) == 0:
		c.close()
	default:
		c.send()
	}
}

func (c *client) dial() {
	s := c.sim
	n := s.node(c.target)
	var err error
	if n.up() {
		c.conn, err = n.p.port.connect(c, guestPort)
	} else {
		err = fmt.Errorf("node %d is down: %w", c.target, errRefused)
	}
	if err != nil {
		s.trace.note(s.now, 0, "%v cannot connect: %v", c, err)
		c.moveOn()
		return
	}
	s.trace.note(s.now, c.target, "%v connected as conn %d", c, c.conn.id.Serial)
}

// moveOn picks the next node to try, unless it is a reader, and waits a
// little first.
func (c *client) moveOn() {
	s := c.sim
	for !c.reader {
		c.target = c.target%consensus.NodeID(len(s.nodes)) + 1
		if !s.faulty(s.node(c.target)) {
			break
		}
	}
	c.next = s.now + time.Duration(20+s.rng.IntN(200))*time.Millisecond
}

// send issues a pipeline of operations, written in one to three pieces
// so that one request may span several inputs.
func (c *client) send() {
	s := c.sim
	var req []byte
	for range 1 + s.rng.IntN(c.pipeline) {
		o := op{key: s.keys[s.rng.IntN(len(s.keys))], stamp: s.stamp(), sent: s.now}
		if s.rng.IntN(2) == 0 {
			c.seq++
			o.set, o.value = true, fmt.Sprintf("c%d-%d", c.id, c.seq)
			req = appendCommand(req, "SET", o.key, o.value)
		} else {
			req = appendCommand(req, "GET", o.key)
		}
		c.pending = append(c.pending, o)
	}
	c.write(req)
	s.trace.note(s.now, c.conn.id.Node, "%v sends %d operations on conn %d", c, len(c.pending), c.conn.id.Serial)
}

// read asks for every key, for the final check that no write was lost.
func (c *client) read() {
	s := c.sim
	var req []byte
	for _, k := range s.keys {
		c.pending = append(c.pending, op{key: k, stamp: s.stamp(), sent: s.now})
		req = appendCommand(req, "GET", k)
	}
	c.asked = true
	c.write(req)
	s.trace.note(s.now, c.conn.id.Node, "%v reads every key on conn %d", c, c.conn.id.Serial)
}

func (c *client) write(req []byte) {
	s := c.sim
	for len(req) > 0 {
		k := len(req)
		if s.rng.IntN(3) == 0 {
			k = 1 + s.rng.IntN(len(req))
		}
		c.conn.port.write(c.conn, req[:k])
		req = req[k:]
	}
}

func appendCommand(b []byte, args ...string) []byte {
	b = fmt.Appendf(b, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b
}

func (c *client) close() {
	s := c.sim
	s.trace.note(s.now, c.conn.id.Node, "%v closes conn %d", c, c.conn.id.Serial)
	c.conn.port.hangUp(c.conn)
	c.conn = nil
	c.next = s.now + time.Duration(s.rng.IntN(100))*time.Millisecond
}

// receive is bytes its node sent on the connection.
func (c *client) receive(data []byte) {
	s := c.sim
	c.inbox = append(c.inbox, data...)
	for {
		reply, rest, err := parseReply(c.inbox)
		if errors.Is(err, errIncomplete) {
			return
		}
		if err != nil {
			s.violate(invReplies, "%v got a malformed reply %q: %v", c, c.inbox, err)
			c.inbox = nil
			return
		}
		c.inbox = rest
		c.answer(reply)
	}
}

// answer matches a reply with the oldest pending operation.
func (c *client) answer(r reply) {
	s := c.sim
	if len(c.pending) == 0 {
		s.violate(invOutputOnce, "%v got a reply %v with no request outstanding: an output performed twice?", c, r)
		return
	}
	o := c.pending[0]
	c.pending = c.pending[1:]
	if len(c.pending) == 0 {
		c.next = s.now + time.Duration(s.rng.Int64N(int64(s.plan.think)))
	}
	switch {
	case o.set && r != (reply{status: "OK"}):
		s.violate(invReplies, "%v: SET %s answered %v", c, o.key, r)
	case !o.set && r.status != "":
		s.violate(invReplies, "%v: GET %s answered %v", c, o.key, r)
	default:
		s.history.done(c.id, o, r)
	}
}

// disconnected is the client's socket closing under it: operations
// without a reply have an unknown outcome.
func (c *client) disconnected(pc *pconn, why string) {
	s := c.sim
	if c.conn != pc {
		return // a connection it had already left
	}
	s.trace.note(s.now, pc.id.Node, "%v lost conn %d: %s", c, pc.id.Serial, why)
	for _, o := range c.pending {
		s.history.unknown(c.id, o)
	}
	c.pending, c.inbox, c.conn, c.asked = nil, nil, nil, false
	c.moveOn()
}

// reply is one RESP reply: a status (+OK), or a bulk string (value, or
// nil when absent).
type reply struct {
	status string
	value  string
	null   bool
}

func (r reply) String() string {
	switch {
	case r.status != "":
		return r.status
	case r.null:
		return "(nil)"
	}
	return strconv.Quote(r.value)
}

var errIncomplete = errors.New("incomplete reply")

// parseReply reads one reply from the front of b.
func parseReply(b []byte) (reply, []byte, error) {
	line, rest, ok := bytes.Cut(b, []byte("\r\n"))
	if !ok {
		return reply{}, b, errIncomplete
	}
	if len(line) == 0 {
		return reply{}, b, errors.New("empty reply line")
	}
	switch line[0] {
	case '+', '-', ':':
		return reply{status: string(line)[1:]}, rest, nil
	case '$':
		n, err := strconv.Atoi(string(line[1:]))
		switch {
		case err != nil:
			return reply{}, b, fmt.Errorf("bulk length: %w", err)
		case n < 0:
			return reply{null: true}, rest, nil
		case len(rest) < n+2:
			return reply{}, b, errIncomplete
		}
		return reply{value: string(rest[:n])}, rest[n+2:], nil
	}
	return reply{}, b, fmt.Errorf("unexpected reply type %q", line[0])
}
