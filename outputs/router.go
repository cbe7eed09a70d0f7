package outputs

import (
	"io"
	"log/slog"
	"maps"
	"sync/atomic"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/internal/planted"
)

// Net is a node's service port: the guest's listening ports and client
// connections.
type Net interface {
	Listen(guestPort uint16) error
	Send(conn entry.ConnID, data []byte)
	Close(conn entry.ConnID)
	// Refuse hangs up on a client the guest never accepted.
	Refuse(conn entry.ConnID, reason string)
	// SetServing says whether the node serves clients now; while it
	// does not, the port hangs up on new ones at once.
	SetServing(on bool)
	// HangUpAll hangs up on every client, telling the guest, and says
	// how many there were: a snapshot replaced the history that held
	// their replies, which this node will never send.
	HangUpAll() int
}

// Devices are the peripherals of this node that perform its outputs.
type Devices struct {
	// Net serves guest ports and client connections.
	Net Net
	// Stdout and Stderr receive the guest's console when this node is the
	// console node.
	Stdout, Stderr io.Writer
	// Refill proposes fresh random bytes for the guest's pool, or their
	// commitment, as the action says.
	Refill func(Refill)
	// Disks performs disk actions on this node's paths; nil when the node
	// has none. It answers each by calling complete, from any goroutine,
	// and drops an output whose sequence number it is already performing.
	Disks interface {
		Perform(o Output, complete func(entry.Completion))
	}
	// Complete proposes a device's completion of an output.
	Complete func(entry.Completion)
}

// Router performs the outputs addressed to this node and counts the rest
// as done elsewhere. Sequence numbers only grow; a replayed output (after a
// restore) is never performed twice by the same router.
type Router struct {
	Self    consensus.NodeID
	Devices Devices
	Logger  *slog.Logger
	// Quiet is set while a restarted node replays history it may already
	// have acted on before it crashed: it then performs only what restores
	// its own devices (listening ports) or cannot do harm twice (random
	// refills), and records the rest as done.
	Quiet atomic.Bool
	// Fenced is set while a NodeDown of this node has committed and its
	// replica has not delivered it: disk outputs are then recorded as
	// done, not performed. The history before the NodeDown was decided
	// without this node: its I/O there completed as uncertain, and a
	// write performed late would land after the newer ones the guest
	// issued through other paths.
	Fenced atomic.Bool
	// Certify, in a Byzantine cluster, signs every output for the node
	// it is addressed to and holds this node's own until they are
	// certified; nil in a crash-fault cluster, where outputs are
	// performed as they are computed. The outputs routed are signed at
	// the next Flush, or once they have waited for it (FlushIfDue).
	Certify *Certifier
	// Observe, when set, is called with each output just before this
	// router performs it, and its certificate (nil where none is
	// needed): the simulator checks every performed output with it.
	Observe func(Output, Certificate)

	lastSeq   uint64
	actioned  atomic.Uint64
	elsewhere atomic.Uint64
	byKind    [NumKinds]atomic.Uint64 // performed here
	// consoleThrough is the sequence number of the last console output
	// performed here, for the node to acknowledge.
	consoleThrough atomic.Uint64
	// consoleTaken is the sequence number of the last console output this
	// router took to perform in this life: performed, or held for its
	// certificate. It runs ahead of consoleThrough while outputs wait for
	// signatures. Only the goroutine that routes uses it.
	consoleTaken uint64
	// addressed counts the outputs routed, by the node each is addressed
	// to and kind. Once Addressed has handed it out (shared), Route
	// replaces the map rather than changing it, so that the one returned
	// stays as it was for whoever holds it; until then Route changes it
	// in place, since a copy per Route was a node's largest allocation
	// after the guest's.
	addressed map[consensus.NodeID][NumKinds]uint64
	shared    bool
	// mine is Route's list of the outputs to perform here, kept between
	// calls: Route runs for every batch of outputs the guest makes.
	mine []Output
}

// Route performs or records each output, in sequence order.
func (r *Router) Route(outs []Output) {
	for len(outs) > 0 && outs[0].Seq <= r.lastSeq {
		outs = outs[1:]
	}
	if r.Certify != nil {
		// Also while quiet: the signatures an earlier life gave are lost
		// with it, and a member that was down or behind when these outputs
		// were new holds its own until f+1 members sign them.
		r.Certify.Sign(outs)
	}
	mine := r.mine[:0]
	for _, o := range outs {
		r.lastSeq = o.Seq
		if r.shared || r.addressed == nil {
			r.addressed = maps.Clone(r.addressed)
			if r.addressed == nil {
				r.addressed = map[consensus.NodeID][NumKinds]uint64{}
			}
			r.shared = false
		}
		byKind := r.addressed[o.Node]
		byKind[KindOf(o.Action)]++
		r.addressed[o.Node] = byKind
		if o.Node != r.Self && !planted.On(planted.OutputOnEveryNode) {
			r.elsewhere.Add(1)
			continue
		}
		if r.Quiet.Load() {
			switch o.Action.(type) {
			case Listen, Refill:
			default:
				r.elsewhere.Add(1)
				continue
			}
		}
		if r.Fenced.Load() && NeedsCompletion(o.Action) {
			r.elsewhere.Add(1)
			continue
		}
		r.actioned.Add(1)
		mine = append(mine, o)
	}
	r.performCertified(mine)
	clear(mine) // lets the data sent go
	r.mine = mine
	if r.Certify != nil {
		r.Certify.FlushIfDue()
	}
}

// Routed is the sequence number of the last output Route took.
func (r *Router) Routed() uint64 { return r.lastSeq }

// Flush signs the outputs routed or repeated since the last flush: the
// node calls it when it has nothing more to run (Certifier.Flush).
func (r *Router) Flush() {
	if r.Certify != nil {
		r.Certify.Flush()
	}
}

// Repeat performs outputs again that this node may have performed in an
// earlier life, whatever their sequence numbers: console output it was
// given but never acknowledged before it restarted, and disk outputs
// whose completion has not committed (the devices drop a repeat of what
// they are performing). A console output this life has taken already is
// left alone: held for its certificate, it is performed once that comes;
// performed, taken again, it would be certified again and print twice.
func (r *Router) Repeat(outs []Output) {
	var again []Output
	for _, o := range outs {
		if _, console := o.Action.(Console); !console || o.Seq > r.consoleTaken {
			again = append(again, o)
		}
	}
	r.actioned.Add(uint64(len(again)))
	r.performCertified(again)
}

// Withdraw stops holding for a certificate the outputs done reports: ones
// the replicated state no longer waits for (Certifier.Withdraw).
func (r *Router) Withdraw(done func(Output) bool) {
	if r.Certify != nil {
		r.Certify.Withdraw(done)
	}
}

// performCertified performs outs, each once it is certified where
// outputs need certificates. Those that do are held together, so that
// this node signs them with one signature.
func (r *Router) performCertified(outs []Output) {
	var held []Output
	for _, o := range outs {
		if _, console := o.Action.(Console); console {
			r.consoleTaken = max(r.consoleTaken, o.Seq)
		}
		if r.Certify == nil || !NeedsCertificate(o.Action) {
			r.perform(o, nil)
			continue
		}
		held = append(held, o)
	}
	if len(held) > 0 {
		r.Certify.Hold(held, r.perform)
	}
}

// CertifiedSender is a Net device that hands the certificate of a Send on
// to a client that checks it (synod proxy).
type CertifiedSender interface {
	SendCertified(conn entry.ConnID, data []byte, seq uint64, cert Certificate)
}

// CertifiedDisks is a disk device that hands a write's certificate on to
// a disk server that checks it.
type CertifiedDisks interface {
	PerformCertified(o Output, cert Certificate, complete func(entry.Completion))
}

// perform performs o; cert is its certificate in a Byzantine cluster, nil
// otherwise.
func (r *Router) perform(o Output, cert Certificate) {
	if r.Fenced.Load() && NeedsCompletion(o.Action) {
		// Held for its certificate since before the node learnt it was
		// declared down, and certified now: the same history Fenced keeps
		// Route from performing.
		return
	}
	if r.Observe != nil {
		r.Observe(o, cert)
	}
	r.byKind[KindOf(o.Action)].Add(1)
	switch a := o.Action.(type) {
	case Send:
		if s, ok := r.Devices.Net.(CertifiedSender); ok && cert != nil {
			s.SendCertified(a.Conn, a.Data, o.Seq, cert)
			return
		}
		r.Devices.Net.Send(a.Conn, a.Data)
	case CloseConn:
		r.Devices.Net.Close(a.Conn)
	case RefuseConn:
		r.Devices.Net.Refuse(a.Conn, a.Reason)
	case Listen:
		if err := r.Devices.Net.Listen(a.Port); err != nil {
			r.Logger.Warn("cannot serve a guest port on this node yet; retrying", "seq", o.Seq, "err", err)
		}
	case Console:
		w := r.Devices.Stdout
		if a.Stream == 2 {
			w = r.Devices.Stderr
		}
		if _, err := w.Write(a.Data); err != nil {
			r.Logger.Warn("console output lost", "seq", o.Seq, "err", err)
		}
		r.consoleThrough.Store(o.Seq)
	case Refill:
		r.Devices.Refill(a)
	case DiskRead, DiskWrite:
		if r.Devices.Disks == nil {
			r.Logger.Warn("a disk output for a node without disks; it stays outstanding until the node is declared down", "seq", o.Seq, "action", a)
			return
		}
		if d, ok := r.Devices.Disks.(CertifiedDisks); ok && cert != nil {
			d.PerformCertified(o, cert, r.Devices.Complete)
			return
		}
		r.Devices.Disks.Perform(o, r.Devices.Complete)
	}
}

// ConsoleThrough is the sequence number of the last console output this
// node performed.
func (r *Router) ConsoleThrough() uint64 { return r.consoleThrough.Load() }

// ConsoleTaken is the sequence number of the last console output this
// router took to perform in this life: performed, or held for its
// certificate. Call it from the goroutine that calls Route.
func (r *Router) ConsoleTaken() uint64 { return r.consoleTaken }

// PerformedByKind counts the outputs performed here, by Kinds.
func (r *Router) PerformedByKind() [NumKinds]uint64 {
	var n [NumKinds]uint64
	for i := range n {
		n[i] = r.byKind[i].Load()
	}
	return n
}

// Addressed counts the outputs routed, by the node each is addressed to
// and kind. Call it from the goroutine that calls Route; the map is
// never changed afterwards, and must not be changed by the caller.
func (r *Router) Addressed() map[consensus.NodeID][NumKinds]uint64 {
	r.shared = true
	return r.addressed
}

// Counts reports outputs performed here and outputs performed elsewhere.
func (r *Router) Counts() (actioned, elsewhere uint64) {
	return r.actioned.Load(), r.elsewhere.Load()
}
