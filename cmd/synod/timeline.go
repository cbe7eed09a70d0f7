package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/outputs"
	"github.com/synodvm/synod/replica"
)

// The timeline is what one node saw happen, for the cluster page: events
// (leader changes, members declared down and up, snapshots, divergences
// and repairs) and a sample of its progress every second. It is derived by
// comparing the node's status from one look to the next, so it costs the
// replica nothing, and kept in memory only: a node started again begins a
// new one.

// Bounds of what a timeline keeps: the page shows the last minutes.
const (
	timelineEvents  = 256
	timelineSamples = 600 // seconds
	// timelineLook is how often the node's status is compared with the
	// last: a leader change shorter than this may be seen as one change.
	timelineLook = 200 * time.Millisecond
)

// Kinds of timeline events. A failover is a change of leader away from
// one that was established, and a member declared down.
const (
	eventLeader   = "leader"
	eventNoLeader = "no-leader"
	eventDown     = "down"
	eventUp       = "up"
	eventSnapshot = "snapshot"
	eventDiverged = "diverged"
	eventRepaired = "repaired"
	eventStarted  = "started"
	eventGuest    = "guest"
)

// timelineEvent is one thing that happened, as one node saw it.
type timelineEvent struct {
	At       time.Time        `json:"at"`
	Node     consensus.NodeID `json:"node"` // the node that saw it
	Kind     string           `json:"kind"`
	Failover bool             `json:"failover,omitempty"`
	// Leader is the new leader of a leader change, 0 for none.
	Leader consensus.NodeID `json:"leader,omitempty"`
	Text   string           `json:"text"`
}

// sendKind indexes the network sends in NodeStatus.Performed.
var sendKind = outputs.KindOf(outputs.Send{})

// timelineSample is one second of a node's progress. Replies counts the
// network sends this node performed: each is one reply to one of its
// clients, and each is performed by one node only, so the cluster's
// replies per second are the sum of every node's.
type timelineSample struct {
	At           time.Time `json:"at"`
	Replies      uint64    `json:"replies"`
	Outputs      uint64    `json:"outputs"` // every kind, performed here
	Instructions uint64    `json:"instructions"`
}

// timeline records one node's events and samples. Its methods are safe
// for concurrent use: the status endpoint reads it while watch writes.
type timeline struct {
	self consensus.NodeID
	now  func() time.Time

	mu            sync.Mutex
	events        []timelineEvent
	samples       []timelineSample
	failoverCount int
}

func newTimeline(self consensus.NodeID, now func() time.Time) *timeline {
	return &timeline{self: self, now: now}
}

// add records an event seen now by this node.
func (t *timeline) add(kind string, failover bool, format string, args ...any) {
	t.record(timelineEvent{Kind: kind, Failover: failover, Text: fmt.Sprintf(format, args...)})
}

// record records e as seen now by this node.
func (t *timeline) record(e timelineEvent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e.At, e.Node = t.now(), t.self
	t.events = appendBounded(t.events, e, timelineEvents)
	if e.Failover {
		t.failoverCount++
	}
}

func (t *timeline) sample(s timelineSample) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.samples = appendBounded(t.samples, s, timelineSamples)
}

// appendBounded appends v, dropping the oldest elements beyond limit.
func appendBounded[T any](s []T, v T, limit int) []T {
	s = append(s, v)
	if len(s) > limit {
		s = slices.Delete(s, 0, len(s)-limit)
	}
	return s
}

// failovers counts the failover events this node recorded, those
// dropped from the bounded list included.
func (t *timeline) failovers() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failoverCount
}

// timelineView is a copy of a timeline, as /timeline serves it.
type timelineView struct {
	Events  []timelineEvent  `json:"events"`
	Samples []timelineSample `json:"samples"`
}

func (t *timeline) view() timelineView {
	t.mu.Lock()
	defer t.mu.Unlock()
	return timelineView{Events: slices.Clone(t.events), Samples: slices.Clone(t.samples)}
}

// watch looks at the node's status every timelineLook until ctx ends,
// and records what changed.
func (t *timeline) watch(ctx context.Context, status func() replica.NodeStatus) {
	look := time.NewTicker(timelineLook)
	defer look.Stop()
	var w statusWatcher
	w.t = t
	for {
		w.look(status())
		select {
		case <-ctx.Done():
			return
		case <-look.C:
		}
	}
}

// statusWatcher compares each status with the one before.
type statusWatcher struct {
	t          *timeline
	seen       bool
	last       replica.NodeStatus
	lastSample time.Time
	// hadLeader is whether a leader was established since the watch
	// began, so that losing it is a failover; the first leader is not.
	hadLeader bool
}

func (w *statusWatcher) look(s replica.NodeStatus) {
	t := w.t
	if now := t.now(); now.Sub(w.lastSample) >= time.Second {
		w.lastSample = now
		t.sample(timelineSample{At: now, Replies: s.Performed[sendKind], Outputs: s.Actioned, Instructions: s.Replica.Instructions})
	}
	prev := w.last
	w.last = s
	if !w.seen {
		w.seen = true
		t.add(eventStarted, false, "node %d started", s.ID)
		prev = replica.NodeStatus{}
	}
	if s.Log.Leader != prev.Log.Leader {
		e := timelineEvent{Kind: eventLeader, Leader: s.Log.Leader}
		switch {
		case s.Log.Leader == 0:
			e.Kind, e.Failover = eventNoLeader, w.hadLeader
			e.Text = fmt.Sprintf("no leader (term %d)", s.Log.Term)
		case prev.Log.Leader != 0:
			e.Failover = w.hadLeader
			e.Text = fmt.Sprintf("leader %d → %d (term %d)", prev.Log.Leader, s.Log.Leader, s.Log.Term)
		default:
			e.Text = fmt.Sprintf("node %d leads (term %d)", s.Log.Leader, s.Log.Term)
		}
		t.record(e)
		w.hadLeader = w.hadLeader || s.Log.Leader != 0
	}
	for _, n := range s.Replica.Down {
		if !slices.Contains(prev.Replica.Down, n) {
			t.add(eventDown, true, "node %d declared down: its outputs go to the others", n)
		}
	}
	for _, n := range prev.Replica.Down {
		if !slices.Contains(s.Replica.Down, n) {
			t.add(eventUp, false, "node %d back up", n)
		}
	}
	if s.Log.Snapshot != prev.Log.Snapshot && s.Log.Snapshot != 0 {
		if s.Log.Snapshot > prev.Replica.Delivered && prev.Replica.Delivered != 0 {
			t.add(eventSnapshot, false, "received a snapshot at index %d (had delivered %d)", s.Log.Snapshot, prev.Replica.Delivered)
		} else {
			t.add(eventSnapshot, false, "snapshot at index %d", s.Log.Snapshot)
		}
	}
	if s.Replica.Stopped != nil && prev.Replica.Stopped == nil {
		t.add(eventDiverged, false, "replica stopped: %v", s.Replica.Stopped)
	}
	if s.Replica.Exited != nil && prev.Replica.Exited == nil {
		t.add(eventGuest, false, "guest exited (code %d, signal %d)", s.Replica.Exited.Code, s.Replica.Exited.Signal)
	}
}
