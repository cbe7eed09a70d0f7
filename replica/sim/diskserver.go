package sim

import (
	"time"

	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/outputs"
	diskserver "github.com/synodvm/synod/peripherals/disk"
)

// invDiskOnce: the disk server applies each write once, however often a
// node sends it (a lost answer, a repeat after a restart, a path the
// cluster declared down still sending): its exactly-once table answers a
// write it has seen with the first answer. The model server does not
// crash, so nothing excuses a second application.
const invDiskOnce = "disk-once"

// diskClientID is the identity every node's device gives the server, as
// cmd/synod/nodedisks.go does (the cluster's, and the disk's name): the
// same output sent by another node, or after a restart, is recognised.
const diskClientID = "sim/journal"

// diskServer is the shared disk server (synod disk serve) as the nodes
// reach it: one image, written through the server's own exactly-once
// rule (disk.ExactlyOnce), and the connections of the nodes' devices, on
// which requests and answers travel for a latency the plan draws. A
// connection may break mid-request (FaultNetwork): the request is lost
// before it is applied, or applied with its answer lost; either way the
// device cannot tell, and every call waiting on the connection ends
// uncertain. What it leaves out: the server's batches and fsyncs (a
// write is durable once applied), its crashes, and its limits on
// unanswered requests (a device has one per output in flight).
type diskServer struct {
	sim   *Sim
	image []byte
	once  *diskserver.ExactlyOnce
	// applied counts the applications of each write, by seq.
	applied map[uint64]int
	// transit holds requests and answers on their way, in the order
	// they were sent.
	transit []diskMessage
}

// diskConn is one device's connection to the server; it ends with the
// process or when it breaks.
type diskConn struct {
	dev    *diskDevice
	broken bool
}

// diskMessage is a request on its way to the server (answer nil) or an
// answer on its way back. cert is a write's certificate in a Byzantine
// run (outputs.AppendCertificate's encoding).
type diskMessage struct {
	conn   *diskConn
	due    time.Duration
	o      outputs.Output
	cert   []byte
	answer *entry.Completion
}

func newDiskServer(s *Sim, size int64) *diskServer {
	return &diskServer{sim: s, image: make([]byte, size), once: diskserver.NewExactlyOnce(diskserver.Options{}), applied: map[uint64]int{}}
}

// send puts a request or an answer on the wire.
func (d *diskServer) send(m diskMessage) {
	m.due = d.sim.now + between(d.sim.rng, 0, d.sim.journal.plan.latency)
	d.transit = append(d.transit, m)
}

// step delivers what is due: requests to the server, answers to the
// devices still there to take them.
func (d *diskServer) step() {
	var later []diskMessage
	due := d.transit
	d.transit = nil
	for _, m := range due {
		switch {
		case m.conn.broken:
		case m.due > d.sim.now:
			later = append(later, m)
		case m.answer != nil:
			m.conn.dev.answered(m.conn, *m.answer)
		default:
			d.serve(m)
		}
	}
	d.transit = append(later, d.transit...)
}

// serve applies a request and answers it, unless the connection breaks
// before or after the server applies it.
func (d *diskServer) serve(m diskMessage) {
	s := d.sim
	cut := !s.faultsOver && s.rng.Float64() < s.journal.plan.cut
	if cut && s.rng.IntN(2) == 0 {
		d.cut(m, "before the server applies it")
		return
	}
	c := d.perform(m.o, m.cert)
	if cut {
		d.cut(m, "after the server applied it")
		return
	}
	d.send(diskMessage{conn: m.conn, o: m.o, answer: &c})
}

func (d *diskServer) cut(m diskMessage, when string) {
	d.sim.counts.DiskCuts++
	d.sim.trace.note(d.sim.now, m.conn.dev.n.id, "disk connection breaks mid-request #%d, %s", m.o.Seq, when)
	m.conn.dev.broke(m.conn)
}

// perform does one request on the image and says what the node answers,
// as peripherals.Disks and cmd/synod/nodedisks.go map the server's
// answers: a definite failure is EIO (ENOSPC past the end).
func (d *diskServer) perform(o outputs.Output, cert []byte) entry.Completion {
	c := entry.Completion{Node: o.Node, Seq: o.Seq}
	switch a := o.Action.(type) {
	case outputs.DiskRead:
		if !d.inRange(a.Offset, a.Length) {
			c.Errno = errnoENOSPC
			return c
		}
		c.Data = append([]byte(nil), d.image[a.Offset:a.Offset+int64(a.Length)]...)
	case outputs.DiskWrite:
		if !d.certified(o.Seq, a, cert) {
			c.Errno = errnoEIO
			return c
		}
		if !d.inRange(a.Offset, len(a.Data)) {
			c.Errno = errnoENOSPC
			return c
		}
		n, err := d.once.Write(diskClientID, o.Seq, a.Offset, a.Data, func() (int, error) { return d.apply(o.Seq, a), nil })
		if err != nil {
			c.Errno = errnoEIO
		}
		c.N = uint64(n)
	}
	return c
}

// certified is, in a Byzantine run, the check synod disk serve --cluster
// makes of a write before its other checks and the table: f+1 members'
// signatures over the write as it came, to this disk. A write without
// them is refused, which the guest sees as EIO, and counted.
func (d *diskServer) certified(seq uint64, w outputs.DiskWrite, cert []byte) bool {
	s := d.sim
	if s.byz == nil {
		return true
	}
	err := outputs.VerifyDiskWrite(s.clusterID(), s.memberKeys, journalDisk, seq, w.Offset, w.Data, cert)
	if err == nil {
		return true
	}
	s.byzCounts.WritesRefused++
	s.trace.note(s.now, 0, "disk refuses #%d (%d bytes at %d): %v", seq, len(w.Data), w.Offset, err)
	return false
}

// inRange is the server's check before the table (disk.Server.check):
// a request past the image's end is answered out of range.
func (d *diskServer) inRange(offset int64, n int) bool {
	return offset >= 0 && offset+int64(n) <= int64(len(d.image))
}

// Guest errno values of a failed disk request, as peripherals' are.
const (
	errnoEIO    = 5
	errnoENOSPC = 28
)

// apply writes to the image: the table found the write new.
func (d *diskServer) apply(seq uint64, w outputs.DiskWrite) int {
	d.applied[seq]++
	if d.applied[seq] > 1 {
		d.sim.violate(invDiskOnce, "write #%d (%d bytes at %d) applied %d times", seq, len(w.Data), w.Offset, d.applied[seq])
	}
	copy(d.image[w.Offset:], w.Data)
	d.sim.trace.note(d.sim.now, 0, "disk applies #%d: %d bytes at %d", seq, len(w.Data), w.Offset)
	d.sim.journal.applied(w.Offset, len(w.Data))
	return len(w.Data)
}
