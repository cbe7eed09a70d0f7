package sim

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/synodvm/synod/consensus/entry"
)

// netport is one node's network service port as peripherals.NetPort
// implements it, on virtual time and with simulated clients instead of
// sockets: clients' connections and bytes become inputs the node proposes
// in self-sealing batches, kept until they are seen committed and proposed
// again after retryAfter; the guest's outputs come back as Send, Close and
// Refuse. What it leaves out: reads are not throttled by unacknowledged
// bytes (simulated clients send little), and a batch the log refuses waits
// for the retry instead of blocking the proposer.
type netport struct {
	node      *node
	listening map[uint16]bool
	serving   bool
	// serial numbers connections; it starts at the node's start time in
	// nanoseconds, as NetPort's does, so serials stay unique across
	// restarts.
	serial uint64
	conns  map[uint64]*pconn
	// queued are the connections with inputs not yet in a batch, in the
	// order they got them.
	queued    []*pconn
	lastRetry time.Duration
}

// Timings of the port, as NetPort's defaults.
const (
	retryAfter  = 300 * time.Millisecond
	giveUpAfter = 30 * time.Second
)

// pconn is one client connection as its node's port holds it.
type pconn struct {
	id     entry.ConnID
	port   *netport
	client *client
	// unacked are the inputs proposed and not yet seen committed, in
	// order; proposed of them have gone out in a batch.
	unacked      []entry.Entry
	proposed     int
	queued       bool
	oldest       time.Duration // when the oldest unacked input was first proposed
	lastProposed time.Duration
	offset       uint64 // stream offset of the client's next byte
	hungUp       bool   // the client is gone; forgotten once its close commits
}

func newNetport(n *node, now time.Duration) *netport {
	return &netport{node: n, listening: map[uint16]bool{}, conns: map[uint64]*pconn{}, serial: uint64(now)}
}

var errRefused = errors.New("connection refused")

// connect is a client connecting to the guest's port: refused unless the
// port is served and the node serves clients now.
func (p *netport) connect(c *client, port uint16) (*pconn, error) {
	switch {
	case !p.listening[port]:
		return nil, fmt.Errorf("node %d does not serve guest port %d: %w", p.node.id, port, errRefused)
	case !p.serving:
		return nil, fmt.Errorf("node %d is not serving (catching up or declared down): %w", p.node.id, errRefused)
	}
	p.serial++
	pc := &pconn{id: entry.ConnID{Node: p.node.id, Serial: p.serial}, port: p, client: c}
	p.conns[pc.id.Serial] = pc
	p.submit(pc, entry.ConnOpen{Conn: pc.id, Port: port, PeerIP: [4]byte{10, 0, 0, byte(c.id)}, PeerPort: 40000})
	return pc, nil
}

// write is bytes the client sent.
func (p *netport) write(pc *pconn, data []byte) {
	p.submit(pc, entry.ConnData{Conn: pc.id, Offset: pc.offset, Data: data})
	pc.offset += uint64(len(data))
}

// HangUpAll is the node hanging up on every client after a snapshot
// install: their socket closes, and the node tells the guest.
func (p *netport) HangUpAll() int {
	serials := p.serials()
	for _, serial := range serials {
		pc := p.conns[serial]
		p.hangUp(pc)
		pc.client.disconnected(pc, "its node installed a snapshot")
	}
	return len(serials)
}

// hangUp is the client closing its side.
func (p *netport) hangUp(pc *pconn) {
	if !pc.hungUp {
		pc.hungUp = true
		p.submit(pc, entry.ConnClose{Conn: pc.id})
	}
}

func (p *netport) submit(pc *pconn, e entry.Entry) {
	now := p.node.sim.now
	if len(pc.unacked) == 0 {
		pc.oldest = now
	}
	pc.unacked = append(pc.unacked, e)
	pc.lastProposed = now
	p.enqueue(pc)
}

func (p *netport) enqueue(pc *pconn) {
	if !pc.queued {
		pc.queued = true
		p.queued = append(p.queued, pc)
	}
}

// step proposes what the clients sent as one batch, and every half
// retryAfter proposes again what the log has not committed.
func (p *netport) step() {
	now := p.node.sim.now
	if now-p.lastRetry >= retryAfter/2 {
		p.lastRetry = now
		p.retry(now)
	}
	batch := p.takeBatch()
	if len(batch.Entries) > 0 {
		p.node.proposeNow(batch) // a refusal is retried after retryAfter
	}
}

// takeBatch collects the unproposed inputs of the queued connections,
// oldest connection first, within one batch's bounds.
func (p *netport) takeBatch() entry.Inputs {
	batch := entry.Inputs{Time: p.node.clock()}
	data := 0
	for len(p.queued) > 0 {
		pc := p.queued[0]
		for pc.proposed < len(pc.unacked) && len(batch.Entries) < entry.MaxInputs {
			e := pc.unacked[pc.proposed]
			clientBytes := entry.InputData(e)
			if data+clientBytes > entry.MaxInputsData {
				break
			}
			data += clientBytes
			batch.Entries = append(batch.Entries, e)
			pc.proposed++
		}
		if pc.proposed < len(pc.unacked) {
			break // the batch is full
		}
		pc.queued = false
		p.queued = p.queued[1:]
	}
	return batch
}

func (p *netport) retry(now time.Duration) {
	for _, serial := range p.serials() {
		pc := p.conns[serial]
		switch {
		case len(pc.unacked) == 0 || now-pc.lastProposed < retryAfter:
		case now-pc.oldest > giveUpAfter:
			p.node.sim.trace.note(now, p.node.id, "conn %d cut off: its input could not be ordered", serial)
			p.forget(pc, "its input could not be ordered")
		default:
			pc.lastProposed = now
			pc.proposed = 0
			p.enqueue(pc)
		}
	}
}

// serials are the connections' serials in order: never iterate the map.
func (p *netport) serials() []uint64 {
	s := make([]uint64, 0, len(p.conns))
	for serial := range p.conns {
		s = append(s, serial)
	}
	slices.Sort(s)
	return s
}

// committed acknowledges this node's inputs in order, as NetPort.Committed.
func (p *netport) committed(e entry.Entry) {
	if batch, ok := e.(entry.Inputs); ok {
		for _, in := range batch.Entries {
			p.committed(in)
		}
		return
	}
	id, ok := entry.ConnOf(e)
	if !ok {
		return
	}
	if id.Node != p.node.id {
		return
	}
	pc := p.conns[id.Serial]
	if pc == nil || len(pc.unacked) == 0 || !covers(e, pc.unacked[0]) {
		return
	}
	pc.unacked = pc.unacked[1:]
	pc.proposed = max(pc.proposed-1, 0)
	pc.oldest = p.node.sim.now
	if _, closed := e.(entry.ConnClose); closed {
		delete(p.conns, id.Serial)
	}
}

// covers reports whether committed entry c acknowledges pending input pend.
func covers(c, pend entry.Entry) bool {
	if pd, ok := pend.(entry.ConnData); ok {
		d, ok := c.(entry.ConnData)
		return ok && d.Offset <= pd.Offset && d.Offset+uint64(len(d.Data)) >= pd.Offset+uint64(len(pd.Data))
	}
	return c.Kind() == pend.Kind()
}

// forget drops a connection and tells its client the socket closed.
func (p *netport) forget(pc *pconn, why string) {
	pc.hungUp = true
	delete(p.conns, pc.id.Serial)
	pc.client.disconnected(pc, why)
}

// crash is the node's process dying: every client's socket resets.
func (p *netport) crash() {
	for _, serial := range p.serials() {
		pc := p.conns[serial]
		delete(p.conns, serial)
		if !pc.hungUp {
			pc.client.disconnected(pc, "its node crashed")
		}
	}
}

// The Devices.Net face, called by the node's outputs.Router.

func (p *netport) Listen(port uint16) error {
	p.listening[port] = true
	return nil
}

func (p *netport) SetServing(on bool) { p.serving = on }

func (p *netport) lookup(id entry.ConnID) *pconn {
	p.node.sim.checks.performing(p.node, id)
	if id.Node != p.node.id {
		return nil
	}
	return p.conns[id.Serial]
}

func (p *netport) Send(id entry.ConnID, data []byte) {
	if pc := p.lookup(id); pc != nil && !pc.hungUp {
		p.node.sim.checks.performed(p.node)
		pc.client.receive(data)
	}
}

func (p *netport) Close(id entry.ConnID) {
	if pc := p.lookup(id); pc != nil {
		p.node.sim.checks.performed(p.node)
		p.forget(pc, "the guest closed it")
	}
}

func (p *netport) Refuse(id entry.ConnID, reason string) {
	if pc := p.lookup(id); pc != nil {
		p.node.sim.checks.performed(p.node)
		p.forget(pc, "refused: "+reason)
	}
}
