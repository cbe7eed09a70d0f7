package bft

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/synodvm/synod/consensus"
)

// Log is the production form of the engine: a Core driven by one
// goroutine with a wall-clock ticker, fed by the transport and by Propose
// from any goroutine, persisting what the core asks to its Storage before
// anything it says goes out. It implements consensus.Log.
//
// One Ready at a time is written, by a goroutine of its own that then
// sends its messages; the loop meanwhile goes on stepping the core, which
// gathers everything that arrives into the next Ready, and hands the
// decided entries to the application without waiting for the write (see
// Ready). A sync costs about a millisecond, and a request waits for four
// in turn (its request, the pre-prepare, the prepare, the commit):
// written from the loop, every message that arrived during a sync waited
// for it before even its signature was checked, every Ready paid its own
// sync, and the entries waited for one more, that of their decided
// record. Taking the next Ready only once the last one is written makes
// one sync cover whatever came meanwhile.
type Log struct {
	core    *Core
	net     consensus.Transport
	store   Storage
	source  consensus.SnapshotSource
	applies chan consensus.Apply

	proposals chan *proposal
	stop      chan struct{}
	done      chan struct{}
	stopOnce  sync.Once
	state     atomic.Pointer[published]
	// writes takes a Ready to the writer; written says it is durable and
	// sent, or gives the error that ended the writes.
	writes  chan Ready
	written chan error
	// snapshots brings the answer of the snapshot job the loop started
	// (takeSnapshot).
	snapshots chan takenSnapshot
	// err is what ended the loop, set before done closes.
	err error
}

var _ consensus.Log = (*Log)(nil)

// published is what the loop last published for other goroutines.
type published struct {
	status consensus.Status
	stats  Stats
}

// proposal is one Propose call waiting for the loop's answer.
type proposal struct {
	data  []byte
	reply chan error // buffered
}

// appliesBuffer is the capacity of the Applies channel in batches; the
// loop keeps the rest until the application takes them.
const appliesBuffer = 64

// maxEventsPerBatch bounds how many proposals and messages the loop takes
// before it handles a Ready: enough that a burst becomes one batch and
// one durable write, few enough that ticks stay timely.
const maxEventsPerBatch = 512

// Start opens the engine on the records in store and runs it until Stop;
// source gives the application's state at each checkpoint. The Log owns
// store and net afterwards: Stop closes them.
func Start(cfg Config, store Storage, net consensus.Transport, source consensus.SnapshotSource) (*Log, error) {
	if source == nil {
		return nil, errors.New("bft: start: a snapshot source is required (checkpoints digest the application's state)")
	}
	records, err := store.Load()
	if err != nil {
		return nil, fmt.Errorf("bft: start: %w", err)
	}
	core, err := NewCore(cfg, records)
	if err != nil {
		return nil, err
	}
	l := &Log{
		core: core, net: net, store: store, source: source,
		applies:   make(chan consensus.Apply, appliesBuffer),
		proposals: make(chan *proposal, maxEventsPerBatch),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		writes:    make(chan Ready),
		written:   make(chan error, 1),
		snapshots: make(chan takenSnapshot, 1),
	}
	l.publishStatus()
	writerDone := make(chan struct{})
	go l.writer(writerDone)
	go l.run(core.cfg.TickInterval, writerDone)
	return l, nil
}

// Propose implements consensus.Log: it returns once the core has taken
// the proposal, to go out in this node's next request (Core.Propose), or
// with ErrBusy's back-pressure, waits.
func (l *Log) Propose(ctx context.Context, data []byte) error {
	p := &proposal{data: data, reply: make(chan error, 1)}
	select {
	case l.proposals <- p:
	case <-ctx.Done():
		return ctx.Err()
	case <-l.done:
		return consensus.ErrStopped
	}
	select {
	case err := <-p.reply:
		return err
	case <-ctx.Done():
		// The loop may still propose it; like a lost reply, the caller
		// cannot tell, and a retry is a new request.
		return ctx.Err()
	case <-l.done:
		return consensus.ErrStopped
	}
}

// MaxProposal is the most data one Propose takes: a request's bound less
// what each proposal counts beyond its bytes.
func (l *Log) MaxProposal() int { return l.core.cfg.MaxRequestBytes - itemCost }

// Applies implements consensus.Log. After a restart the first Apply is
// the stable checkpoint's snapshot, then the entries decided after it.
func (l *Log) Applies() <-chan consensus.Apply { return l.applies }

// Status implements consensus.Log: Leader is the primary of the current
// view (0 while the view changes) and Term the view.
func (l *Log) Status() consensus.Status { return l.state.Load().status }

// Stats returns the core's counters.
func (l *Log) Stats() Stats { return l.state.Load().stats }

// Stop implements consensus.Log.
func (l *Log) Stop() error {
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
	if errors.Is(l.err, consensus.ErrStopped) {
		return nil
	}
	return l.err
}

func (l *Log) publishStatus() {
	l.state.Store(&published{status: l.core.Status(), stats: l.core.Stats()})
}

func (l *Log) run(tick time.Duration, writerDone chan struct{}) {
	ticker := time.NewTicker(tick)
	var waiting []*proposal       // refused by back-pressure, oldest first
	var pending []consensus.Apply // decided, not yet taken by the application
	var due *SnapshotDue
	writing := false // a Ready is with the writer
	taking := false  // a snapshot job is under way
	// ask starts a snapshot job for due once the application has been
	// handed everything before the checkpoint, unless one is under way.
	ask := func() {
		if due != nil && len(pending) == 0 && !taking {
			taking = true
			go l.takeSnapshot(due)
		}
	}
	defer func() {
		ticker.Stop()
		for _, p := range waiting {
			p.reply <- consensus.ErrStopped
		}
		close(l.writes)
		<-writerDone
		close(l.applies)
		l.err = errors.Join(l.err, l.net.Close(), l.store.Close())
		close(l.done)
	}()
	inbound := l.net.Inbound()
	for {
		var out chan consensus.Apply
		var head consensus.Apply
		if len(pending) > 0 {
			out, head = l.applies, pending[0]
		}
		select {
		case <-l.stop:
			l.err = consensus.ErrStopped
			return
		case <-ticker.C:
			l.core.Tick()
			ask()
		case t := <-l.snapshots:
			taking = false
			switch {
			case t.due != due:
				ask() // the state was replaced meanwhile; another may be due
			case l.snapshotTaken(t):
				due = nil
			}
		case in, ok := <-inbound:
			if !ok {
				l.err = errors.New("bft: transport closed its inbound channel")
				return
			}
			l.step(in)
		case p := <-l.proposals:
			waiting = append(waiting, p)
		case err := <-l.written:
			writing = false
			if err != nil {
				l.err = err
				return
			}
		case r := <-l.net.SnapshotsSent():
			if r.Err != nil {
				l.core.log.Debug("bft: state transfer not delivered", "to", r.To, "err", r.Err)
			}
		case out <- head:
			pending = pending[1:]
			// Once the application has been handed everything before the
			// checkpoint, ask now rather than at the next tick, since
			// nothing more is delivered until it answers.
			ask()
		}
	batch:
		for range maxEventsPerBatch {
			select {
			case in, ok := <-inbound:
				if !ok {
					break batch
				}
				l.step(in)
			case p := <-l.proposals:
				waiting = append(waiting, p)
			default:
				break batch
			}
		}
		waiting = l.offer(waiting)
		if !writing && l.core.HasReady() {
			rd := l.core.Ready()
			writing = true
			l.writes <- rd
			for _, a := range rd.Applies {
				if a.Snapshot != nil {
					due = nil // the state was replaced: what was due no longer is
				}
			}
			pending = append(pending, rd.Applies...)
			if rd.SnapshotDue != nil {
				due = rd.SnapshotDue
				ask()
			}
		}
		l.publishStatus()
	}
}

// writer makes each Ready durable and then sends its messages, in the
// order the loop hands them over, until writes closes. The core keeps
// being stepped meanwhile: what it says then goes in a later Ready, which
// leaves only after this one is durable.
func (l *Log) writer(done chan struct{}) {
	defer close(done)
	for rd := range l.writes {
		if err := l.store.Append(rd.Persist, rd.Compact); err != nil {
			l.written <- err
			continue
		}
		for _, m := range rd.Messages {
			_ = l.net.Send(m.To, m.Data) // lost messages are resent by the core
		}
		for _, s := range rd.Snapshots {
			_ = l.net.SendSnapshot(s.To, s.Head, s.Body) // the peer asks again
		}
		l.written <- nil
	}
}

// offer proposes the waiting proposals in order until back-pressure
// refuses one.
func (l *Log) offer(waiting []*proposal) []*proposal {
	for len(waiting) > 0 {
		err := l.core.Propose(waiting[0].data)
		if errors.Is(err, ErrBusy) {
			return waiting
		}
		waiting[0].reply <- err
		waiting = waiting[1:]
	}
	return waiting
}

func (l *Log) step(in consensus.Inbound) {
	if err := l.core.Step(in.From, in.Data); err != nil {
		l.core.log.Debug("bft: message dropped", "from", in.From, "err", err)
	}
}

// takenSnapshot is the answer of a snapshot job: the application's
// state for due, and its SHA-256.
type takenSnapshot struct {
	due  *SnapshotDue
	snap consensus.Snapshot
	app  Digest
	err  error
}

// takeSnapshot asks the application for its state at due and hashes it,
// off the loop: encoding and hashing a machine snapshot takes
// milliseconds (17 ms and 6 ms a checkpoint for the key-value guest under
// load, issue 11), during which the loop used to take no message and
// the whole cluster's agreement paused at every checkpoint. The core
// delivers nothing past the checkpoint until the loop hands it the
// answer, so the application stays where due says meanwhile.
func (l *Log) takeSnapshot(due *SnapshotDue) {
	t := takenSnapshot{due: due}
	t.snap, t.err = l.source()
	if t.err == nil && t.snap.Index == due.Index {
		t.app = sha256.Sum256(t.snap.Data)
	}
	l.snapshots <- t
}

// snapshotTaken gives the core the state a snapshot job brought, and
// reports whether it took it; when not, the loop asks again at the next
// tick (the application may still be applying).
func (l *Log) snapshotTaken(t takenSnapshot) bool {
	switch {
	case t.err != nil:
		l.core.log.Warn("bft: snapshot source failed; trying again", "seq", t.due.Seq, "err", t.err)
		return false
	case t.snap.Index < t.due.Index:
		return false // still applying
	case t.snap.Index > t.due.Index:
		l.core.log.Error("bft: the application's snapshot is past the checkpoint", "want", t.due.Index, "got", t.snap.Index)
		return false
	}
	if err := l.core.snapshotTaken(t.due.Seq, t.snap.Data, t.app); err != nil {
		l.core.log.Warn("bft: snapshot not taken", "seq", t.due.Seq, "err", err)
	}
	return true
}
