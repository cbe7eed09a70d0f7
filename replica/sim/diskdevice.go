package sim

import (
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/outputs"
)

// diskDevice is one process's disk device as peripherals.Disks
// implements it, on virtual time: it sends the disk outputs addressed to
// its node to the shared server (diskserver.go) on one connection, under
// the output's sequence number; it sends an output once while it is in
// flight, and answers with the server's answer through complete. A call
// whose connection broke is uncertain and not answered: the runtime
// performs the output again after a second (Replica.Owed), and the next
// call connects again. What it leaves out: the request timeout (a
// request on a live connection is always answered here) and the backoff
// after a failed connection attempt (the server always accepts).
type diskDevice struct {
	n        *node
	conn     *diskConn
	inflight map[uint64]func(entry.Completion)
	// dead is set when the process ends: answers find nobody.
	dead bool
}

func newDiskDevice(n *node) *diskDevice {
	return &diskDevice{n: n, inflight: map[uint64]func(entry.Completion){}}
}

// Perform implements outputs.Devices.Disks.
func (d *diskDevice) Perform(o outputs.Output, complete func(entry.Completion)) {
	d.PerformCertified(o, nil, complete)
}

// PerformCertified implements outputs.CertifiedDisks: in a Byzantine run
// a write goes to the server with its certificate, encoded as on the
// wire.
func (d *diskDevice) PerformCertified(o outputs.Output, cert outputs.Certificate, complete func(entry.Completion)) {
	s := d.n.sim
	if o.Node != d.n.id {
		s.violate(invOutputNode, "node %d performs output #%d (%v), addressed to node %d", d.n.id, o.Seq, o.Action, o.Node)
	}
	if d.inflight[o.Seq] != nil {
		return
	}
	if d.conn == nil || d.conn.broken {
		d.conn = &diskConn{dev: d}
	}
	d.inflight[o.Seq] = complete
	s.journal.active = d.n.id
	s.trace.note(s.now, d.n.id, "disk request #%d: %v", o.Seq, o.Action)
	m := diskMessage{conn: d.conn, o: o}
	if cert != nil {
		m.cert = outputs.AppendCertificate(nil, cert)
	}
	s.journal.server.send(m)
}

// answered takes the server's answer and proposes it.
func (d *diskDevice) answered(c *diskConn, answer entry.Completion) {
	complete := d.inflight[answer.Seq]
	if d.dead || c != d.conn || complete == nil {
		return
	}
	delete(d.inflight, answer.Seq)
	d.n.sim.trace.note(d.n.sim.now, d.n.id, "disk answers #%d: errno %d, %d bytes", answer.Seq, answer.Errno, answer.N)
	complete(answer)
}

// broke ends every call on c uncertain: the server may or may not have
// applied them.
func (d *diskDevice) broke(c *diskConn) {
	c.broken = true
	if c == d.conn {
		clear(d.inflight)
	}
}

// crash is the process dying: its requests already on the wire may
// still reach the server, but their answers find nobody.
func (d *diskDevice) crash() { d.dead = true }
