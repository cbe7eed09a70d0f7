package raftlog

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
	"google.golang.org/protobuf/proto"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/internal/planted"
)

// ErrBusy is Core.Propose's back-pressure: MaxInflightProposals of this
// node's proposals are still uncommitted, or the leader holds too many
// uncommitted bytes. Retry after the next Ready delivers entries.
var ErrBusy = errors.New("raftlog: too many proposals in flight")

// ErrFailed wraps the error that stopped a Core for good: a failed durable
// write (a full disk) or raft finding its state inconsistent. Nothing is
// acknowledged after it; restart the node from its store.
var ErrFailed = errors.New("raftlog: node failed")

// Core is the deterministic engine: one raft RawNode, its store and its
// transport, with no goroutines and no clock of its own. Whoever drives it
// calls Tick at a steady rate, Step for each inbound message and
// HandleReady after every batch of calls, all from one goroutine. Node
// wraps it in a goroutine for production; the simulator drives it directly.
type Core struct {
	cfg   Config
	rn    *raft.RawNode
	store Store
	net   consensus.Transport
	log   *slog.Logger
	m     *metrics

	// delivered is the last index handed to the user.
	delivered uint64
	// snapIndex is the index of the newest snapshot in the store.
	snapIndex uint64
	// confs are the configurations after each configuration change
	// delivered since the snapshot, oldest first, after the snapshot's own;
	// a new snapshot records the one in force at its index.
	confs []confAt
	// startSnapshot is the stored snapshot, delivered by the first
	// HandleReady after the hold so that the user rebuilds its state from
	// the log alone.
	startSnapshot *consensus.Snapshot
	// hold keeps back what a restarted node would deliver from its own
	// store until it knows whether a leader's snapshot replaces it
	// (replayhold.go).
	hold replayHold

	// unsavedHardState is a hard state that differs from the stored one
	// only in its commit index. It is written with the next durable write
	// instead of costing an fsync of its own: raft needs the commit index
	// only as a lower bound after a restart.
	unsavedHardState *pb.HardState

	lead  uint64
	ticks uint64
	// leaderCommit is the highest commit index a leader's append carried,
	// or the index of a leader's snapshot installed (Status.LeaderCommit):
	// a node restarted behind a compacted log may hear from the leader
	// only that snapshot and, in an idle cluster, no append after it.
	leaderCommit uint64
	// nextSeq numbers this node's proposals; inflight holds the ones not
	// yet seen committed, with when they were accepted.
	nextSeq  uint64
	inflight map[uint64]inflightProposal
	// held are the proposals a merging leader holds while its log is
	// uncommitted (merge.go).
	held []heldProposal
	// lastIndex is the index of the last entry in this node's log as
	// of the last Ready (raft's Readys carry every unstable entry, up to
	// the last).
	lastIndex uint64

	// damage is the first error of the store that says it is damaged,
	// seen as raft read it (damageWatch).
	damage error

	// rejoin gates this node's votes while its store replaces a lost one
	// (rejoin.go).
	rejoin rejoinGate
	// takeover is the campaign this node owes because the leader's
	// process ended (takeover.go), if any.
	takeover *takeover

	// The snapshot pipeline (snapshots.go). asyncSnapshots is set by a
	// driver that runs snapshot jobs off the loop (Node); job is the
	// snapshot being taken, jobTaken once the driver has it;
	// snapshotAfter is the tick before which no new one is asked for.
	asyncSnapshots bool
	job            *snapshotJob
	jobTaken       bool
	snapshotAfter  uint64
	// snapshotsOut holds the index of the snapshot on its way to each
	// peer, and snapshotData its data, released once it has gone;
	// snapshotsDelivered the last one each peer confirmed, while it
	// catches up after it; snapshotRetries the failures raft has yet to
	// hear of.
	snapshotsOut       map[uint64]uint64
	snapshotData       map[uint64][]byte
	snapshotsDelivered map[uint64]deliveredSnapshot
	snapshotRetries    map[uint64]*snapshotRetry
	// A leader's snapshot (snapshotreceive.go): receiving is the one
	// whose file is being written off the loop, receivingTaken once the
	// driver has it; received is the data of the one stepped into raft.
	receiving      *receiveJob
	receivingTaken bool
	received       *receivedSnapshot
	// deliveredRelease frees the data of the leader's snapshot the last
	// Ready delivered, when the transport mapped it (snapshotreceive.go).
	deliveredRelease func()

	failed error
}

type confAt struct {
	index uint64
	conf  *pb.ConfState
}

type inflightProposal struct {
	accepted    time.Time
	expiresTick uint64
}

// NewCore starts the engine on an open store. A store that holds no
// state is bootstrapped with cfg.Peers, unless cfg.Join.
func NewCore(cfg Config, store Store, net consensus.Transport) (*Core, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, err
	}
	c := &Core{
		cfg: cfg, store: store, net: net, m: m,
		log:      cfg.Logger.With("node", cfg.ID),
		inflight: map[uint64]inflightProposal{},
	}
	snap, err := store.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("raftlog: node %d: %w", cfg.ID, err)
	}
	meta := snap.GetMetadata()
	c.rejoin.rejoining, c.rejoin.voteFloor = store.Rejoin()
	c.snapIndex, c.delivered = meta.GetIndex(), meta.GetIndex()
	c.confs = []confAt{{meta.GetIndex(), meta.GetConfState()}}
	if c.snapIndex > 0 {
		c.startSnapshot = &consensus.Snapshot{Index: c.snapIndex, Data: snap.GetData()}
	}
	c.rn, err = raft.NewRawNode(&raft.Config{
		ID:                        uint64(cfg.ID),
		ElectionTick:              cfg.ElectionTicks,
		HeartbeatTick:             cfg.HeartbeatTicks,
		Storage:                   damageWatch{store, &c.damage},
		Applied:                   c.snapIndex,
		MaxSizePerMsg:             cfg.MaxSizePerMsg,
		MaxCommittedSizePerReady:  cfg.MaxCommittedSizePerReady,
		MaxUncommittedEntriesSize: cfg.MaxUncommittedBytes,
		MaxInflightMsgs:           cfg.MaxInflightMsgs,
		CheckQuorum:               true,
		PreVote:                   true,
		StepDownOnRemoval:         true,
		Logger:                    raftLogger{c.log},
	})
	if err != nil {
		return nil, fmt.Errorf("raftlog: node %d: %w", cfg.ID, err)
	}
	if err := c.bootstrapIfEmpty(); err != nil {
		return nil, fmt.Errorf("raftlog: node %d: %w", cfg.ID, err)
	}
	c.startHold()
	return c, nil
}

func (c *Core) bootstrapIfEmpty() error {
	last, err := c.store.LastIndex()
	if err != nil || last > 0 || c.cfg.Join || c.rejoin.rejoining {
		return err
	}
	if !slices.Contains(c.cfg.Peers, c.cfg.ID) {
		return fmt.Errorf("an empty store needs Peers that include this node (%d), or Join; peers %v", c.cfg.ID, c.cfg.Peers)
	}
	peers := make([]raft.Peer, len(c.cfg.Peers))
	for i, p := range c.cfg.Peers {
		peers[i] = raft.Peer{ID: uint64(p)}
	}
	return c.rn.Bootstrap(peers)
}

// guard runs f and turns a raft panic (raised through its logger when it
// finds its state inconsistent) into the Core's terminal error.
func (c *Core) guard(what string, f func() error) (err error) {
	if c.failed != nil {
		return c.failed
	}
	defer func() {
		if r := recover(); r != nil {
			if c.damage != nil {
				// raft panics with the text of a storage error; keep
				// the error itself so that the node can say the store
				// is damaged and how to repair it.
				c.fail(fmt.Errorf("%s: raft: %v: %w", what, r, c.damage))
			} else {
				c.fail(fmt.Errorf("%s: raft: %v", what, r))
			}
			err = c.failed
		}
	}()
	return f()
}

func (c *Core) fail(err error) {
	c.failed = fmt.Errorf("%w: node %d: %w", ErrFailed, c.cfg.ID, err)
	c.log.Error("raftlog: node stopped", "err", err)
}

// Err is the error that stopped the Core, or nil while it runs.
func (c *Core) Err() error { return c.failed }

// Tick advances raft's logical clock by one tick and expires proposals
// that have waited too long.
func (c *Core) Tick() error {
	return c.guard("tick", func() error {
		c.ticks++
		if !c.rejoin.rejoining {
			// A rejoining node must not campaign, and raft campaigns
			// from its tick: a follower that does not tick only waits.
			c.rn.Tick()
		}
		c.tickHold()
		for seq, p := range c.inflight {
			if p.expiresTick <= c.ticks {
				delete(c.inflight, seq)
				c.m.proposalsExpired.Inc()
			}
		}
		return c.maybeTakeOver()
	})
}

// Step hands raft one message from a peer. An error means the message was
// refused (garbage, a forged sender, a stranger); it is not fatal unless
// it wraps ErrFailed.
func (c *Core) Step(in consensus.Inbound) error {
	// The data of a mapped snapshot is released here unless the Core
	// keeps it (snapshotreceive.go); no other message is mapped.
	kept := false
	defer func() {
		if !kept {
			release(in.Release)
		}
	}()
	return c.guard("step", func() error {
		if c.dropsWhileReceiving(in.Data) {
			return nil
		}
		m, err := decodeMessage(in.Data)
		if err != nil {
			c.m.invalidMessages.Inc()
			return fmt.Errorf("raftlog: message from node %d: %w", in.From, err)
		}
		if m.GetFrom() != uint64(in.From) || m.GetTo() != uint64(c.cfg.ID) || raft.IsLocalMsg(m.GetType()) {
			c.m.invalidMessages.Inc()
			return fmt.Errorf("raftlog: node %d sent %v claiming to be from %d to %d", in.From, m.GetType(), m.GetFrom(), m.GetTo())
		}
		if c.rejoin.withholds(m) {
			c.m.votesWithheld.Inc()
			return nil
		}
		c.handOverForLostNode(m)
		switch {
		case m.GetType() == pb.MsgSnap && c.receiveOffLoop(m, in.Release):
			kept = true
			return nil
		case m.GetType() == pb.MsgSnap:
			kept = true
			return c.stepSnapshot(m, in.Release, nil, nil, c.ticks)
		}
		if m.GetType() == pb.MsgProp && c.merging() {
			if held, err := c.holdForwarded(m); held {
				if err != nil {
					c.m.invalidMessages.Inc()
					return fmt.Errorf("raftlog: proposal forwarded by node %d: %w", in.From, err)
				}
				return nil
			}
		}
		if err := c.rn.Step(m); err != nil {
			c.m.invalidMessages.Inc()
			return fmt.Errorf("raftlog: message %v from node %d: %w", m.GetType(), in.From, err)
		}
		if m.GetType() == pb.MsgApp && m.GetFrom() == c.rn.BasicStatus().Lead {
			c.leaderCommit = max(c.leaderCommit, m.GetCommit())
		}
		return nil
	})
}

// Propose submits data. It fails fast with consensus.ErrNoQuorum when no
// leader is known and with ErrBusy when the in-flight bound is reached.
func (c *Core) Propose(data []byte) error {
	return c.guard("propose", func() error {
		if c.rn.BasicStatus().Lead == raft.None {
			c.m.proposalsRejected.Inc()
			return consensus.ErrNoQuorum
		}
		if len(c.inflight) >= c.cfg.MaxInflightProposals {
			return ErrBusy
		}
		c.nextSeq++
		var err error
		if c.merging() {
			c.held = append(c.held, heldProposal{[]proposalID{{c.cfg.ID, c.nextSeq}}, data})
		} else {
			err = c.rn.Propose(envelope{[]proposalID{{c.cfg.ID, c.nextSeq}}, data}.marshal())
		}
		if errors.Is(err, raft.ErrProposalDropped) {
			c.m.proposalsRejected.Inc()
			if c.rn.BasicStatus().Lead == raft.None {
				return consensus.ErrNoQuorum
			}
			return ErrBusy // leadership transfer or uncommitted bytes: transient
		}
		if err != nil {
			return fmt.Errorf("raftlog: propose: %w", err)
		}
		c.inflight[c.nextSeq] = inflightProposal{
			accepted:    c.cfg.Clock(),
			expiresTick: c.ticks + uint64(c.cfg.ProposalTimeoutTicks),
		}
		return nil
	})
}

// InflightProposals is how many of this node's proposals are accepted but
// not yet delivered.
func (c *Core) InflightProposals() int { return len(c.inflight) }

// AddNode proposes adding node id as a voter. It returns once proposed;
// the change is in force when Status lists the node. Raft ignores a
// change proposed while another is still pending.
func (c *Core) AddNode(id consensus.NodeID) error {
	return c.proposeConfChange(pb.ConfChangeAddNode, id)
}

// RemoveNode proposes removing node id, which may be this node or the
// leader; a removed leader steps down.
func (c *Core) RemoveNode(id consensus.NodeID) error {
	return c.proposeConfChange(pb.ConfChangeRemoveNode, id)
}

func (c *Core) proposeConfChange(t pb.ConfChangeType, id consensus.NodeID) error {
	if id == 0 {
		return errors.New("raftlog: configuration change: node id 0 is reserved")
	}
	return c.guard("configuration change", func() error {
		if c.rn.BasicStatus().Lead == raft.None {
			return consensus.ErrNoQuorum
		}
		err := c.rn.ProposeConfChange(&pb.ConfChange{Type: t.Enum(), NodeId: new(uint64(id))})
		if errors.Is(err, raft.ErrProposalDropped) {
			return consensus.ErrNoQuorum
		}
		return err
	})
}

// TransferLeadership asks the leader to hand over to node to once it is
// up to date. Call it on the leader; elsewhere it does nothing.
func (c *Core) TransferLeadership(to consensus.NodeID) error {
	return c.guard("transfer leadership", func() error {
		c.rn.TransferLeader(uint64(to))
		return nil
	})
}

// Campaign makes this node start an election now instead of waiting for
// its election timeout (an operator's lever, and a shortcut for tests).
func (c *Core) Campaign() error {
	if c.rejoin.rejoining {
		return errRejoining
	}
	return c.guard("campaign", c.rn.Campaign)
}

// HasReady reports whether HandleReady has work to do.
func (c *Core) HasReady() bool {
	return c.failed == nil && (c.hasHeldToDeliver() || c.heldDue() || c.rn.HasReady())
}

// maxReadiesPerCall bounds one HandleReady, so a backlog cannot starve
// the caller's ticks and inbound messages.
const maxReadiesPerCall = 64

// HandleReady does everything raft asks for after the calls since the
// last one, in the order raft requires: persist the entries, hard state
// and any snapshot in one durable write; only then send the messages that
// acknowledge that state (votes and append responses); then deliver the
// committed entries, which it returns for the user in order. Every other
// message goes out before the write: a leader's appends reach the
// followers while it writes the same entries itself (raft thesis 10.2.1;
// raft counts the leader's own copy only once it is durable). It also
// takes a snapshot and compacts when enough entries have been delivered.
// An error wrapping ErrFailed stops the Core for good.
func (c *Core) HandleReady() ([]consensus.Apply, error) {
	return c.handleReady(nil)
}

// HandleReadyHandingOut is HandleReady that hands committed entries this
// node already holds durably to handOut before it writes a Ready's new
// entries, rather than after: the user applies them while the write
// goes on. A leader whose round commits writes the next round's entry in
// the same Ready, and a follower gets the commit with that entry, so
// every round's delivery otherwise waited for the next round's
// fdatasync. handOut gets every Apply in order; what the call returns
// comes after them.
func (c *Core) HandleReadyHandingOut(handOut func([]consensus.Apply)) ([]consensus.Apply, error) {
	return c.handleReady(handOut)
}

func (c *Core) handleReady(handOut func([]consensus.Apply)) ([]consensus.Apply, error) {
	var applies []consensus.Apply
	err := c.guard("ready", func() error {
		var err error
		if applies, err = c.deliverHeld(applies); err != nil {
			c.fail(err)
			return c.failed
		}
		c.maybeSnapshot()
		for i := 0; i < maxReadiesPerCall; i++ {
			// Held proposals go out as soon as the log is committed,
			// which may be at the Advance of the Ready before (this
			// node's own write completing the quorum).
			if err := c.proposeHeld(); err != nil {
				c.fail(err)
				return c.failed
			}
			if !c.rn.HasReady() {
				break
			}
			rd := c.rn.Ready()
			durableTo := c.lastIndex
			if !raft.IsEmptySnap(rd.Snapshot) {
				c.lastIndex = rd.Snapshot.GetMetadata().GetIndex()
			}
			if n := len(rd.Entries); n > 0 {
				c.lastIndex = rd.Entries[n-1].GetIndex()
			}
			if err := c.fillSnapshot(&rd); err != nil {
				c.fail(err)
				return c.failed
			}
			rd.Messages = c.foldAppends(rd.Messages)
			early, durable := splitMessages(rd.Messages)
			if planted.On(planted.AckBeforeFsync) {
				early, durable = rd.Messages, nil
			}
			c.send(early)
			if len(early) > 0 && mustSave(rd) {
				// The links' writers these messages woke run only
				// on another processor while the sync below holds
				// this one (durable.DatasyncAppend), and waking one
				// took 0.1-0.2 ms on a 2-processor VM: a follower's
				// append then started its own sync after the leader's
				// had ended. Yielding puts them on the wire first.
				runtime.Gosched()
			}
			if handOut != nil {
				if applies, err = c.deliver(durableCommitted(rd, durableTo), applies); err != nil {
					c.fail(err)
					return c.failed
				}
				if len(applies) > 0 {
					handOut(applies)
					applies = nil
				}
			}
			if err := c.persist(rd); err != nil {
				c.fail(err)
				return c.failed
			}
			c.send(durable)
			if applies, err = c.deliver(rd, applies); err != nil {
				c.fail(err)
				return c.failed
			}
			c.endHoldOnProgress(rd)
			c.rn.Advance(rd)
		}
		if applies, err = c.deliverHeld(applies); err != nil {
			c.fail(err)
			return c.failed
		}
		c.discardUnusedReceived()
		if err := c.endRejoinIfCaughtUp(); err != nil {
			c.fail(err)
			return c.failed
		}
		c.updateGauges()
		return nil
	})
	return applies, err
}

// durableCommitted is the part of rd that may be delivered before rd is
// written: its committed entries up to the first that this node did not
// hold durably before rd (beyond durableTo, or replaced by rd's entries)
// or that changes the configuration, which raft is told of only after the
// write, as before. A Ready with a snapshot delivers nothing early.
func durableCommitted(rd raft.Ready, durableTo uint64) raft.Ready {
	if !raft.IsEmptySnap(rd.Snapshot) {
		return raft.Ready{}
	}
	if len(rd.Entries) > 0 {
		durableTo = min(durableTo, rd.Entries[0].GetIndex()-1)
	}
	n := 0
	for _, e := range rd.CommittedEntries {
		if e.GetIndex() > durableTo || e.GetType() != pb.EntryNormal {
			break
		}
		n++
	}
	return raft.Ready{CommittedEntries: rd.CommittedEntries[:n]}
}

func (c *Core) persist(rd raft.Ready) error {
	if rd.SoftState != nil && rd.SoftState.Lead != c.lead {
		c.log.Info("raftlog: leader changed", "from", c.lead, "to", rd.SoftState.Lead, "term", c.rn.BasicStatus().HardState.GetTerm())
		c.lead = rd.SoftState.Lead
		c.m.leaderChanges.Inc()
	}
	hs := rd.HardState
	if !mustSave(rd) {
		if hs != nil {
			c.unsavedHardState = hs
		}
		return nil
	}
	if hs == nil {
		hs = c.unsavedHardState
	}
	c.unsavedHardState = nil
	start := c.cfg.Clock()
	if err := c.saveReady(rd, hs); err != nil {
		return err
	}
	c.m.fsync.Observe(c.cfg.Clock().Sub(start).Seconds())
	return nil
}

// mustSave tells whether rd holds what persist must write and sync
// before its durable messages leave: entries, a snapshot, or a hard state
// raft needs synced (a vote or a new term).
func mustSave(rd raft.Ready) bool {
	return len(rd.Entries) > 0 || !raft.IsEmptySnap(rd.Snapshot) || rd.MustSync
}

// saveHardState writes a hard state persist put off, if any: before a
// snapshot (raft refuses to restart from a snapshot beyond the stored
// commit index) and when the node stops.
func (c *Core) saveHardState() error {
	if c.unsavedHardState == nil {
		return nil
	}
	if err := c.store.Save(c.unsavedHardState, nil, nil); err != nil {
		return err
	}
	c.unsavedHardState = nil
	return nil
}

// splitMessages separates the messages that vouch for this node's
// unstable state (its votes and its acknowledgements of appended entries,
// which must not leave before that state is durable) from the others.
func splitMessages(msgs []*pb.Message) (early, durable []*pb.Message) {
	for _, m := range msgs {
		switch m.GetType() {
		case pb.MsgAppResp, pb.MsgVoteResp, pb.MsgPreVoteResp:
			durable = append(durable, m)
		default:
			early = append(early, m)
		}
	}
	return early, durable
}

// foldAppends leaves out an append without entries when a later append
// of the same Ready goes to the same follower from the same place in the
// log with at least its commit index. A leader whose round commits sends
// every follower such an empty append, to tell it of the commit, and in
// the same Ready the first append of the entry it held meanwhile
// (proposeHeld): the second says all the first does, and each would cost
// the follower a Ready and an answer. Leaving out a message is always
// safe in raft, which treats it as lost.
func (c *Core) foldAppends(msgs []*pb.Message) []*pb.Message {
	kept := msgs[:0]
	for i, m := range msgs {
		if m.GetType() == pb.MsgApp && len(m.GetEntries()) == 0 && slices.ContainsFunc(msgs[i+1:], func(later *pb.Message) bool {
			return later.GetType() == pb.MsgApp && later.GetTo() == m.GetTo() && later.GetIndex() == m.GetIndex() &&
				later.GetLogTerm() == m.GetLogTerm() && later.GetCommit() >= m.GetCommit()
		}) {
			c.m.appendsFolded.Inc()
			continue
		}
		kept = append(kept, m)
	}
	return kept
}

// send hands every message to the transport. A message the transport
// cannot queue is reported to raft, which slows down to probing that peer.
// A snapshot goes on the transport's snapshot channel (sendSnapshot).
func (c *Core) send(msgs []*pb.Message) {
	c.m.messagesSent.Add(float64(len(msgs)))
	for _, m := range msgs {
		to := m.GetTo()
		if m.GetType() == pb.MsgSnap {
			c.sendSnapshot(m)
			continue
		}
		b, err := proto.Marshal(m)
		if err == nil {
			err = c.net.Send(consensus.NodeID(to), b)
		}
		if err != nil {
			c.m.sendFailures.Inc()
			c.log.Debug("raftlog: send failed", "to", to, "type", m.GetType(), "err", err)
			c.rn.ReportUnreachable(to)
		}
	}
}

// deliver appends to applies the snapshot and committed entries of rd,
// applying configuration changes to raft as they pass. Entries committed
// while held state waits to be delivered are left in the store, to be
// read back after it (deliverHeld).
func (c *Core) deliver(rd raft.Ready, applies []consensus.Apply) ([]consensus.Apply, error) {
	if !raft.IsEmptySnap(rd.Snapshot) {
		meta := rd.Snapshot.GetMetadata()
		c.dropHeld(meta.GetIndex())
		applies = append(applies, consensus.Apply{Snapshot: &consensus.Snapshot{Index: meta.GetIndex(), Data: rd.Snapshot.GetData()}})
		c.delivered, c.snapIndex = meta.GetIndex(), meta.GetIndex()
		c.confs = []confAt{{meta.GetIndex(), meta.GetConfState()}}
		c.m.snapshotsInstalled.Inc()
		c.log.Info("raftlog: installed snapshot from leader", "index", meta.GetIndex())
		c.leaderCommit = max(c.leaderCommit, meta.GetIndex())
	}
	deferred := c.defersDelivery()
	var batch []consensus.Entry
	for _, e := range rd.CommittedEntries {
		if e.GetIndex() <= max(c.delivered, c.hold.heldTo) {
			continue
		}
		if t := e.GetType(); t == pb.EntryConfChange || t == pb.EntryConfChangeV2 {
			if err := c.applyConfChange(e); err != nil {
				return applies, fmt.Errorf("committed entry %d: %w", e.GetIndex(), err)
			}
		}
		if deferred {
			c.hold.heldTo = e.GetIndex()
			continue
		}
		ue, ok, err := c.userEntry(e)
		if err != nil {
			return applies, err
		}
		if ok {
			batch = append(batch, ue)
		}
		c.delivered = e.GetIndex()
	}
	if len(batch) > 0 {
		applies = append(applies, consensus.Apply{Entries: batch})
	}
	return applies, nil
}

// userEntry is what the user is given of the committed entry e, if
// anything: not configuration changes, nor a new leader's empty entry.
func (c *Core) userEntry(e *pb.Entry) (consensus.Entry, bool, error) {
	if e.GetType() != pb.EntryNormal || len(e.GetData()) == 0 {
		return consensus.Entry{}, false, nil
	}
	env, err := unmarshalEnvelope(e.GetData())
	if err != nil {
		return consensus.Entry{}, false, fmt.Errorf("committed entry %d: %w", e.GetIndex(), err)
	}
	for _, id := range env.ids {
		if p, ok := c.inflight[id.seq]; ok && id.proposer == c.cfg.ID {
			delete(c.inflight, id.seq)
			c.m.proposal.Observe(c.cfg.Clock().Sub(p.accepted).Seconds())
		}
	}
	return consensus.Entry{Index: e.GetIndex(), Data: env.data}, true, nil
}

func (c *Core) applyConfChange(e *pb.Entry) error {
	var cc pb.ConfChangeI
	if e.GetType() == pb.EntryConfChange {
		v1 := &pb.ConfChange{}
		if err := proto.Unmarshal(e.GetData(), v1); err != nil {
			return err
		}
		cc = v1
	} else {
		v2 := &pb.ConfChangeV2{}
		if err := proto.Unmarshal(e.GetData(), v2); err != nil {
			return err
		}
		cc = v2
	}
	cs := c.rn.ApplyConfChange(cc)
	c.confs = append(c.confs, confAt{e.GetIndex(), proto.Clone(cs).(*pb.ConfState)})
	c.log.Info("raftlog: configuration changed", "index", e.GetIndex(), "voters", cs.GetVoters())
	return nil
}

// maybeSnapshot asks the user for a snapshot once SnapshotEntries have
// been delivered since the last one, unless one is being taken. A driver
// that runs snapshot jobs (Node) takes the job with takeSnapshotJob and
// runs it off the loop; otherwise the job runs here. The user's snapshot
// may trail the delivered index (it has not applied everything yet); it
// is kept if it is newer than the stored one (finishSnapshot). It also
// tells raft of snapshot transfers that failed, once their back-off is
// over.
func (c *Core) maybeSnapshot() {
	c.reportSnapshotFailures()
	if c.cfg.SnapshotSource == nil || c.job != nil || c.ticks < c.snapshotAfter ||
		c.delivered-c.snapIndex < c.cfg.SnapshotEntries || !c.canCompact() {
		return
	}
	job := c.newSnapshotJob()
	if c.asyncSnapshots {
		c.job = job
		return
	}
	job.run()
	c.finishSnapshot(job)
}

// canCompact reports whether a new snapshot could compact the log past
// where it is compacted now. While a follower is being caught up through
// a snapshot the log after that one is kept (compactionFloor), and a new
// snapshot would only compete with the transfer for CPU and disk.
func (c *Core) canCompact() bool {
	first, err := c.store.FirstIndex()
	return err != nil || c.compactionFloor() > first-1
}

// userSnapshot asks the user for a snapshot of its state and adds what
// raft needs to restore it anywhere (withMetadata).
func (c *Core) userSnapshot() (*pb.Snapshot, error) {
	if c.cfg.SnapshotSource == nil {
		return nil, errors.New("raftlog: no snapshot source configured")
	}
	snap, err := c.cfg.SnapshotSource()
	if err != nil {
		return nil, fmt.Errorf("raftlog: snapshot source: %w", err)
	}
	return c.withMetadata(snap)
}

// SnapshotNow returns a snapshot of the user's state now, with the
// metadata another node of the cluster needs to install it
// (BoltStore.InstallSnapshot). Nothing is stored or compacted. The user
// is asked here, on the caller's goroutine; Node.SnapshotNow asks it off
// the event loop.
func (c *Core) SnapshotNow() (*pb.Snapshot, error) {
	var snap *pb.Snapshot
	err := c.guard("snapshot", func() error {
		var err error
		snap, err = c.userSnapshot()
		return err
	})
	return snap, err
}

func (c *Core) updateGauges() {
	st := c.rn.BasicStatus()
	c.m.commitIndex.Set(float64(st.HardState.GetCommit()))
	c.m.appliedIndex.Set(float64(c.delivered))
	c.m.term.Set(float64(st.HardState.GetTerm()))
	c.m.isLeader.Set(boolGauge(st.RaftState == raft.StateLeader))
	c.m.members.Set(float64(len(c.confs[len(c.confs)-1].conf.GetVoters())))
	c.m.rejoining.Set(boolGauge(c.rejoin.rejoining))
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Status reports this node's view of the log.
func (c *Core) Status() consensus.Status {
	st := c.rn.BasicStatus()
	voters := c.confs[len(c.confs)-1].conf.GetVoters()
	members := make([]consensus.NodeID, len(voters))
	for i, v := range voters {
		members[i] = consensus.NodeID(v)
	}
	slices.Sort(members)
	status := consensus.Status{
		ID:        c.cfg.ID,
		Leader:    consensus.NodeID(st.Lead),
		Term:      st.HardState.GetTerm(),
		Commit:    st.HardState.GetCommit(),
		Applied:   c.delivered,
		Snapshot:  c.snapIndex,
		Members:   members,
		IsLeader:  st.RaftState == raft.StateLeader,
		Rejoining: c.rejoin.rejoining,
	}
	status.LeaderCommit = c.leaderCommit
	if status.IsLeader {
		status.LeaderCommit = status.Commit
		// WithProgress, not Status: Status copies every follower's window
		// of messages in flight, and this runs after every Ready (a tenth
		// of what a loaded leader allocated).
		c.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
			if pr.RecentActive || id == uint64(c.cfg.ID) {
				status.Reachable = append(status.Reachable, consensus.NodeID(id))
			}
		})
		slices.Sort(status.Reachable)
	}
	return status
}
