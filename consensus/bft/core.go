package bft

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/internal/signing"
)

// ErrBusy is Propose's back-pressure: MaxPendingRequests of this node's
// proposals are not yet executed. Retry once Ready has delivered entries.
var ErrBusy = errors.New("bft: too many proposals in flight")

// Message is one message for one peer.
type Message struct {
	To   consensus.NodeID
	Data []byte
}

// OutboundSnapshot is a stable checkpoint's state for a lagging peer, to
// go by Transport.SendSnapshot: the peer's Step receives Head followed by
// Body as one message.
type OutboundSnapshot struct {
	To         consensus.NodeID
	Head, Body []byte
}

// SnapshotDue asks the application for its state after applying every
// entry delivered so far: Index is the last entry's index. The core
// delivers nothing more until SnapshotTaken answers, so that every
// correct replica digests the same state at the same point.
type SnapshotDue struct {
	Seq, Index uint64
}

// Ready is what the core needs done: make Persist durable (after removing
// every record stored before when Compact is set) and only then send
// Messages and Snapshots; hand Applies to the application, and answer
// SnapshotDue (if set) with SnapshotTaken once the Applies are applied.
// Persisting before sending is what keeps a restarted replica from
// contradicting what it signed before it stopped.
//
// A driver may go on with Step, Tick and Propose while it persists a
// Ready, as long as it calls Ready again only once the last one is
// durable. Applies may then be handed over at once, before Persist is
// durable: the core executes a batch only once this replica's own commit
// for it is in an earlier Ready, so a batch executes only when a quorum,
// this replica included, has durably committed it (its decided record
// need not be durable: after a restart, the others prove it again).
type Ready struct {
	Persist     [][]byte
	Compact     bool
	Messages    []Message
	Snapshots   []OutboundSnapshot
	Applies     []consensus.Apply
	SnapshotDue *SnapshotDue
}

// Stats counts what the core dropped and why, for tests and operators.
type Stats struct {
	Malformed, BadSignature, NotMember, WrongSender uint64
	WrongView, OutOfWindow, Invalid, Conflicting    uint64
	// SkippedRequests counts ordered requests not executed: repeats of
	// executed ones, or ones too far ahead of their origin's sequence.
	SkippedRequests uint64
	// RefusedRequests counts other members' requests, alone or in a
	// batch, that Config.CheckRequest refused.
	RefusedRequests uint64
	ViewChanges     uint64
	StateTransfers  uint64
}

// Core is the deterministic engine of one replica, in the shape of etcd
// raft's RawNode: no goroutines, no I/O and no clock. Whoever drives it
// calls Tick at a steady rate, Step for each received message and Propose
// for each local proposal, then does the work Ready hands over, all from
// one goroutine. Log drives it in production; the tests
// drive several on one goroutine.
type Core struct {
	cfg Config
	q   quorums
	v   verifier
	log *slog.Logger
	id  consensus.NodeID

	ticks uint64

	// view is the current view; changing is set from sending a view
	// change for it until its new view is installed.
	view     uint64
	changing bool
	// vcTimeout is the view-change timeout now in force (it backs off);
	// vcDeadline is the tick at which an unfinished view change moves on,
	// once armed: when a quorum wants the view (viewchange.go).
	vcTimeout, vcDeadline uint64
	// executedAt is the tick at which a batch with requests last executed
	// (requestOverdue).
	executedAt   uint64
	vcArmed      bool
	retransmitAt uint64

	// slots hold the current view's agreement, by sequence number.
	slots map[uint64]*slot
	// nextSeq is the next sequence number the primary assigns.
	nextSeq uint64
	// signed holds every pre-prepare, prepare and commit this replica
	// signed in the current view, so that it never signs two different
	// batches for one sequence number (across restarts too: they are
	// persisted before they are sent).
	signed map[signKey]signedMsg
	// certs holds, for every sequence number above the stable
	// checkpoint, the prepared certificate of the highest view.
	certs map[uint64]*preparedCert
	// decided holds the batches known committed, until executed and
	// below a stable checkpoint.
	decided map[uint64]*prePrepare
	// proofs holds a decidedProof for the decided batches this replica
	// can prove, for replicas that missed them.
	proofs map[uint64]*decidedProof
	// overheard holds, while this replica changes view, what it heard of
	// the agreement in the views it left, by sequence number in its
	// window (overheard.go).
	overheard map[uint64]*overheardSlot

	lastExec  uint64 // last sequence number executed
	lastIndex uint64 // last entry index delivered
	executed  *dedup
	// pending holds the requests known and not yet executed.
	pending   map[requestKey]*pendingRequest
	pendingBy map[consensus.NodeID]int
	nextReq   uint64 // this node's next request number
	// outbox holds this node's proposals not yet sent, outboxBytes what
	// they count (itemSize), outboxSince the tick the first came (see
	// Propose). committedSinceRequest is set when this node signs a
	// commit and cleared when it sends a request (see flushReady).
	outbox                [][]byte
	outboxBytes           int
	outboxSince           uint64
	committedSinceRequest bool

	stable stableCheckpoint
	// rebuilding is set from a restart whose records name a stable
	// checkpoint later than the state they hold until re-executing the
	// batches stored between the two reaches it: until then stable holds
	// its certificate, not its state (see restoreStableCert).
	rebuilding bool
	// appended counts the bytes of records persisted since the last
	// compaction, compacted those the compaction wrote (0 while the
	// records hold no state): see persistStable.
	appended, compacted int
	// taken holds this replica's checkpoints not yet stable.
	taken map[uint64]*checkpointState
	// votes holds the checkpoint messages received, per sender, lowest
	// sequence number first.
	votes         map[consensus.NodeID][]checkpointVote
	ownCheckpoint []byte
	// restarted is set when the core started from records, and
	// certifiedSince is the highest checkpoint a quorum signed that it
	// learned of since: a restarted replica knows how far behind the
	// cluster it is only from such a checkpoint (see caughtUpIndex).
	restarted      bool
	certifiedSince uint64
	// caughtUpFor counts the ticks since a restarted replica caught up.
	caughtUpFor uint64
	due         *SnapshotDue
	fetch       *stateFetch
	servedAt    map[consensus.NodeID]uint64
	// proved is, for each member sent decided proofs, when their resend
	// period began and the last sequence number sent in it.
	proved map[consensus.NodeID]provedTo
	// askNext is the index of the member last asked for decided batches;
	// askUntil the tick until which a restarted replica keeps asking;
	// askedThrough the last sequence number the last ask could bring.
	askNext      int
	askUntil     uint64
	askedThrough uint64
	// rejoin is set while this member rejoins after losing its store
	// (rejoin.go); answeredAt is when each member was last answered a
	// rejoin query.
	rejoin     *rejoinState
	answeredAt map[consensus.NodeID]uint64
	// rejoinGoal is the sequence number a rejoining member last asked
	// the cluster to order up to, at tick rejoinAskedAt; emptyAt is the
	// tick of this primary's last empty batch for it (rejoin.go).
	rejoinGoal, rejoinAskedAt, emptyAt uint64
	// resentFrom is the lowest sequence number this replica resent its
	// agreement on at the last resend, not executed then; 0 for none.
	resentFrom uint64

	// vcs holds each member's latest view change.
	vcs map[consensus.NodeID]*envelope
	// laterView holds, for each member heard agreeing (pre-prepare,
	// prepare, commit) in a view later than this replica's, the latest
	// such view.
	laterView map[consensus.NodeID]uint64
	ownVC     []byte
	// vcResent paces the resends of ownVC.
	vcResent resendPace
	// newView is the new-view message of the current view, which the
	// primary sends again to a replica still changing to it.
	newView []byte

	ready       Ready
	persistView bool
	stats       Stats
	// generation numbers the Ready being gathered; each Ready call
	// hands it out and starts the next. heldForCommit is set while a
	// decided batch waits for this replica's commit, signed in the
	// current generation, to be handed out (see Ready).
	generation    uint64
	heldForCommit bool
}

type signKey struct {
	typ       msgType
	view, seq uint64
}

type signedMsg struct {
	digest Digest
	raw    []byte
}

type pendingRequest struct {
	req   *request
	raw   []byte
	since uint64
	// resent paces this replica's resends of it (retransmit).
	resent resendPace
	// assigned is set at the primary once the request is in a batch of
	// the current view.
	assigned bool
	// unchecked is set on a request received from its origin, whose
	// signature is not checked yet.
	unchecked bool
}

// NewCore starts a replica from the records its previous run persisted
// (none for a new replica).
func NewCore(cfg Config, records [][]byte) (*Core, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	keys, err := signing.ExpandMembers(cfg.PublicKeys)
	if err != nil {
		return nil, fmt.Errorf("bft: config: %w", err)
	}
	c := &Core{
		cfg: cfg, q: newQuorums(cfg.PublicKeys), id: cfg.ID,
		log:        cfg.Logger.With("node", cfg.ID),
		vcTimeout:  cfg.ViewChangeTimeoutTicks,
		slots:      map[uint64]*slot{},
		signed:     map[signKey]signedMsg{},
		certs:      map[uint64]*preparedCert{},
		decided:    map[uint64]*prePrepare{},
		proofs:     map[uint64]*decidedProof{},
		executed:   newDedup(),
		pending:    map[requestKey]*pendingRequest{},
		pendingBy:  map[consensus.NodeID]int{},
		nextReq:    1,
		nextSeq:    1,
		taken:      map[uint64]*checkpointState{},
		votes:      map[consensus.NodeID][]checkpointVote{},
		servedAt:   map[consensus.NodeID]uint64{},
		proved:     map[consensus.NodeID]provedTo{},
		answeredAt: map[consensus.NodeID]uint64{},
		vcs:        map[consensus.NodeID]*envelope{},
		laterView:  map[consensus.NodeID]uint64{},
		generation: 1,
	}
	c.v = verifier{cfg: &c.cfg, q: c.q, keys: keys, prefix: signingPrefix(c.cfg.Cluster), verified: map[Digest]struct{}{}, fromOrigin: map[Digest]struct{}{}}
	if err := c.restore(records); err != nil {
		return nil, fmt.Errorf("bft: node %d: restore: %w", cfg.ID, err)
	}
	return c, nil
}

// Tick advances the core's clock by one tick: timeouts and resends.
func (c *Core) Tick() {
	c.ticks++
	if c.restarted && c.caughtUp() {
		c.caughtUpFor++
	} else {
		c.caughtUpFor = 0
	}
	c.checkWaitingRequests()
	switch {
	case c.rejoining():
		// It signs no view change (rejoin.go).
	case c.changing && c.vcArmed && c.ticks >= c.vcDeadline:
		c.log.Info("bft: view change timed out", "view", c.view)
		c.startViewChange(c.view + 1)
	case !c.changing && c.requestOverdue():
		c.log.Info("bft: a request was not ordered in time; suspecting the primary", "view", c.view, "primary", c.q.primary(c.view))
		c.startViewChange(c.view + 1)
	}
	if c.ticks >= c.retransmitAt {
		c.retransmitAt = c.ticks + c.cfg.RetransmitTicks
		c.retransmit()
	}
}

// Step handles one message that the transport says came from from.
// A message that fails any check is dropped, counted and reported.
func (c *Core) Step(from consensus.NodeID, data []byte) error {
	err := c.step(from, data)
	if err != nil {
		c.count(err)
	}
	return err
}

func (c *Core) step(from consensus.NodeID, data []byte) error {
	if len(data) > 0 && msgType(data[0]) == msgStateTransfer {
		return c.receiveState(from, data)
	}
	e, err := c.v.decodeReceived(data, from)
	if err != nil {
		return err
	}
	if c.rejoining() {
		switch e.typ {
		case msgPrePrepare, msgPrepare, msgCommit, msgViewChange, msgNewView:
			// It may not answer them, and they are no proof of a
			// decision: it learns those from decided proofs and
			// checkpoints (rejoin.go).
			return nil
		}
	}
	// Requests are the one message a member may pass on for another:
	// the origin's signature is what vouches for them.
	if e.from != from && e.typ != msgRequest {
		return fmt.Errorf("%w: %s signed by %d came from %d", errWrongSender, e.typ, e.from, from)
	}
	switch b := e.body.(type) {
	case *request:
		if err := c.checkRequest(b); err != nil {
			if b.Origin == c.q.primary(c.view) {
				c.suspectPrimary(err)
			}
			return err
		}
		if c.addPending(b, e.raw) && e.unchecked {
			// Its signature is checked only if this replica orders it or
			// relays it, or it waits long (checkWaitingRequests): a
			// correct primary orders it first, and then none of the
			// backups that got it from its origin needs to check it.
			c.pending[b.key()].unchecked = true
			if from == b.Origin {
				rememberIn(c.v.fromOrigin, Digest(sha256.Sum256(e.raw)))
			}
		}
		return nil
	case *prePrepare:
		c.noteLaterView(e.from, b.View)
		if c.overhears(b.View) {
			return c.overhearPrePrepare(e.from, b, e.raw)
		}
		return c.receivePrePrepare(b, e.raw)
	case *vote:
		c.noteLaterView(e.from, b.View)
		if e.typ == msgCommit && c.overhears(b.View) {
			return c.overhearCommit(e, b)
		}
		if e.typ == msgPrepare {
			return c.receivePrepare(e, b)
		}
		return c.receiveCommit(e, b)
	case *checkpoint:
		c.addVote(e.from, b, e.raw)
		return nil
	case *viewChange:
		return c.receiveViewChange(e)
	case *newView:
		return c.receiveNewView(b, e.raw)
	case *stateRequest:
		if e.typ == msgFetchDecided {
			c.serveDecided(e.from, b)
			return nil
		}
		return c.serveState(e.from, b)
	case *decidedProof:
		return c.receiveDecided(b)
	case *rejoinQuery:
		c.answerRejoin(e.from, b)
		return nil
	case *rejoinAnswer:
		return c.receiveRejoinAnswer(e.from, b)
	}
	return fmt.Errorf("%w: %s", errMalformed, e.typ)
}

func (c *Core) count(err error) {
	counters := []struct {
		err error
		n   *uint64
	}{
		{errMalformed, &c.stats.Malformed}, {errBadSignature, &c.stats.BadSignature},
		{errNotMember, &c.stats.NotMember}, {errWrongSender, &c.stats.WrongSender},
		{errWrongView, &c.stats.WrongView}, {errOutOfWindow, &c.stats.OutOfWindow},
		{errConflict, &c.stats.Conflicting}, {errInvalid, &c.stats.Invalid},
	}
	for _, k := range counters {
		if errors.Is(err, k.err) {
			*k.n++
			return
		}
	}
}

// HasReady reports whether Ready has anything to do.
func (c *Core) HasReady() bool {
	r := &c.ready
	return len(r.Persist) > 0 || r.Compact || c.persistView || len(r.Messages) > 0 || len(r.Snapshots) > 0 ||
		len(r.Applies) > 0 || r.SnapshotDue != nil || c.flushReady() || c.canBatch() || c.heldForCommit || c.rejoinOver()
}

// Ready hands over what must be done now (see Ready); the core forgets
// it. Call it again only once the last Ready's Persist is durable.
func (c *Core) Ready() Ready {
	c.endRejoinIfDone()
	if c.heldForCommit {
		// The commits it waited for were in the last Ready, durable now.
		c.heldForCommit = false
		c.execute()
	}
	if c.flushReady() {
		c.flush()
	}
	for c.canBatch() {
		c.batch()
	}
	if c.ready.Compact {
		c.ready.Persist = c.durableState()
		c.appended, c.compacted = 0, recordsSize(c.ready.Persist)
	} else {
		if c.persistView {
			c.ready.Persist = append([][]byte{encodeViewRecord(c.view, c.changing)}, c.ready.Persist...)
		}
		c.appended += recordsSize(c.ready.Persist)
	}
	c.persistView = false
	rd := c.ready
	c.ready = Ready{}
	c.generation++
	return rd
}

// Status reports this replica's view of the log.
func (c *Core) Status() consensus.Status {
	primary := c.q.primary(c.view)
	if c.changing || c.rejoining() {
		// A rejoining member takes no part in the view and may not know
		// which it is (rejoin.go).
		primary = 0
	}
	return consensus.Status{
		ID: c.id, Leader: primary, Term: c.view,
		Commit: c.lastIndex, Applied: c.lastIndex, Snapshot: c.stable.index,
		LeaderCommit: c.caughtUpIndex(),
		Members:      append([]consensus.NodeID(nil), c.q.members...), IsLeader: primary == c.id,
		Rejoining: c.rejoining(),
	}
}

// caughtUpIndex is what Status reports as LeaderCommit: where this
// replica stands once it has caught up with the cluster, and 0 until it
// knows it has. No single member's word on how far the cluster went can
// be trusted, but a checkpoint a quorum signed can: a replica that
// restarted has caught up once it has executed through the highest
// checkpoint a quorum signed since it started. Members resend their
// latest checkpoint, so it learns of one within a resend period, and
// else it would take clients from its own records' end and, should
// the others' stable checkpoint be past anything it can execute, hang
// up on them as it installs their state. A replica whose records hold no
// stable checkpoint may be in a cluster that has none yet, which no
// checkpoint would ever tell it: it waits while it asks the others for
// what they decided (askUntil), which brings it their stable state if
// they have one (serveDecided), and while it fetches a state. Both
// wait too while they hold a batch decided past one they miss: the
// others went further than their latest certified checkpoint says (a
// replica that installed their state at 928 took clients while they
// were near 992, and fell behind their next stable checkpoint); and
// until they have executed through the latest checkpoint f+1 members
// signed, which at least one correct member reached (with the cluster
// at full speed, the others were then several intervals past the
// certified one).
//
// And it reports so only once that has held for a resend period: the
// others' checkpoint messages and agreement, which show how far they
// went, come within one. A member that installed the others' state took
// clients within 3 ms, before any of it, and installed their next state
// 200 ms later.
func (c *Core) caughtUpIndex() uint64 {
	switch {
	case c.rejoining():
		return 0
	case !c.restarted:
		return c.lastIndex
	case c.caughtUp() && c.caughtUpFor >= c.cfg.RetransmitTicks:
		return c.lastIndex
	}
	return 0
}

// caughtUp reports whether a restarted replica has caught up with the
// cluster as far as it can tell now (see caughtUpIndex).
func (c *Core) caughtUp() bool {
	switch {
	case c.decidedPastAGap() || c.lastExec < c.reachedByACorrectMember():
		return false
	case c.certifiedSince > 0 && c.lastExec >= c.certifiedSince:
		return c.heardFromAQuorum()
	}
	return c.stable.seq == 0 && c.ticks >= c.askUntil && c.fetch == nil
}

// heardFromAQuorum reports whether this replica holds a checkpoint
// message from each of quorum−1 other members (all at or above its
// stable checkpoint: addVote and forgetThrough keep no others): with its
// own, a quorum's word on how far they went, which members resend every
// resend period. A certificate alone is not: the one of a state this
// replica installed was already behind when it was sent, and a member
// that installed the others' state while it heard nothing else from them
// (their connections to its restarted node were not up again yet) took
// clients on it and hung up on them at the others' next checkpoint
// (issue 11).
func (c *Core) heardFromAQuorum() bool {
	others := 0
	for id, votes := range c.votes {
		if id != c.id && len(votes) > 0 {
			others++
		}
	}
	return others >= c.q.quorum-1
}

// decidedPastAGap reports whether this replica holds a decided batch
// that it cannot execute for want of an earlier one.
func (c *Core) decidedPastAGap() bool {
	highest := c.lastExec
	for seq := range c.decided {
		highest = max(highest, seq)
	}
	return !c.decidedThrough(highest)
}

// reachedByACorrectMember is the latest checkpoint that f+1 members
// signed, whatever its digest: at least one correct member executed
// through it.
func (c *Core) reachedByACorrectMember() uint64 {
	signers := map[uint64]int{}
	var reached uint64
	for _, votes := range c.votes {
		for _, v := range votes {
			signers[v.seq]++
			if signers[v.seq] > c.q.f {
				reached = max(reached, v.seq)
			}
		}
	}
	return reached
}

// Stats returns the drop counters so far.
func (c *Core) Stats() Stats { return c.stats }

// send queues data for one peer.
func (c *Core) send(to consensus.NodeID, data []byte) {
	if to != c.id {
		c.ready.Messages = append(c.ready.Messages, Message{To: to, Data: data})
	}
}

// broadcast queues data for every other member.
func (c *Core) broadcast(data []byte) {
	for _, m := range c.q.members {
		c.send(m, data)
	}
}

// persist queues a record to be made durable before the messages go out.
func (c *Core) persist(rec []byte) {
	c.ready.Persist = append(c.ready.Persist, rec)
}

// sign seals body as a message from this replica. Its hash goes into the
// verified cache: the replica decodes its own pre-prepares and view
// changes, and its votes come back inside others' proofs.
func (c *Core) sign(typ msgType, body []byte) []byte {
	raw := seal(c.v.prefix, c.cfg.PrivateKey, typ, c.id, body)
	c.v.remember(Digest(sha256.Sum256(raw)))
	return raw
}
