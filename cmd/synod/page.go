package main

import (
	_ "embed"
	"fmt"
	"html/template"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/cluster"
)

// The cluster page: every node serves it at / on its status address, as
// one HTML document with inline SVG and CSS (no script, no external
// asset), built from every node's /status and /timeline at each request
// and reloaded by the browser every few seconds. Any node's page shows
// the whole cluster, so the page of a survivor shows a failover.

//go:embed page.html
var pageHTML string

var pageTemplate = template.Must(template.New("page").Parse(pageHTML))

const (
	// pageRefresh is how often, in seconds, the browser reloads the page.
	pageRefresh = 2
	// pageWindow is how far back the timeline goes at most; a younger
	// cluster's timeline starts shortly before its first event, and shows
	// at least pageMinWindow.
	pageWindow    = 5 * time.Minute
	pageMinWindow = 30 * time.Second
	// pageEvents bounds the list of events under the timeline.
	pageEvents = 40
)

// clusterPage serves the cluster page of one node.
type clusterPage struct {
	cfg      *cluster.Config
	self     consensus.NodeID
	timeline *timeline
	now      func() time.Time
	logger   *slog.Logger
}

func (p *clusterPage) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	views := fetchViews(p.cfg)
	data := p.build(views, p.fetchTimelines(views), p.now())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pageTemplate.Execute(w, data); err != nil && p.logger != nil {
		p.logger.Debug("cluster page", "err", err)
	}
}

// fetchTimelines gets the timeline of every node that answered, this
// node's from memory.
func (p *clusterPage) fetchTimelines(views []nodeView) map[consensus.NodeID]timelineView {
	timelines := map[consensus.NodeID]timelineView{p.self: p.timeline.view()}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, v := range views {
		if v.err != nil || v.id == p.self {
			continue
		}
		n, err := p.cfg.Node(v.id)
		if err != nil {
			continue
		}
		wg.Go(func() {
			var tl timelineView
			if err := fetchJSON(n.StatusAddr, "/timeline", &tl); err != nil {
				return // the page shows what the others saw
			}
			mu.Lock()
			timelines[v.id] = tl
			mu.Unlock()
		})
	}
	wg.Wait()
	return timelines
}

// pageData is what the template shows.
type pageData struct {
	Title   string
	Self    consensus.NodeID
	Now     string
	Refresh int
	Health  string
	Window  string // how far back the timeline goes
	Rows    []pageRow
	// HashesEqual: every node that answered has a state hash, all of the
	// same epoch and equal; Answering counts them against the cluster's.
	HashesEqual          bool
	Answering, NodeCount int
	Chart                pageChart
	Events               []pageEvent
}

type pageRow struct {
	ID        consensus.NodeID
	Down      bool
	Reason    string
	Role      string
	Leader    string
	Term      uint64
	Epoch     uint64
	Delivered uint64
	Lag       uint64
	Hash      string
	HashEpoch uint64
	HashColor string
	Guest     string
	Conns     int
	Actioned  uint64
	Service   string
}

type pageEvent struct {
	At       string
	Node     consensus.NodeID
	Kind     string
	Failover bool
	Text     string
}

func (p *clusterPage) build(views []nodeView, timelines map[consensus.NodeID]timelineView, now time.Time) pageData {
	title := p.cfg.Name
	if title == "" {
		title = "synod cluster"
	}
	h := clusterHealth(views)
	d := pageData{Title: title, Self: p.self, Now: now.Format("15:04:05"), Refresh: pageRefresh, Health: h.String()}
	hashes := map[string]bool{}
	d.NodeCount, d.Answering = len(views), h.answering
	for _, v := range views {
		if v.err != nil {
			d.Rows = append(d.Rows, pageRow{ID: v.id, Down: true, Reason: v.err.Error()})
			continue
		}
		r := v.report
		row := pageRow{ID: r.ID, Role: r.Role, Leader: "-", Term: r.Term, Epoch: r.Epoch, Delivered: r.Delivered, Lag: h.lag(r),
			Hash: r.StateHash, HashEpoch: r.HashEpoch, Guest: guestState(r), Conns: r.Connections, Actioned: r.Actioned,
			Service: strings.Join(r.Service, ", ")}
		if r.Leader != 0 {
			row.Leader = fmt.Sprint(r.Leader)
		}
		if len(r.StateHash) >= 6 {
			row.HashColor = "#" + r.StateHash[:6]
		}
		hashes[fmt.Sprintf("%s@%d", r.StateHash, r.HashEpoch)] = true
		d.Rows = append(d.Rows, row)
	}
	d.HashesEqual = len(hashes) == 1 && !hashes["@0"]
	events := p.mergeEvents(timelines)
	d.Chart = p.chart(events, timelines, now)
	d.Window = d.Chart.Window.String()
	for i := len(events) - 1; i >= 0 && len(d.Events) < pageEvents; i-- {
		e := events[i]
		d.Events = append(d.Events, pageEvent{At: e.At.Format("15:04:05.000"), Node: e.Node, Kind: e.Kind, Failover: e.Failover, Text: e.Text})
	}
	return d
}

// mergeEvents is every node's events in time order, except that the
// leader changes and the members declared down and up are this node's
// view only: the others saw the same, or their own view of it.
func (p *clusterPage) mergeEvents(timelines map[consensus.NodeID]timelineView) []timelineEvent {
	var events []timelineEvent
	for id, tl := range timelines {
		for _, e := range tl.Events {
			if id != p.self && clusterWideEvent(e.Kind) {
				continue
			}
			events = append(events, e)
		}
	}
	slices.SortStableFunc(events, func(a, b timelineEvent) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return int(a.Node) - int(b.Node)
	})
	return events
}

func clusterWideEvent(kind string) bool {
	switch kind {
	case eventLeader, eventNoLeader, eventDown, eventUp:
		return true
	}
	return false
}

// pageChart is the timeline's SVG, laid out here: the template only
// places what it is given.
type pageChart struct {
	Window        time.Duration
	Width, Height float64
	PlotLeft      float64
	// RateTop and RateBottom bound the replies-per-second area.
	RateTop, RateBottom float64
	RatePoints          string
	RateMax             string
	LeaderY, LeaderH    float64
	Outputs             []pageLine
	Ticks               []pageTick
	Leaders             []pageSpan
	Marks               []pageMark
}

type pageLine struct {
	Points, Color, Label string
}

type pageTick struct {
	X     float64
	Label string
	End   bool // the last: its label ends at it
}

type pageSpan struct {
	X, W  float64
	Label string
	Color string
}

type pageMark struct {
	X        float64
	Kind     string
	Failover bool
	Label    string // shown for failovers, in the title otherwise
	LabelY   float64
	// LabelEnd puts the label left of the mark, near the right edge.
	LabelEnd bool
}

// perSecond turns a node's samples of a counter into its rate, by the
// second each rate was measured at, from start on.
func perSecond(samples []timelineSample, start time.Time, counter func(timelineSample) uint64) map[int64]float64 {
	rates := map[int64]float64{}
	for i := 1; i < len(samples); i++ {
		a, b := samples[i-1], samples[i]
		secs := b.At.Sub(a.At).Seconds()
		if secs > 0 && counter(b) >= counter(a) && b.At.After(start) {
			rates[b.At.Unix()] = float64(counter(b)-counter(a)) / secs
		}
	}
	return rates
}

// tickSteps are the time axis's possible spacings; the smallest that
// gives at most maxTicks ticks is used.
var tickSteps = []time.Duration{5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second, time.Minute}

const maxTicks = 8

// timelineWindow is how far back the chart goes: to shortly before the
// first thing recorded, within pageMinWindow and pageWindow.
func timelineWindow(events []timelineEvent, timelines map[consensus.NodeID]timelineView, now time.Time) time.Duration {
	first := now
	if len(events) > 0 {
		first = events[0].At
	}
	for _, tl := range timelines {
		if len(tl.Samples) > 0 && tl.Samples[0].At.Before(first) {
			first = tl.Samples[0].At
		}
	}
	return min(max(now.Sub(first)+5*time.Second, pageMinWindow), pageWindow).Round(time.Second)
}

// nodeColors tells nodes apart in the leader lane.
var nodeColors = []string{"#4e79a7", "#59a14f", "#b07aa1", "#edc948", "#76b7b2", "#ff9da7", "#9c755f"}

func nodeColor(id consensus.NodeID) string { return nodeColors[int(id-1)%len(nodeColors)] }

func (p *clusterPage) chart(events []timelineEvent, timelines map[consensus.NodeID]timelineView, now time.Time) pageChart {
	c := pageChart{Width: 960, Height: 190, PlotLeft: 70, RateTop: 14, RateBottom: 90, LeaderY: 104, LeaderH: 18}
	c.Window = timelineWindow(events, timelines, now)
	start := now.Add(-c.Window)
	x := func(t time.Time) float64 {
		f := float64(t.Sub(start)) / float64(c.Window)
		return math.Round((c.PlotLeft+min(max(f, 0), 1)*(c.Width-c.PlotLeft-10))*10) / 10
	}
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if c.Window/s <= maxTicks {
			step = s
			break
		}
	}
	layout := "15:04:05"
	if step >= time.Minute {
		layout = "15:04"
	}
	for at := start.Truncate(step).Add(step); !at.After(now); at = at.Add(step) {
		c.Ticks = append(c.Ticks, pageTick{X: x(at), Label: at.Format(layout)})
	}
	if len(c.Ticks) > 0 && c.Ticks[len(c.Ticks)-1].X > c.Width-40 {
		c.Ticks[len(c.Ticks)-1].End = true
	}

	// Replies per second summed over the nodes, and each node's outputs
	// per second (the path a disk's I/O takes shows as whose line is up).
	replies := map[int64]float64{}
	outputsByNode := map[consensus.NodeID]map[int64]float64{}
	for id, tl := range timelines {
		for sec, r := range perSecond(tl.Samples, start, func(s timelineSample) uint64 { return s.Replies }) {
			replies[sec] += r
		}
		outputsByNode[id] = perSecond(tl.Samples, start, func(s timelineSample) uint64 { return s.Outputs })
	}
	peak := 1.0
	for _, rates := range append(slices.Collect(maps.Values(outputsByNode)), replies) {
		for _, r := range rates {
			peak = max(peak, r)
		}
	}
	c.RateMax = fmt.Sprintf("%.0f/s", peak)
	points := func(rates map[int64]float64) []string {
		var p []string
		for _, sec := range slices.Sorted(maps.Keys(rates)) {
			y := c.RateBottom - rates[sec]/peak*(c.RateBottom-c.RateTop)
			p = append(p, fmt.Sprintf("%.1f,%.1f", x(time.Unix(sec, 0)), y))
		}
		return p
	}
	if area := points(replies); len(area) > 0 { // down to the axis at both ends, to fill the area
		seconds := slices.Sorted(maps.Keys(replies))
		first, last := x(time.Unix(seconds[0], 0)), x(time.Unix(seconds[len(seconds)-1], 0))
		area = append([]string{fmt.Sprintf("%.1f,%.1f", first, c.RateBottom)}, area...)
		area = append(area, fmt.Sprintf("%.1f,%.1f", last, c.RateBottom))
		c.RatePoints = strings.Join(area, " ")
	}
	for _, id := range slices.Sorted(maps.Keys(outputsByNode)) {
		if line := points(outputsByNode[id]); len(line) > 1 {
			c.Outputs = append(c.Outputs, pageLine{Points: strings.Join(line, " "), Color: nodeColor(id), Label: fmt.Sprintf("node %d outputs/s", id)})
		}
	}

	// Who led when, as this node saw it.
	var leader consensus.NodeID
	var since time.Time
	closeSpan := func(until time.Time) {
		if leader != 0 && until.After(start) {
			from := x(since)
			c.Leaders = append(c.Leaders, pageSpan{X: from, W: max(x(until)-from, 1), Label: fmt.Sprintf("node %d", leader), Color: nodeColor(leader)})
		}
	}
	labelRow := 0
	for _, e := range events {
		if e.Node == p.self && (e.Kind == eventLeader || e.Kind == eventNoLeader) {
			closeSpan(e.At)
			leader, since = e.Leader, e.At
		}
		if e.At.Before(start) {
			continue
		}
		m := pageMark{X: x(e.At), Kind: e.Kind, Failover: e.Failover, Label: e.Text}
		m.LabelEnd = m.X > c.Width/2
		if e.Failover {
			m.LabelY = 140 + float64(labelRow%3)*16
			labelRow++
		}
		c.Marks = append(c.Marks, m)
	}
	closeSpan(now)
	return c
}
