// Package consensus is the ordered log through which every input to the
// replicated machine passes. Engines live in sub-packages (etcd raft for
// crash faults, a BFT engine, the 1995 primary/backup baseline); the replica
// runtime sees only the Log interface. Nothing here knows about the machine.
package consensus

import (
	"context"
	"errors"
)

// Entry is one committed log entry. Index is the engine's log index; it
// increases strictly but need not be dense (engines commit internal entries
// such as configuration changes and leader no-ops that are not delivered).
type Entry struct {
	Index uint64
	Data  []byte
	// Proposer is the member that proposed the entry, where the engine
	// authenticates proposals (the Byzantine engine: each request is
	// signed by its member), so that the entry can be held to what that
	// member may say; 0 where it does not (raft trusts every member).
	Proposer NodeID
	// Batch, where not 0, is the unit of agreement the entry was decided
	// in (the Byzantine engine: the batch's sequence number). The entries
	// of one batch come consecutively in one Apply, and every member is
	// given the same batches, so the application may take them as one:
	// the replica delivers their client inputs in one epoch. 0 where the
	// engine makes no such promise (raft's Applies depend on timing).
	Batch uint64
}

// Snapshot is application state as of a log index: the user of the log
// produced Data after applying every entry up to and including Index.
type Snapshot struct {
	Index uint64
	Data  []byte
	// Keep, when set, lets the user go on using Data after it takes the
	// next Apply (see Log.Applies), as a machine restored from Data in
	// place does: called before then, it returns a value while which is
	// reachable Data stays valid; it is released once the garbage
	// collector finds the value unreachable. Unset, Data is in the Go
	// heap, and stays as long as anything refers to it.
	Keep func() any
}

// Apply is one step of the committed sequence. Either Snapshot is set (the
// node fell behind a compacted log: replace all state with it, then continue
// with later entries), or Entries holds the next committed entries in order.
type Apply struct {
	Snapshot *Snapshot
	Entries  []Entry
}

var (
	// ErrNoQuorum means this node cannot currently reach a quorum (no known
	// leader, or it is partitioned away), so a proposal would not commit.
	ErrNoQuorum = errors.New("consensus: no quorum reachable from this node")
	// ErrStopped means the log has been stopped.
	ErrStopped = errors.New("consensus: log stopped")
)

// Status is what an operator and the replica runtime need to know about the
// local node's view of the log.
type Status struct {
	ID     NodeID
	Leader NodeID // 0 when no leader is known
	Term   uint64
	Commit uint64 // highest index known committed
	// LeaderCommit is the commit index a leader last told this node
	// (Commit itself on the leader); 0 until one has. A follower's own
	// Commit only says how far the log it holds is committed: one that
	// restarted behind the cluster learns from LeaderCommit how far it
	// has to catch up. The Byzantine engine, where no single member's
	// word can be trusted, reports its own Commit once it knows it has
	// caught up (a checkpoint a quorum signed since it started), and 0
	// until then.
	LeaderCommit uint64
	Applied      uint64 // highest index delivered through Applies
	// Snapshot is the index of the newest stored snapshot: the log before
	// it may have been discarded.
	Snapshot uint64
	Members  []NodeID
	IsLeader bool
	// Rejoining is set while this node replaces a lost store and has not
	// caught up: it takes the log but does not vote.
	Rejoining bool
	// Reachable, on the leader, lists the members it has heard from
	// within the last election timeout (itself included); empty on other
	// nodes. The replica runtime declares a member down from it.
	Reachable []NodeID
}

// Log is the replicated, ordered log.
type Log interface {
	// Propose submits data for ordering. It returns once the engine has
	// accepted the proposal, not when it commits: the caller learns of the
	// commit through Applies. It blocks while too many proposals are in
	// flight (back-pressure) until ctx ends, and fails fast with
	// ErrNoQuorum when this node knows it cannot reach a quorum.
	Propose(ctx context.Context, data []byte) error
	// Applies delivers the committed sequence in order, each entry exactly
	// once per process lifetime, starting after the snapshot the log was
	// opened with. The channel is closed by Stop. The user takes one Apply
	// at a time and must not use a Snapshot's Data after it has taken the
	// next Apply, unless it keeps it (Snapshot.Keep): a leader's snapshot
	// may be delivered in memory mapped for it, which is then released.
	Applies() <-chan Apply
	// Status reports the local node's view.
	Status() Status
	// Stop shuts the engine down; durable state stays on disk.
	Stop() error
}

// Offerer is a Log that can take a proposal without blocking and without
// telling its fate.
type Offerer interface {
	// Offer queues data for ordering and reports whether it was queued;
	// false when the engine's queue is full or it has stopped.
	Offer(data []byte) bool
}

// SnapshotSource is supplied by the user of the log. The engine calls it
// when its log has grown past the compaction threshold; the returned
// snapshot must cover exactly the entries applied so far (Index is the last
// applied index), so that the log below it can be discarded.
type SnapshotSource func() (Snapshot, error)
