package bft

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/synodvm/synod/consensus"
)

// slot is the agreement on one sequence number in the current view.
type slot struct {
	pp       *prePrepare
	ppRaw    []byte
	prepares map[consensus.NodeID]heldVote
	commits  map[consensus.NodeID]heldVote
	prepared bool
	decided  bool
	// commitIn is the generation of the Ready that carries this
	// replica's commit, when it signed one in this run; 0 for one
	// restored from its records, durable already.
	commitIn uint64
	// ppAt is the tick at which this replica took (or, as the primary,
	// signed) the pre-prepare: an undecided batch is timed from it as a
	// waiting request is (requestOverdue).
	ppAt uint64
}

// heldVote is a member's prepare or commit as a slot holds it: a
// prepare's signature is checked only once it can help complete a
// quorum, a commit's only once it goes out in a decided proof.
type heldVote struct {
	digest  Digest
	raw     []byte
	checked bool
}

func (c *Core) slot(seq uint64) *slot {
	s, ok := c.slots[seq]
	if !ok {
		s = &slot{prepares: map[consensus.NodeID]heldVote{}, commits: map[consensus.NodeID]heldVote{}}
		c.slots[seq] = s
	}
	return s
}

// inWindow reports whether seq may be agreed on now: above the stable
// checkpoint and at most Window above it.
func (c *Core) inWindow(seq uint64) bool {
	return seq > c.stable.seq && seq <= c.stable.seq+c.cfg.Window
}

// Propose submits data for ordering. While an earlier request of this
// node waits for a batch, proposals gather in an outbox and go out
// together, as one request, with this node's next commit or once the
// earlier one is in a batch (see flushReady): a request costs a signature
// and every member's handling however little it carries. It fails with
// ErrBusy while the outbox is full and MaxPendingRequests of this node's
// requests are unexecuted.
func (c *Core) Propose(data []byte) error {
	if itemSize(data) > c.cfg.MaxRequestBytes {
		return fmt.Errorf("bft: proposal of %d bytes, limit %d", len(data), c.cfg.MaxRequestBytes-itemCost)
	}
	if len(c.outbox) == maxRequestItems || c.outboxBytes+itemSize(data) > c.cfg.MaxRequestBytes {
		if !c.flush() {
			return ErrBusy
		}
	}
	if len(c.outbox) == 0 {
		c.outboxSince = c.ticks
	}
	c.outbox = append(c.outbox, data)
	c.outboxBytes += itemSize(data)
	return nil
}

// flushReady reports whether the outbox should go out now: this node's
// latest request is in a batch of the current view or executed, or this
// node signed a commit since its latest request, or the outbox has waited
// a resend period (a lost pre-prepare, a view change).
//
// A request sent while the latest waits at the primary joins it there if
// it arrives before the primary starts the next batch, which it does once
// the batch in flight is decided: the commits decide it, so a request
// that goes out with this node's commit is in time. Held until the latest
// was in a batch, it went in the batch after, a round later
// (TestProposalsWhileARequestWaitsGoWithTheCommit). A node sends at most
// one such request a commit.
//
// Only the latest request counts: an earlier one still unordered is lost
// or refused, and retransmit resends it. Waiting for every earlier one, a
// member with one request the others refused (its clock's reading, ten
// years ahead, in the Byzantine simulator's seed 40019) sent each later
// one a resend period late, for good.
func (c *Core) flushReady() bool {
	if len(c.outbox) == 0 || !c.mayRequest() {
		return false
	}
	if c.committedSinceRequest || c.ticks-c.outboxSince >= c.cfg.RetransmitTicks {
		return true
	}
	latest, ok := c.pending[requestKey{origin: c.id, seq: c.nextReq - 1}]
	return !ok || latest.assigned
}

// flush signs the outbox as one request and sends it to every member,
// the primary included; false while MaxPendingRequests of this node's
// requests are unexecuted.
func (c *Core) flush() bool {
	if len(c.outbox) == 0 {
		return true
	}
	if !c.mayRequest() {
		return false
	}
	req := &request{Origin: c.id, Seq: c.nextReq, Items: c.outbox}
	c.nextReq++
	c.committedSinceRequest = false
	c.outbox, c.outboxBytes = nil, 0
	raw := c.sign(msgRequest, encodeRequest(req))
	c.persist(encodeSignedRecord(raw))
	c.holdOwn(req, raw)
	c.broadcast(raw)
	return true
}

// mayRequest reports whether this node may send another request: it is
// not rejoining (rejoin.go), and fewer than MaxPendingRequests of its
// requests are unexecuted.
func (c *Core) mayRequest() bool {
	return !c.rejoining() && c.nextReq-1-c.executed.floor(c.id) < uint64(c.cfg.MaxPendingRequests)
}

// acceptable reports whether a request may be held or executed: not
// executed yet, and not so far ahead of its origin's executed requests
// that a correct origin could not have made it (which bounds what a
// faulty origin can make every replica hold).
func (c *Core) acceptable(r *request) bool {
	return !c.executed.done(r.key()) && r.Seq <= c.executed.floor(r.Origin)+uint64(c.cfg.MaxPendingRequests)
}

func (c *Core) addPending(r *request, raw []byte) bool {
	return c.acceptable(r) && c.pendingBy[r.Origin] < c.cfg.MaxPendingRequests && c.hold(r, raw)
}

// holdOwn holds a request of this replica's own until it executes, so
// that retransmit resends it. Unlike another origin's (addPending), it is
// held whatever the executed-request table says of the window an origin
// may have pending: this replica signed it, and a request of its own
// that is never resent stays a hole below every later one, which keeps
// its executed floor, and so every request it may still send
// (mayRequest), where they are for good. While a restarted replica
// restores its records, the table is that of the state stored at the
// last compaction, older than the batches stored after it, which it
// re-executes later: measured against it, a request signed since may lie
// beyond the window.
func (c *Core) holdOwn(r *request, raw []byte) {
	if !c.executed.done(r.key()) {
		c.hold(r, raw)
	}
}

// hold holds r unless it is held already, and reports whether it was
// not.
func (c *Core) hold(r *request, raw []byte) bool {
	if _, ok := c.pending[r.key()]; ok {
		return false
	}
	c.pending[r.key()] = &pendingRequest{req: r, raw: raw, since: c.ticks, resent: resendPace{at: c.ticks}}
	c.pendingBy[r.Origin]++
	return true
}

func (c *Core) dropPending(k requestKey) {
	if _, ok := c.pending[k]; ok {
		delete(c.pending, k)
		c.pendingBy[k.origin]--
	}
}

// dropExecutedPending forgets the held requests that can no longer
// execute, after the executed-request table was replaced. This replica's
// own go only once executed (see holdOwn).
func (c *Core) dropExecutedPending() {
	for k, p := range c.pending {
		if c.executed.done(k) || k.origin != c.id && !c.acceptable(p.req) {
			c.dropPending(k)
		}
	}
}

// requestOverdue reports whether some request has waited too long to
// execute in this view: longer than the request timeout while no batch
// of requests executed for as long, or four timeouts while batches do.
// A request may wait behind several batches that go out one after
// another (MaxBatchesInFlight), each slow on a loaded machine; suspecting
// a primary that orders batch after batch replaced it with a view change
// slower than the batches, again and again (a Byzantine cluster sharing
// two cores with two others took 30 s instead of 1.4 to feed its guest
// 150 KB of console input). A primary that orders others' requests and
// never one is still suspected, four timeouts on. The timeout backs off
// with the view-change timeout: when every primary seems slow, the
// network or the machines are, and replacing primaries faster only makes
// it worse.
//
// A batch of this view that this replica took and that is not decided
// waits the same way, from its pre-prepare, whatever it holds. An empty
// batch (ordered for a rejoining member, or filling a new view's gap)
// holds no request whose wait would show that the view cannot decide it:
// with a member rejoining, which signs nothing, and a faulty one that
// had left the view alone, the two correct others stayed in a view that
// decided nothing, and the rejoin, which waits for those empty batches on
// an idle cluster, never ended (Byzantine simulator seed 193067).
func (c *Core) requestOverdue() bool {
	timeout := max(c.cfg.RequestTimeoutTicks, c.vcTimeout)
	batchesExecute := c.ticks-c.executedAt <= timeout
	overdue := func(since uint64) bool {
		waited := c.ticks - since
		return waited > timeout && (!batchesExecute || waited > queuedRequestTimeouts*timeout)
	}
	for _, p := range c.pending {
		if overdue(p.since) {
			return true
		}
	}
	for seq, s := range c.slots {
		if _, decided := c.decided[seq]; s.pp != nil && !s.decided && !decided && seq > c.lastExec && overdue(s.ppAt) {
			return true
		}
	}
	return false
}

// queuedRequestTimeouts is how many request timeouts a request may wait
// while batches of others execute.
const queuedRequestTimeouts = 4

// canBatch reports whether this replica, as primary, has requests to
// order (or an empty batch is due for a rejoining member, see
// emptyBatchDue), room in the window to order them, and fewer than
// MaxBatchesInFlight batches undecided.
func (c *Core) canBatch() bool {
	if c.changing || c.rejoining() || c.q.primary(c.view) != c.id || !c.inWindow(c.nextSeq) || c.undecidedBatches() >= c.cfg.MaxBatchesInFlight {
		return false
	}
	for _, p := range c.pending {
		if !p.assigned {
			return true
		}
	}
	return c.emptyBatchDue()
}

// undecidedBatches counts the batches this primary ordered in the
// current view that are not decided yet.
func (c *Core) undecidedBatches() int {
	n := 0
	for seq := c.lastExec + 1; seq < c.nextSeq; seq++ {
		if s, ok := c.slots[seq]; ok && !s.decided {
			n++
		}
	}
	return n
}

// batch orders the waiting requests, oldest first, in one pre-prepare,
// or none when only an empty batch is due.
func (c *Core) batch() {
	var waiting []*pendingRequest
	for _, p := range c.pending {
		if !p.assigned {
			waiting = append(waiting, p)
		}
	}
	slices.SortFunc(waiting, func(a, b *pendingRequest) int {
		if a.since != b.since {
			return cmpUint(a.since, b.since)
		}
		if a.req.Origin != b.req.Origin {
			return cmpUint(uint64(a.req.Origin), uint64(b.req.Origin))
		}
		return cmpUint(a.req.Seq, b.req.Seq)
	})
	var raws [][]byte
	size := 0
	for _, p := range waiting {
		if len(raws) == c.cfg.MaxBatchRequests || (len(raws) > 0 && size+p.req.size() > c.cfg.MaxBatchBytes) {
			break
		}
		if !c.checkPending(p) {
			continue
		}
		p.assigned = true
		raws = append(raws, p.raw)
		size += p.req.size()
	}
	if len(raws) == 0 {
		if !c.emptyBatchDue() {
			return
		}
		c.emptyAt = c.ticks
	}
	seq := c.nextSeq
	c.nextSeq++
	c.prePrepare(seq, raws)
}

// checkPending checks the signature of a held request that came
// unchecked from its origin, and drops it, counted, when it is bad. A
// primary checks every request before it orders it: a backup that did
// not get the request from its origin checks it in the batch, and would
// refuse a batch, and a view change could not carry it either, holding
// a bad one (see "Fewer requests, each checked once" in docs/byzantine.md).
func (c *Core) checkPending(p *pendingRequest) bool {
	if !p.unchecked {
		return true
	}
	if c.v.heldSignatureValid(p.req.Origin, p.raw) {
		p.unchecked = false
		return true
	}
	c.dropPending(p.req.key())
	c.stats.BadSignature++
	c.log.Debug("bft: dropped a request with a bad signature from its origin", "origin", p.req.Origin, "request", p.req.Seq)
	return false
}

// checkWaitingRequests checks the held requests that came unchecked from
// their origin and have waited long enough to be relayed to the primary,
// to have this replica ask for decided batches, or to make it suspect the
// primary: a faulty origin's request with a bad signature, which a
// correct primary drops, must do none of that.
func (c *Core) checkWaitingRequests() {
	wait := min(c.cfg.RetransmitTicks, c.cfg.RequestTimeoutTicks)
	for _, p := range c.pending {
		if p.unchecked && c.ticks-p.since >= wait {
			c.checkPending(p)
		}
	}
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// prePrepare signs, records and sends the primary's batch for seq.
func (c *Core) prePrepare(seq uint64, requests [][]byte) {
	pp := &prePrepare{View: c.view, Seq: seq, Requests: requests, digest: batchDigest(requests)}
	raw, ok := c.signOnce(msgPrePrepare, c.view, seq, pp.digest, encodePrePrepare(pp))
	if !ok {
		return
	}
	decoded, err := c.v.decode(raw)
	if err != nil {
		c.log.Error("bft: own pre-prepare does not decode", "seq", seq, "err", err)
		return
	}
	s := c.slot(seq)
	s.pp, s.ppRaw, s.ppAt = decoded.body.(*prePrepare), raw, c.ticks
	c.broadcast(raw)
	c.checkPrepared(seq, s)
}

// signOnce signs a pre-prepare, prepare or commit for (view, seq) unless
// this replica already signed one for another digest there; the record
// of it is persisted before the message can go out.
func (c *Core) signOnce(typ msgType, view, seq uint64, d Digest, body []byte) ([]byte, bool) {
	k := signKey{typ, view, seq}
	if prev, ok := c.signed[k]; ok {
		if prev.digest != d {
			c.log.Warn("bft: refusing to sign a second digest", "type", typ, "view", view, "seq", seq)
			return nil, false
		}
		return prev.raw, true
	}
	raw := c.sign(typ, body)
	c.signed[k] = signedMsg{digest: d, raw: raw}
	c.persist(encodeSignedRecord(raw))
	return raw, true
}

func (c *Core) receivePrePrepare(pp *prePrepare, raw []byte) error {
	if pp.View != c.view || c.changing {
		return fmt.Errorf("%w: pre-prepare for view %d, at view %d (changing %v)", errWrongView, pp.View, c.view, c.changing)
	}
	for _, r := range pp.requests {
		if err := c.checkRequest(r); err != nil {
			c.suspectPrimary(err)
			return fmt.Errorf("pre-prepare for view %d seq %d: %w", pp.View, pp.Seq, err)
		}
	}
	return c.acceptPrePrepare(pp, raw)
}

// suspectPrimary moves to the next view at once: the primary asked to
// order a request this member refuses (its own, or one in its batch). A
// correct primary checks what it orders as the backups do; nothing else
// would make the backups wait for a view change, since a refused request
// is never held, and a primary could stall the cluster with requests
// that only its backups refuse.
func (c *Core) suspectPrimary(why error) {
	if c.changing {
		return
	}
	c.log.Info("bft: the primary asked to order a refused request; suspecting it", "view", c.view, "primary", c.q.primary(c.view), "err", why)
	c.startViewChange(c.view + 1)
}

// errRefusedRequest is a request Config.CheckRequest refused.
var errRefusedRequest = errors.New("bft: request refused")

// checkRequest asks Config.CheckRequest about another member's request.
func (c *Core) checkRequest(r *request) error {
	if c.cfg.CheckRequest == nil || r.Origin == c.id {
		return nil
	}
	for i, item := range r.Items {
		if err := c.cfg.CheckRequest(item); err != nil {
			c.stats.RefusedRequests++
			return fmt.Errorf("%w: request %d of member %d, item %d: %w", errRefusedRequest, r.Seq, r.Origin, i, err)
		}
	}
	return nil
}

// acceptPrePrepare takes the primary's batch for a sequence number of the
// current view and, at a backup, prepares it.
func (c *Core) acceptPrePrepare(pp *prePrepare, raw []byte) error {
	if !c.inWindow(pp.Seq) {
		return fmt.Errorf("%w: pre-prepare %d, stable %d", errOutOfWindow, pp.Seq, c.stable.seq)
	}
	s := c.slot(pp.Seq)
	if s.pp != nil {
		if s.pp.digest != pp.digest {
			return fmt.Errorf("%w: a second pre-prepare for view %d seq %d", errConflict, pp.View, pp.Seq)
		}
		return nil
	}
	s.pp, s.ppRaw, s.ppAt = pp, raw, c.ticks
	for _, r := range pp.requests {
		if p, ok := c.pending[r.key()]; ok {
			p.assigned = true
		}
	}
	if c.q.primary(pp.View) != c.id {
		v := &vote{View: pp.View, Seq: pp.Seq, Digest: pp.digest}
		if prep, ok := c.signOnce(msgPrepare, pp.View, pp.Seq, pp.digest, encodeVote(v)); ok {
			s.prepares[c.id] = heldVote{digest: pp.digest, raw: prep, checked: true}
			c.broadcast(prep)
		}
	}
	c.checkPrepared(pp.Seq, s)
	return nil
}

// receiveVote holds a member's prepare or commit (its first of the kind
// for the sequence number) and says whether it was new. A second,
// different one from the same member replaces the first only if the
// first's signature is bad: one vote per member is held, as a correct
// member signs one, and a forged copy that came first cannot shut out
// the genuine one.
func (c *Core) receiveVote(e *envelope, v *vote) (*slot, bool, error) {
	if v.View != c.view || c.changing {
		return nil, false, fmt.Errorf("%w: %s for view %d, at view %d", errWrongView, e.typ, v.View, c.view)
	}
	if !c.inWindow(v.Seq) {
		return nil, false, fmt.Errorf("%w: %s %d", errOutOfWindow, e.typ, v.Seq)
	}
	s := c.slot(v.Seq)
	votes := s.commits
	if e.typ == msgPrepare {
		votes = s.prepares
	}
	if held, ok := votes[e.from]; ok && (held.checked || bytes.Equal(held.raw, e.raw) || c.checkHeld(votes, e.from, e.typ, v.Seq)) {
		return s, false, nil
	}
	votes[e.from] = heldVote{digest: v.Digest, raw: e.raw, checked: !e.unchecked}
	return s, true, nil
}

// checkHeld checks the signature of the vote votes holds from a member,
// marking it checked, or dropping and counting it when it is bad.
func (c *Core) checkHeld(votes map[consensus.NodeID]heldVote, from consensus.NodeID, typ msgType, seq uint64) bool {
	h := votes[from]
	if c.v.heldSignatureValid(from, h.raw) {
		h.checked = true
		votes[from] = h
		return true
	}
	delete(votes, from)
	c.stats.BadSignature++
	c.log.Debug("bft: dropped a held vote with a bad signature", "type", typ, "from", from, "seq", seq)
	return false
}

// quorumOf returns need of the held votes for digest d, checked ones
// first; nil while fewer than need are held. With verify, it checks the
// others' signatures only as far as it takes, and a bad one does not
// count; votes beyond the quorum, and votes for any other digest, are
// never checked. Without it, a vote counts on its sender's word.
func (c *Core) quorumOf(votes map[consensus.NodeID]heldVote, typ msgType, seq uint64, d Digest, need int, verify bool) [][]byte {
	matching := 0
	for _, h := range votes {
		if h.digest == d {
			matching++
		}
	}
	if matching < need {
		return nil
	}
	var raws [][]byte
	for _, checkedOnly := range []bool{true, false} {
		for _, id := range c.q.members {
			h, ok := votes[id]
			if !ok || h.digest != d || h.checked != checkedOnly {
				continue
			}
			if verify && !h.checked && !c.checkHeld(votes, id, typ, seq) {
				continue
			}
			raws = append(raws, h.raw)
			if len(raws) == need {
				return raws
			}
		}
	}
	return nil
}

func (c *Core) receivePrepare(e *envelope, v *vote) error {
	if e.from == c.q.primary(v.View) {
		return fmt.Errorf("%w: the primary prepared", errInvalid)
	}
	s, fresh, err := c.receiveVote(e, v)
	if fresh {
		c.checkPrepared(v.Seq, s)
	}
	return err
}

// checkPrepared turns a slot prepared once it holds the pre-prepare and
// quorum−1 matching prepares: the certificate is persisted (a view change
// must be able to carry it after a restart) and this replica commits.
func (c *Core) checkPrepared(seq uint64, s *slot) {
	if s.prepared || s.pp == nil {
		return
	}
	// A prepared certificate must convince the next view's primary, so
	// its prepares are checked.
	prepares := c.quorumOf(s.prepares, msgPrepare, seq, s.pp.digest, c.q.quorum-1, true)
	if prepares == nil {
		return
	}
	s.prepared = true
	cert := &preparedCert{PrePrepare: s.ppRaw, Prepares: prepares, pp: s.pp}
	if old, ok := c.certs[seq]; !ok || old.pp.View < cert.pp.View {
		c.certs[seq] = cert
		c.persist(encodePreparedRecord(cert))
	}
	v := &vote{View: s.pp.View, Seq: seq, Digest: s.pp.digest}
	_, restored := c.signed[signKey{msgCommit, s.pp.View, seq}]
	if raw, ok := c.signOnce(msgCommit, s.pp.View, seq, s.pp.digest, encodeVote(v)); ok {
		s.commits[c.id] = heldVote{digest: s.pp.digest, raw: raw, checked: true}
		if !restored {
			s.commitIn = c.generation
		}
		c.broadcast(raw)
		c.committedSinceRequest = true
	}
	c.checkCommitted(seq, s)
}

func (c *Core) receiveCommit(e *envelope, v *vote) error {
	s, fresh, err := c.receiveVote(e, v)
	if fresh {
		c.checkCommitted(v.Seq, s)
	}
	return err
}

// checkCommitted decides a prepared slot once a quorum committed it.
// The commits count unchecked: each came from its signer, whom the
// transport authenticates, and deciding needs to know that a quorum
// committed, not to prove it to anyone. Their signatures are checked
// only when the proof goes to another member (provable); see "Commits
// taken on their signer's word" in docs/byzantine.md.
func (c *Core) checkCommitted(seq uint64, s *slot) {
	if s.decided || !s.prepared {
		return
	}
	commits := c.quorumOf(s.commits, msgCommit, seq, s.pp.digest, c.q.quorum, false)
	if commits == nil {
		return
	}
	s.decided = true
	c.decide(s.pp, &decidedProof{PrePrepare: s.ppRaw, Commits: commits, pp: s.pp})
	c.execute()
}

// decide records that pp's batch is committed at its sequence number,
// with the proof that lets other replicas take it too.
func (c *Core) decide(pp *prePrepare, proof *decidedProof) {
	if prev, ok := c.decided[pp.Seq]; ok {
		if prev.digest != pp.digest {
			c.log.Error("bft: two different batches decided at one sequence number: more than f members are faulty", "seq", pp.Seq)
		}
		return
	}
	if pp.Seq <= c.lastExec {
		return
	}
	c.decided[pp.Seq] = pp
	c.proofs[pp.Seq] = proof
	c.persist(encodeDecidedRecord(proof))
}

// execute delivers the decided batches in sequence order, stopping at a
// checkpoint until the application's state for it is taken, and at a
// batch whose decision rests on this replica's own commit in the Ready
// being gathered: the driver may hand Applies over before that Ready is
// durable, and a replica that executed on a commit it then lost in a
// crash would have acted on a batch that a quorum may never commit.
// While rebuilding, it stops at the stable checkpoint until the state
// reached there is found to be the certified one (rebuilt).
func (c *Core) execute() {
	var entries []consensus.Entry
	for c.due == nil && !(c.rebuilding && c.lastExec >= c.stable.seq) {
		pp, ok := c.decided[c.lastExec+1]
		if !ok {
			break
		}
		if s, ok := c.slots[pp.Seq]; ok && s.commitIn == c.generation && s.pp != nil && s.pp.digest == pp.digest {
			c.heldForCommit = true
			break
		}
		for _, r := range pp.requests {
			if !c.acceptable(r) {
				c.stats.SkippedRequests++
				continue
			}
			c.executed.add(r.key())
			c.dropPending(r.key())
			if r.Origin == c.id {
				// Its record may be lost (TestAMemberSendsAgainAfterItsLostRequestExecuted):
				// the number is used all the same.
				c.nextReq = max(c.nextReq, r.Seq+1)
			}
			for _, item := range r.Items {
				c.lastIndex++
				entries = append(entries, consensus.Entry{Index: c.lastIndex, Data: item, Proposer: r.Origin, Batch: pp.Seq})
			}
		}
		c.lastExec++
		if len(pp.requests) > 0 {
			c.executedAt = c.ticks
			c.vcTimeout = c.cfg.ViewChangeTimeoutTicks // the view works
		}
		if c.lastExec%c.cfg.CheckpointInterval == 0 {
			c.due = &SnapshotDue{Seq: c.lastExec, Index: c.lastIndex}
			c.ready.SnapshotDue = c.due
		}
	}
	if len(entries) > 0 {
		c.ready.Applies = append(c.ready.Applies, consensus.Apply{Entries: entries})
	}
}
