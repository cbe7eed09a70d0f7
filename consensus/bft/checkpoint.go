package bft

import (
	"crypto/sha256"
	"fmt"
	"math"
	"slices"

	"github.com/synodvm/synod/consensus"
)

// checkpointState is the replicated state after executing Seq: the
// application's snapshot, the last entry index and the executed-request
// table. Digest covers all of it.
type checkpointState struct {
	seq, index uint64
	digest     Digest
	dedup      []byte
	data       []byte
}

// stableCheckpoint is a checkpoint with a quorum of signed checkpoint
// messages for its digest (cert): every correct replica can prove it.
type stableCheckpoint struct {
	checkpointState
	cert [][]byte
}

type checkpointVote struct {
	seq    uint64
	digest Digest
	raw    []byte
}

// stateFetch is a state transfer this replica is waiting for, or, with
// batches set, the decided batches up to seq: its signers keep those of
// the window below their stable checkpoint (forgetThrough), and send
// their state only if they cannot prove them. A round of asks that
// brings no batch executed turns it into a state transfer: the batches
// may lie past this replica's own window, whose checkpoint it cannot
// make stable alone.
type stateFetch struct {
	seq     uint64
	signers []consensus.NodeID
	next    int
	batches bool
	// executed is this replica's last executed sequence number at the
	// last ask, and idle counts the asks since it last moved.
	executed uint64
	idle     int
}

// errStateMismatch is a state whose certificate is valid but whose bytes
// are not the ones certified: damaged in a store, or sent by a faulty
// member.
var errStateMismatch = fmt.Errorf("%w: state that does not match its certificate", errInvalid)

// stateDigest is the digest of a replica's state after executing seq.
func stateDigest(seq, index uint64, data, dedup []byte) Digest {
	return stateDigestOf(seq, index, sha256.Sum256(data), dedup)
}

// stateDigestOf is stateDigest with the application's state given by its
// SHA-256, app.
func stateDigestOf(seq, index uint64, app Digest, dedup []byte) Digest {
	var w writer
	w.raw([]byte("synod-bft-state "))
	w.u64(seq)
	w.u64(index)
	w.raw(app[:])
	w.bytes(dedup)
	return sha256.Sum256(w.b)
}

// SnapshotTaken answers SnapshotDue with the application's state (the
// Data of consensus.Snapshot) at that point: this replica signs a
// checkpoint for it and delivers what follows.
func (c *Core) SnapshotTaken(seq uint64, data []byte) error {
	return c.snapshotTaken(seq, data, sha256.Sum256(data))
}

// snapshotTaken is SnapshotTaken with data's SHA-256, app, computed by
// the caller: Log hashes the snapshot off its loop (see Log.run).
func (c *Core) snapshotTaken(seq uint64, data []byte, app Digest) error {
	if c.due == nil || c.due.Seq != seq {
		return fmt.Errorf("bft: no snapshot is due at %d", seq)
	}
	st := &checkpointState{seq: seq, index: c.due.Index, dedup: c.executed.encode(), data: data}
	st.digest = stateDigestOf(seq, st.index, app, st.dedup)
	c.due = nil
	if c.rebuilding {
		c.rebuilt(st)
		c.execute()
		return nil
	}
	c.taken[seq] = st
	c.ownCheckpoint = c.sign(msgCheckpoint, encodeCheckpoint(&checkpoint{Seq: seq, Digest: st.digest}))
	c.broadcast(c.ownCheckpoint)
	c.addVote(c.id, &checkpoint{Seq: seq, Digest: st.digest}, c.ownCheckpoint)
	// addVote checks only a new vote, and this one may be a repeat: a
	// certificate can bring back the vote this replica signed before a
	// restart, while its state was not taken yet
	// (TestACheckpointItsOwnOldVoteCertifiedBecomesStable).
	c.checkStable(seq, st.digest)
	c.execute()
	return nil
}

// maxVotesPerSender bounds the checkpoint messages kept per member: those
// of the window and a few beyond, which tell a lagging replica how far
// the others are.
func (c *Core) maxVotesPerSender() int {
	return int(c.catchUpSpan()/c.cfg.CheckpointInterval) + 2
}

// catchUpSpan is how far below their stable checkpoint members keep the
// decided batches (Config.CatchUpWindows): a member that far behind
// fetches and executes them, and needs the certificates of the
// checkpoints it passes on the way to move its window, so it keeps the
// checkpoint messages of as many.
func (c *Core) catchUpSpan() uint64 {
	return c.cfg.CatchUpWindows * c.cfg.Window
}

// addVote records a member's checkpoint message (its first for each
// sequence number) and checks whether that checkpoint is now stable.
// Those for the stable checkpoint itself count too: members resend their
// latest, and a quorum of them is how a restarted replica learns it has
// caught up when the cluster has gone no further (see caughtUpIndex).
func (c *Core) addVote(from consensus.NodeID, cp *checkpoint, raw []byte) {
	if cp.Seq == 0 || cp.Seq < c.stable.seq || cp.Seq%c.cfg.CheckpointInterval != 0 {
		return
	}
	votes := c.votes[from]
	i, found := slices.BinarySearchFunc(votes, cp.Seq, func(v checkpointVote, seq uint64) int { return cmpUint(v.seq, seq) })
	if found {
		return
	}
	votes = slices.Insert(votes, i, checkpointVote{seq: cp.Seq, digest: cp.Digest, raw: raw})
	if len(votes) > c.maxVotesPerSender() {
		votes = votes[1:]
	}
	c.votes[from] = votes
	c.checkStable(cp.Seq, cp.Digest)
}

// voteForStable signs the stable checkpoint again as this replica's own
// checkpoint, after a restart from records that hold one: the votes are
// not stored, and with one member silent the others' resent checkpoints
// are a quorum only with this replica's (see caughtUpIndex). Signatures
// are deterministic: it is the message this replica sent before.
func (c *Core) voteForStable() {
	cp := &checkpoint{Seq: c.stable.seq, Digest: c.stable.digest}
	c.ownCheckpoint = c.sign(msgCheckpoint, encodeCheckpoint(cp))
	c.addVote(c.id, cp, c.ownCheckpoint)
}

// certificate returns a quorum of checkpoint messages for (seq, d), or
// nil.
func (c *Core) certificate(seq uint64, d Digest) [][]byte {
	var cert [][]byte
	for _, id := range c.q.members {
		for _, v := range c.votes[id] {
			if v.seq == seq && v.digest == d {
				cert = append(cert, v.raw)
			}
		}
	}
	if len(cert) < c.q.quorum {
		return nil
	}
	return cert[:c.q.quorum]
}

func (c *Core) checkStable(seq uint64, d Digest) {
	cert := c.certificate(seq, d)
	if cert == nil {
		return
	}
	c.certifiedSince = max(c.certifiedSince, seq)
	if seq <= c.stable.seq {
		return
	}
	own, ok := c.taken[seq]
	switch {
	case ok && own.digest == d:
		c.makeStable(stableCheckpoint{checkpointState: *own, cert: cert})
		c.persistStable()
	case ok:
		c.log.Error("bft: a quorum agrees on another state than this replica's: its execution diverged", "seq", seq)
	case c.lastExec < seq && (c.due == nil || c.due.Seq != seq) && !c.decidedThrough(seq):
		c.startFetch(seq, cert, c.lastExec+c.catchUpSpan() >= seq)
	}
}

// decidedThrough reports whether this replica holds every decided batch
// from its last executed one up to seq: executing them brings it to the
// checkpoint at seq by itself. A replica merely slower than the quorum
// that made the checkpoint stable (the fourth of four, on a loaded
// machine) would otherwise fetch and install the whole state, hanging up
// on its clients, to skip batches it was about to execute.
func (c *Core) decidedThrough(seq uint64) bool {
	for s := c.lastExec + 1; s <= seq; s++ {
		if _, ok := c.decided[s]; !ok {
			return false
		}
	}
	return true
}

// makeStable moves the low end of the window to st and forgets
// everything below it.
func (c *Core) makeStable(st stableCheckpoint) {
	c.stable = st
	c.forgetThrough(st.seq)
	if c.fetch != nil && c.fetch.seq <= st.seq {
		c.fetch = nil
	}
	c.nextSeq = max(c.nextSeq, st.seq+1)
}

// forgetThrough forgets the agreement on seq and below, the checkpoint
// messages below seq, and the decided batches there once executed (a
// replica rebuilding its state after a restart still has to execute
// them), except those of the catch-up span up to seq (catchUpSpan,
// CatchUpWindows windows). A member that fell less than that behind while
// the others made seq stable (a restart, a slow machine) is sent those
// batches with their proofs and executes them (serveDecided), rather
// than the state, whose install hangs up on every client of its node.
// Keeping only an interval was not enough: a busy cluster ran two
// intervals past a member that had just installed its state. Each window
// kept costs at most a window of batches more (Window×MaxBatchBytes and a
// quorum of commits each), what the window itself holds.
func (c *Core) forgetThrough(seq uint64) {
	kept := seq - min(seq, c.catchUpSpan())
	for s := range c.slots {
		if s <= seq {
			delete(c.slots, s)
		}
	}
	for s := range c.certs {
		if s <= seq {
			delete(c.certs, s)
		}
	}
	for s := range c.decided {
		if s <= min(kept, c.lastExec) {
			delete(c.decided, s)
			delete(c.proofs, s)
		}
	}
	for s := range c.taken {
		if s <= seq {
			delete(c.taken, s)
		}
	}
	for k := range c.signed {
		if k.seq <= seq {
			delete(c.signed, k)
		}
	}
	for id, votes := range c.votes {
		i := 0
		for i < len(votes) && votes[i].seq < seq {
			i++
		}
		c.votes[id] = votes[i:]
	}
}

// persistStable makes the stable checkpoint this replica reached by
// executing durable: as a record of its certificate, which a restart
// follows by re-executing the batches stored before it, until the records
// appended since the last compaction reach Config.CompactionBytes (or the
// storage holds no state yet); then by a compaction, whose stable record
// holds the state.
func (c *Core) persistStable() {
	if c.compacted == 0 || c.appended >= max(c.cfg.CompactionBytes, c.compacted) {
		c.ready.Compact = true
		return
	}
	c.persist(encodeStableCertRecord(&c.stable))
}

// rebuilt takes a state this replica reached by re-executing, after a
// restart, the batches stored before its latest stable checkpoint's
// certificate. Below that checkpoint there is nothing to check it
// against; at it, the state must be the one certified. One that is not
// means the stored batches do not lead there (damage the checksums could
// not see): the replica executes no further and fetches the certified
// state from its signers.
func (c *Core) rebuilt(st *checkpointState) {
	if st.seq < c.stable.seq {
		return
	}
	if st.digest != c.stable.digest {
		c.log.Error("bft: re-executing the stored batches did not reach the stable checkpoint's state; fetching it from its signers",
			"seq", st.seq, "digest", st.digest, "certified", c.stable.digest)
		c.startFetch(c.stable.seq, c.stable.cert, false)
		return
	}
	c.stable.checkpointState = *st
	c.rebuilding = false
	c.forgetThrough(st.seq)
	c.log.Info("bft: rebuilt the stable checkpoint's state from the stored batches", "seq", st.seq)
}

// addCertVotes counts the signed checkpoints of a certificate another
// message carried as their signers' checkpoint votes.
func (c *Core) addCertVotes(cert [][]byte) {
	for _, raw := range cert {
		if e, err := c.v.decode(raw); err == nil {
			c.addVote(e.from, e.body.(*checkpoint), raw)
		}
	}
}

// startFetch asks the members that signed a stable checkpoint this
// replica has not reached for their state, or for the decided batches up
// to it when batches is set: a replica within a window of it, whose
// own state is the one those batches lead from.
func (c *Core) startFetch(seq uint64, cert [][]byte, batches bool) {
	if c.fetch != nil && c.fetch.seq >= seq {
		return
	}
	f := &stateFetch{seq: seq, batches: batches, executed: c.lastExec}
	for _, raw := range cert {
		if e, err := c.v.decode(raw); err == nil && e.from != c.id {
			f.signers = append(f.signers, e.from)
		}
	}
	c.fetch = f
	c.log.Info("bft: behind a stable checkpoint; fetching it", "seq", seq, "executed", c.lastExec, "batches", batches)
	c.askForState()
}

// askForState sends the next signer in turn a state request, or a
// request for the batches decided after this replica's last executed one.
func (c *Core) askForState() {
	f := c.fetch
	if len(f.signers) == 0 {
		return
	}
	to := f.signers[f.next%len(f.signers)]
	f.next++
	if c.lastExec != f.executed || c.due != nil {
		// Waiting for its own application's snapshot, this replica
		// executes nothing whatever the others send.
		f.executed, f.idle = c.lastExec, 0
	}
	f.idle++
	if f.batches && f.idle > len(f.signers) {
		c.log.Info("bft: the batches up to a stable checkpoint did not come; fetching its state", "seq", f.seq, "executed", c.lastExec)
		f.batches = false
	}
	if f.batches {
		c.askDecidedOf(to)
		return
	}
	c.send(to, c.sign(msgStateRequest, encodeStateRequest(&stateRequest{Seq: f.seq})))
}

// serveState sends this replica's stable checkpoint to a member that
// asked for one at least as new, at most once per resend period.
func (c *Core) serveState(from consensus.NodeID, r *stateRequest) error {
	if c.stable.seq == 0 || c.stable.seq < r.Seq || c.rebuilding {
		return nil
	}
	if last, ok := c.servedAt[from]; ok && c.ticks-last < c.cfg.RetransmitTicks {
		return nil
	}
	c.servedAt[from] = c.ticks
	c.ready.Snapshots = append(c.ready.Snapshots, OutboundSnapshot{To: from, Head: encodeStateHead(&c.stable), Body: c.stable.data})
	return nil
}

// A state transfer is
//
//	msgStateTransfer(1) headLength(4) head body
//
// with head holding the checkpoint's sequence number, entry index,
// executed-request table and certificate, and body the application's
// snapshot. It is not signed: the certificate's quorum of signatures over
// the state's digest is what the receiver checks.
func encodeStateHead(st *stableCheckpoint) []byte {
	var h writer
	h.u64(st.seq)
	h.u64(st.index)
	h.bytes(st.dedup)
	h.list(st.cert)
	var w writer
	w.u8(byte(msgStateTransfer))
	w.bytes(h.b)
	return w.b
}

func (c *Core) decodeState(data []byte) (*stableCheckpoint, error) {
	r := reader{b: data}
	r.u8("type")
	head := reader{b: r.bytes(math.MaxInt32, "head")}
	if r.err != nil {
		return nil, r.err
	}
	st := &stableCheckpoint{}
	st.seq = head.u64("seq")
	st.index = head.u64("index")
	st.dedup = head.bytes(math.MaxInt32, "executed requests")
	st.cert = head.list(len(c.q.members), "certificate")
	if err := head.end("state head"); err != nil {
		return nil, err
	}
	st.data = r.b
	d, err := c.v.checkpointCert(st.cert, st.seq, 0)
	if err != nil {
		return nil, err
	}
	if got := stateDigest(st.seq, st.index, st.data, st.dedup); got != d {
		return st, fmt.Errorf("%w: state for %d has digest %s, the certificate says %s", errStateMismatch, st.seq, got, d)
	}
	st.digest = d
	return st, nil
}

// receiveState installs a stable checkpoint's state sent by a member, if
// it is ahead of this replica.
func (c *Core) receiveState(from consensus.NodeID, data []byte) error {
	st, err := c.decodeState(data)
	if err != nil {
		return fmt.Errorf("state transfer from %d: %w", from, err)
	}
	if st.seq < c.stable.seq || (st.seq <= c.lastExec && !c.rebuilding) {
		return nil
	}
	// Its certificate is a quorum's word on how far the cluster went.
	c.certifiedSince = max(c.certifiedSince, st.seq)
	c.log.Info("bft: installing a peer's state", "from", from, "seq", st.seq, "index", st.index)
	c.stats.StateTransfers++
	if err := c.installState(st); err != nil {
		return fmt.Errorf("state transfer from %d: %w", from, err)
	}
	c.execute()
	return nil
}

// installState replaces the replicated state with a stable checkpoint's
// and delivers its snapshot to the application.
func (c *Core) installState(st *stableCheckpoint) error {
	executed, err := decodeDedup(st.dedup, len(c.q.members), c.cfg.MaxPendingRequests)
	if err != nil {
		return err
	}
	c.executed = executed
	c.lastExec, c.lastIndex = st.seq, st.index
	c.due = nil
	c.ready.SnapshotDue = nil
	c.dropExecutedPending()
	c.nextReq = max(c.nextReq, c.executed.highest(c.id)+1)
	c.ready.Applies = append(c.ready.Applies, consensus.Apply{Snapshot: &consensus.Snapshot{Index: st.index, Data: st.data}})
	c.rebuilding = false
	c.makeStable(*st)
	// The batches that led to this state are not in this replica's
	// records: only the state itself can stand for them.
	c.ready.Compact = true
	return nil
}
