package raftlog

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are what a raft operator watches, in the node's own registry.
type metrics struct {
	commitIndex, appliedIndex, term, isLeader, members, rejoining prometheus.Gauge

	leaderChanges, proposalsRejected, proposalsExpired, invalidMessages, sendFailures prometheus.Counter
	snapshotsCreated, snapshotsSent, snapshotsInstalled                               prometheus.Counter
	votesWithheld, takeovers                                                          prometheus.Counter
	messagesSent, appendsFolded                                                       prometheus.Counter

	fsync, apply, proposal prometheus.Histogram
}

// latencyBuckets span 100 µs to about 6.5 s, doubling: fsync on a fast
// disk is sub-millisecond, on a loaded shared one tens of milliseconds.
var latencyBuckets = prometheus.ExponentialBuckets(100e-6, 2, 17)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "synod", Subsystem: "raft", Name: name, Help: help})
	}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "synod", Subsystem: "raft", Name: name, Help: help})
	}
	histogram := func(name, help string) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "synod", Subsystem: "raft", Name: name, Help: help, Buckets: latencyBuckets})
	}
	m := &metrics{
		commitIndex:        gauge("commit_index", "Highest log index known committed."),
		appliedIndex:       gauge("applied_index", "Highest log index delivered to the user of the log."),
		term:               gauge("term", "Current raft term."),
		isLeader:           gauge("is_leader", "1 when this node is the leader."),
		members:            gauge("members", "Voting members in the applied configuration."),
		rejoining:          gauge("rejoining", "1 while this node replaces a lost store and has not caught up: it does not vote."),
		votesWithheld:      counter("votes_withheld_total", "Vote requests a rejoining node left unanswered (or answered nothing to, at or below its vote floor)."),
		takeovers:          counter("takeovers_total", "Campaigns this node started because the leader's process ended, without waiting for the election timeout."),
		leaderChanges:      counter("leader_changes_total", "Times the known leader changed (including to none)."),
		proposalsRejected:  counter("proposals_rejected_total", "Proposals refused at once: no quorum reachable or raft dropped them."),
		proposalsExpired:   counter("proposals_failed_total", "Accepted proposals that were not delivered within the proposal timeout (lost with a leader change)."),
		invalidMessages:    counter("invalid_messages_total", "Messages from peers that did not decode or were refused by raft."),
		sendFailures:       counter("send_failures_total", "Messages the transport could not queue (peer unreachable)."),
		messagesSent:       counter("messages_sent_total", "Raft messages handed to the transport (snapshots included)."),
		appendsFolded:      counter("appends_folded_total", "Appends without entries not sent because a later append of the same Ready to the same follower carried their commit index."),
		snapshotsCreated:   counter("snapshots_created_total", "Snapshots made from the user's state, each followed by compaction."),
		snapshotsSent:      counter("snapshots_sent_total", "Snapshots sent to lagging followers."),
		snapshotsInstalled: counter("snapshots_installed_total", "Snapshots received from the leader and delivered to the user."),
		fsync:              histogram("fsync_seconds", "Duration of one durable write (entries and hard state of one Ready)."),
		apply:              histogram("apply_seconds", "Time from raft committing entries to the user taking them from Applies."),
		proposal:           histogram("proposal_seconds", "Time from a local proposal being accepted to its delivery on this node."),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{
		m.commitIndex, m.appliedIndex, m.term, m.isLeader, m.members, m.rejoining, m.votesWithheld, m.takeovers,
		m.leaderChanges, m.proposalsRejected, m.proposalsExpired, m.invalidMessages, m.sendFailures,
		m.messagesSent, m.appendsFolded,
		m.snapshotsCreated, m.snapshotsSent, m.snapshotsInstalled,
		m.fsync, m.apply, m.proposal,
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("raftlog: register metrics: %w", err)
		}
	}
	return m, nil
}
