package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/bft"
	"github.com/synodvm/synod/consensus/cluster"
)

const statusUsage = `usage: synod status [--dir DIR | --config FILE] [--watch] [--verbose]

Shows every node of a cluster: its role in the consensus log, the leader
it follows, the address its service answers at, commit and delivered log
index, its lag (the entries it has yet to deliver to catch up with the
furthest node), epoch, latest state hash, outputs it performed, live
client connections and the guest's state. A node that does not answer is
shown as down (--verbose says why). The last line is the cluster's
health: whether a quorum of the nodes answer (without one, nothing is
committed), the leader, and the largest lag. In a Byzantine cluster
(engine bft) the leader is the primary of a view, the others are backups,
and a quorum is 2f+1 of 3f+1 nodes.

flags:
`

func runStatus(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("status", statusUsage)
	dir := fs.String("dir", "", "a `directory` made by synod up or synod init")
	configPath := fs.String("config", "", "the cluster config `file`")
	asJSON := fs.Bool("json", false, "print the nodes' reports as JSON")
	verbose := fs.Bool("verbose", false, "say why each node that is down did not answer")
	watch := fs.Bool("watch", false, "show the nodes again every --interval until Ctrl-C")
	interval := fs.Duration("interval", time.Second, "with --watch, how long to wait between two views, a `duration`")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if *configPath == "" {
		if *dir == "" {
			return errors.New("status: give --dir or --config (synod status --help)")
		}
		*configPath = filepath.Join(*dir, cluster.FileName)
	}
	if *interval <= 0 {
		return errors.New("status: --interval must be positive")
	}
	cfg, err := cluster.Load(*configPath)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	show := func() error {
		views := fetchViews(cfg)
		if *asJSON {
			return printJSON(stdout, views)
		}
		printViews(stdout, views, *verbose)
		return nil
	}
	if !*watch {
		return show()
	}
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	for {
		if isTerminal(stdout) {
			// Home the cursor and clear the screen: each view replaces
			// the last, as watch(1) shows it.
			fmt.Fprint(stdout, "\x1b[H\x1b[2J")
		}
		fmt.Fprintf(stdout, "%s\n", time.Now().Format(time.DateTime))
		if err := show(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if !isTerminal(stdout) {
			fmt.Fprintln(stdout)
		}
	}
}

// nodeView is what synod status learned of one node: its report, or why
// it did not answer.
type nodeView struct {
	id     consensus.NodeID
	report nodeReport
	err    error
}

func fetchViews(cfg *cluster.Config) []nodeView {
	// At once: a node that does not answer costs its timeout only once.
	views := make([]nodeView, len(cfg.Nodes))
	var wg sync.WaitGroup
	for i, n := range cfg.Nodes {
		wg.Go(func() {
			r, err := fetchReport(n.StatusAddr)
			views[i] = nodeView{id: n.ID, report: r, err: err}
		})
	}
	wg.Wait()
	return views
}

func printJSON(w io.Writer, views []nodeView) error {
	var reports []any
	for _, v := range views {
		if v.err != nil {
			reports = append(reports, map[string]any{"id": v.id, "error": v.err.Error()})
			continue
		}
		reports = append(reports, v.report)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(reports)
}

func printViews(w io.Writer, views []nodeView, verbose bool) {
	h := clusterHealth(views)
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 2, 8, 2, ' ', 0)
	columns := []string{"NODE", "ROLE", "LEADER", "SERVICE", "COMMIT", "DELIVERED", "LAG", "EPOCH", "STATE HASH (EPOCH)", "ACTIONED", "CONNS", "GUEST"}
	fmt.Fprintln(tw, strings.Join(columns, "\t"))
	for _, v := range views {
		if v.err != nil {
			// Every cell, empty ones too: a shorter line would end the
			// columns' alignment.
			fmt.Fprintf(tw, "%d\tdown%s\n", v.id, strings.Repeat("\t", len(columns)-2))
			continue
		}
		r := v.report
		leader := "-"
		if r.Leader != 0 {
			leader = fmt.Sprint(r.Leader)
		}
		service := "-" // the guest listens on no port yet
		if len(r.Service) > 0 {
			service = strings.Join(r.Service, ",")
		}
		hash := "-" // no checkpoint yet
		if r.StateHash != "" {
			hash = fmt.Sprintf("%s (%d)", r.StateHash, r.HashEpoch)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%d\t%d\t%s\n", r.ID, r.Role, leader, service,
			r.Commit, r.Delivered, h.lag(r), r.Epoch, hash, r.Actioned, r.Connections, guestState(r))
	}
	tw.Flush()
	// A down node's empty cells are padded too.
	for _, line := range strings.Split(strings.TrimSuffix(table.String(), "\n"), "\n") {
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
	if verbose {
		for _, v := range views {
			if v.err != nil {
				fmt.Fprintf(w, "node %d is down: %v\n", v.id, v.err)
			}
		}
	}
	fmt.Fprintln(w, h)
}

func guestState(r nodeReport) string {
	switch {
	case r.Stopped != "":
		return "stopped: " + r.Stopped
	case r.Exited:
		return fmt.Sprintf("exited %d", r.exitCode())
	case !r.Booted:
		return "not booted"
	}
	return "running"
}

// health is the cluster as a whole, seen from its nodes' reports.
type health struct {
	nodes, answering int
	// rejoining counts the answering nodes that do not vote yet: they
	// lost their store and are catching up.
	rejoining int
	leader    consensus.NodeID // 0: none
	// term is the leader's term, with the Byzantine engine its view.
	term uint64
	// byzantine is whether the nodes run the Byzantine engine: its
	// leader is the primary of a view, and its quorum 2f+1 of 3f+1.
	byzantine bool
	// delivered is the furthest any replica has delivered in the log.
	// Lags are measured from it rather than from the commit index, which
	// every replica trails by the seals of the epochs ahead.
	delivered  uint64
	maxLag     uint64
	maxLagNode consensus.NodeID
	// failovers is the most any answering node saw since it started.
	failovers int
	// installs and hungUp are those of the node that took the others'
	// state and hung up on its clients most often (installsNode).
	installs, hungUp uint64
	installsNode     consensus.NodeID
	// unserved counts the nodes that cannot serve a port the guest
	// listens on; unservedNode is the first of them, unservedWhy why.
	unserved     int
	unservedNode consensus.NodeID
	unservedWhy  string
}

func clusterHealth(views []nodeView) health {
	h := health{nodes: len(views)}
	for _, v := range views {
		if v.err != nil {
			continue
		}
		r := v.report
		h.answering++
		h.byzantine = r.Engine == string(cluster.EngineBFT)
		if r.Role == "rejoining" {
			h.rejoining++
		}
		h.delivered = max(h.delivered, r.Delivered)
		h.failovers = max(h.failovers, r.Failovers)
		if len(r.ServiceErrors) > 0 {
			if h.unserved == 0 {
				h.unservedNode, h.unservedWhy = r.ID, r.ServiceErrors[0]
			}
			h.unserved++
		}
		if r.StateInstalls > h.installs {
			h.installs, h.hungUp, h.installsNode = r.StateInstalls, r.ClientsHungUp, r.ID
		}
		// Two nodes may both believe they lead for a moment: the one of
		// the later term does.
		if r.leads() && (h.leader == 0 || r.Term > h.term) {
			h.leader, h.term = r.ID, r.Term
		}
	}
	for _, v := range views {
		if v.err != nil {
			continue
		}
		if lag := h.lag(v.report); lag > h.maxLag {
			h.maxLag, h.maxLagNode = lag, v.report.ID
		}
	}
	return h
}

// lag is how many log entries node r has yet to deliver to catch up with
// the furthest replica.
func (h health) lag(r nodeReport) uint64 { return h.delivered - r.Delivered }

// quorum is whether enough nodes answer and vote for the log to commit
// anything.
func (h health) quorum() bool { return h.answering-h.rejoining >= h.quorumSize() }

// quorumSize is how many nodes the log needs: a majority with raft; with
// the Byzantine engine, 2f+1 of 3f+1.
func (h health) quorumSize() int {
	if h.byzantine {
		return bft.QuorumSize(h.nodes)
	}
	return h.nodes/2 + 1
}

func (h health) String() string {
	var b strings.Builder
	quorum := "no"
	if h.quorum() {
		quorum = "yes"
	}
	fmt.Fprintf(&b, "health: quorum %s (%d of %d nodes answer", quorum, h.answering, h.nodes)
	if h.rejoining > 0 {
		fmt.Fprintf(&b, ", %d rejoining without a vote", h.rejoining)
	}
	if !h.quorum() {
		fmt.Fprintf(&b, "; %d needed", h.quorumSize())
	}
	switch {
	case !h.byzantine:
		b.WriteString("), leader ")
	case h.leader == 0:
		b.WriteString("), engine bft, primary ")
	default:
		fmt.Fprintf(&b, "), engine bft, view %d, primary ", h.term)
	}
	if h.leader == 0 {
		b.WriteString("none")
	} else {
		fmt.Fprint(&b, h.leader)
	}
	switch {
	case h.answering == 0:
	case h.maxLag == 0:
		b.WriteString(", max lag 0 entries")
	case h.maxLag == 1:
		fmt.Fprintf(&b, ", max lag 1 entry (node %d)", h.maxLagNode)
	default:
		fmt.Fprintf(&b, ", max lag %d entries (node %d)", h.maxLag, h.maxLagNode)
	}
	switch {
	case h.failovers == 1:
		b.WriteString(", 1 failover seen")
	case h.failovers > 1:
		fmt.Fprintf(&b, ", %d failovers seen", h.failovers)
	}
	if h.installs > 0 {
		fmt.Fprintf(&b, "; node %d fell too far behind %s and hung up on %s", h.installsNode, times(h.installs), plural(h.hungUp, "client"))
	}
	if h.unserved > 0 {
		fmt.Fprintf(&b, "; node %d cannot serve yet (%s)", h.unservedNode, h.unservedWhy)
		if others := h.unserved - 1; others > 0 {
			fmt.Fprintf(&b, ", nor can %s", plural(uint64(others), "other node"))
		}
	}
	return b.String()
}

// isTerminal reports whether w is a terminal, where --watch redraws the
// screen instead of appending views.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// times says how many times: "once", "twice", "3 times".
func times(n uint64) string {
	switch n {
	case 1:
		return "once"
	case 2:
		return "twice"
	}
	return fmt.Sprintf("%d times", n)
}

// plural is n of a noun that takes an s: "1 client", "2 clients".
func plural(n uint64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
