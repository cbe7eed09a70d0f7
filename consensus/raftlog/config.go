package raftlog

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/synodvm/synod/consensus"
)

// Config configures one node. Zero values take the defaults documented on
// each field; Validate fills them in.
type Config struct {
	// ID is this node. Required, non-zero.
	ID consensus.NodeID
	// Peers are the voters of a new cluster, this node included. They are
	// used only when the store is empty and Join is false; a restarted
	// node takes its membership from its store.
	Peers []consensus.NodeID
	// Join starts an empty node that an existing cluster is adding (after
	// AddNode on a member): it waits for the leader to send it the log or a
	// snapshot instead of founding a cluster.
	Join bool

	// TickInterval is the wall time of one tick in the production runner
	// (default 100 ms). Shorter detects a dead leader sooner but sends more
	// heartbeats and risks spurious elections when a loaded machine stalls
	// the event loop; the single-goroutine form ticks on its own clock.
	TickInterval time.Duration
	// ElectionTicks is how many ticks a follower waits without hearing
	// from a leader before it campaigns (default 10, randomised by raft up
	// to twice that). Failover takes roughly this times TickInterval.
	// With CheckQuorum a leader steps down after the same time without a
	// quorum, which is also how fast Propose starts failing with
	// ErrNoQuorum on a cut-off leader.
	ElectionTicks int
	// HeartbeatTicks is the leader's heartbeat period in ticks (default 1).
	// It must be well below ElectionTicks.
	HeartbeatTicks int
	// TakeoverStaggerTicks is how long each surviving follower waits, per
	// rank (its place by id among them), before it campaigns when the
	// transport reports that the leader's process has ended (default 3;
	// takeover.go). The first campaigns at once. Shorter makes a takeover
	// by a later one sooner when the first cannot win (its log is behind);
	// too short and two campaign together and split the vote, which the
	// election timeout then settles.
	TakeoverStaggerTicks int

	// MaxSizePerMsg bounds the entries in one append message (default
	// 1 MiB). Larger batches amortise per-message cost; smaller ones cut
	// the latency of the entries behind a big batch.
	MaxSizePerMsg uint64
	// MaxInflightMsgs is how many append messages the leader pipelines to
	// one follower before waiting for acknowledgements (default 256): the
	// "multiple concurrent ballots". Higher fills a long-latency link; each
	// in-flight message may hold MaxSizePerMsg of memory.
	MaxInflightMsgs int
	// MaxCommittedSizePerReady bounds the committed entries delivered per
	// Ready (default 16 MiB), so one huge backlog is applied in slices
	// and the event loop keeps ticking between them.
	MaxCommittedSizePerReady uint64
	// MaxUncommittedBytes bounds the leader's proposed-but-uncommitted
	// entries (default 64 MiB); beyond it raft drops proposals, which
	// Propose reports as back-pressure rather than as a failure.
	MaxUncommittedBytes uint64
	// MaxInflightProposals bounds this node's accepted proposals that have
	// not yet come back committed (default 1024). Propose blocks (Core:
	// ErrBusy) beyond it: the back-pressure that keeps a fast proposer
	// from queueing unbounded work behind a slow disk or network.
	MaxInflightProposals int
	// Merge, when set, lets the leader put the proposals it holds when
	// it handles a Ready, its own and those the followers forwarded, into
	// fewer log entries: given their data in the order they came, it
	// returns the data of one entry that stands for the first n of them
	// (n >= 1; batches[0] itself when none can join it). The log carries
	// the merged data, so every node delivers the same entry. Unset,
	// every proposal is an entry of its own.
	Merge func(batches [][]byte) (merged []byte, n int)
	// ProposalTimeoutTicks is how long an accepted proposal holds its
	// in-flight slot (default 4×ElectionTicks). A proposal can be lost
	// with its leader; the slot must come back, and the proposal counts
	// as failed in the metrics. Too short frees slots of proposals that
	// are merely slow.
	ProposalTimeoutTicks int

	// SnapshotSource makes a snapshot of the user's state. Nil disables
	// snapshots and compaction: the log then grows without bound.
	SnapshotSource consensus.SnapshotSource
	// SnapshotEntries is how many entries are delivered between snapshots
	// (default 10000). Lower keeps the log and restart replay short but
	// serialises the user's state more often; however low, snapshots are
	// spaced by four times as long as the last one took.
	SnapshotEntries uint64
	// CompactKeepEntries is how many entries before a snapshot stay in
	// the log (default 1000), so a follower a little behind catches up by
	// entries instead of a whole snapshot.
	CompactKeepEntries uint64

	// Logger receives the engine's and raft's logs (default slog.Default).
	Logger *slog.Logger
	// Metrics is the node's registry; nil keeps the metrics unregistered.
	Metrics prometheus.Registerer
	// Clock times latencies for the metrics; it is never used for
	// protocol decisions (those count ticks). Default time.Now; the
	// simulator passes its virtual clock.
	Clock func() time.Time
}

// Validate checks c and fills in the defaults.
func (c *Config) Validate() error {
	if c.ID == 0 {
		return errors.New("raftlog: config: ID must be non-zero")
	}
	for _, p := range c.Peers {
		if p == 0 {
			return errors.New("raftlog: config: peer id 0 is reserved")
		}
	}
	setDefault(&c.TickInterval, 100*time.Millisecond)
	setDefault(&c.ElectionTicks, 10)
	setDefault(&c.HeartbeatTicks, 1)
	setDefault(&c.TakeoverStaggerTicks, 3)
	setDefault(&c.MaxSizePerMsg, 1<<20)
	setDefault(&c.MaxInflightMsgs, 256)
	setDefault(&c.MaxCommittedSizePerReady, 16<<20)
	setDefault(&c.MaxUncommittedBytes, 64<<20)
	setDefault(&c.MaxInflightProposals, 1024)
	setDefault(&c.ProposalTimeoutTicks, 4*c.ElectionTicks)
	setDefault(&c.SnapshotEntries, 10000)
	if c.HeartbeatTicks >= c.ElectionTicks {
		return fmt.Errorf("raftlog: config: HeartbeatTicks %d must be below ElectionTicks %d", c.HeartbeatTicks, c.ElectionTicks)
	}
	if c.CompactKeepEntries == 0 {
		c.CompactKeepEntries = min(1000, c.SnapshotEntries)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return nil
}

func setDefault[T int | uint64 | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}
