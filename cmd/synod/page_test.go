package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/cluster"
	"github.com/synodvm/synod/replica"
)

// fakeClock is a clock the test moves.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time          { return c.now }
func (c *fakeClock) advance(d time.Duration) { c.now = c.now.Add(d) }
func newFakeClock() *fakeClock               { return &fakeClock{now: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)} }

func kinds(events []timelineEvent) []string {
	return eventField(events, func(e timelineEvent) string { return e.Kind })
}

func eventField(events []timelineEvent, f func(timelineEvent) string) []string {
	var out []string
	for _, e := range events {
		out = append(out, f(e))
	}
	return out
}

// The watcher turns what changes between two looks at the node's status
// into events: the first leader is not a failover, losing an established
// one is, and so is a member declared down.
func TestTimelineRecordsFailovers(t *testing.T) {
	clock := newFakeClock()
	tl := newTimeline(2, clock.Now)
	w := statusWatcher{t: tl}
	status := func(leader consensus.NodeID, down ...consensus.NodeID) replica.NodeStatus {
		s := replica.NodeStatus{ID: 2}
		s.Log.Leader, s.Log.Term = leader, uint64(leader)+1
		s.Replica.Down = down
		return s
	}
	for _, s := range []replica.NodeStatus{
		status(0), status(1), status(1), status(0), status(3), status(3, 1), status(3),
	} {
		w.look(s)
		clock.advance(300 * time.Millisecond)
	}
	events := tl.view().Events
	require.Equal(t, []string{eventStarted, eventLeader, eventNoLeader, eventLeader, eventDown, eventUp}, kinds(events))
	failovers := eventField(events, func(e timelineEvent) string {
		if e.Failover {
			return "failover"
		}
		return ""
	})
	assert.Equal(t, []string{"", "", "failover", "", "failover", ""}, failovers)
	assert.Equal(t, consensus.NodeID(3), events[3].Leader)
	assert.Len(t, tl.view().Samples, 2, "a sample a second")
}

// A timeline keeps only its most recent events.
func TestTimelineIsBounded(t *testing.T) {
	tl := newTimeline(1, newFakeClock().Now)
	for i := range timelineEvents + 10 {
		tl.add(eventSnapshot, false, "snapshot %d", i)
	}
	events := tl.view().Events
	require.Len(t, events, timelineEvents)
	assert.Equal(t, "snapshot 10", events[0].Text)
}

// The page, as HTML: a node that does not answer is a row marked down,
// the others' equal hashes are said to be equal, and a failover is marked
// on the timeline; the other nodes' views of cluster-wide events are not
// shown twice.
func TestClusterPageRendersFailover(t *testing.T) {
	clock := newFakeClock()
	cfg := &cluster.Config{Name: "test cluster", Nodes: []cluster.Node{{ID: 1}, {ID: 2}, {ID: 3}}}
	tl := newTimeline(2, clock.Now)
	tl.record(timelineEvent{Kind: eventLeader, Leader: 1, Text: "node 1 leads (term 2)"})
	clock.advance(10 * time.Second)
	tl.record(timelineEvent{Kind: eventNoLeader, Failover: true, Text: "no leader (term 2)"})
	clock.advance(time.Second)
	tl.record(timelineEvent{Kind: eventLeader, Leader: 2, Text: "node 2 leads (term 3)"})
	other := timelineView{Events: []timelineEvent{
		{At: clock.now, Node: 3, Kind: eventLeader, Leader: 2, Text: "node 2 leads, as node 3 saw it"},
		{At: clock.now, Node: 3, Kind: eventSnapshot, Text: "snapshot at index 40"},
	}}
	views := []nodeView{
		{id: 1, err: errors.New("connection refused")},
		{id: 2, report: nodeReport{ID: 2, Role: "leader", Leader: 2, StateHash: "00ff00aabbccddee", HashEpoch: 7}},
		{id: 3, report: nodeReport{ID: 3, Role: "follower", Leader: 2, StateHash: "00ff00aabbccddee", HashEpoch: 7}},
	}
	page := &clusterPage{cfg: cfg, self: 2, timeline: tl, now: clock.Now}
	d := page.build(views, map[consensus.NodeID]timelineView{2: tl.view(), 3: other}, clock.now)
	assert.True(t, d.HashesEqual)
	assert.Equal(t, 2, d.Answering)
	require.Len(t, d.Rows, 3)
	assert.True(t, d.Rows[0].Down)
	assert.Len(t, d.Chart.Leaders, 2, "node 1's term, then node 2's")

	var html bytes.Buffer
	require.NoError(t, pageTemplate.Execute(&html, d))
	out := html.String()
	assert.Contains(t, out, "does not answer")
	assert.Contains(t, out, "the 2 nodes that answer have the same state hash")
	assert.Equal(t, 1, strings.Count(out, `class="mark failover`))
	assert.Contains(t, out, "snapshot at index 40", "the other nodes' own events are shown")
	assert.NotContains(t, out, "as node 3 saw it", "cluster-wide events are shown once, as this node saw them")
}
