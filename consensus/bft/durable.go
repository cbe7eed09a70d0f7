package bft

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// What a replica persists, as records the driver stores in order: enough
// that after a restart it never signs something that contradicts what it
// signed before, never forgets a batch it prepared (a view change may need
// it to keep a committed batch), and can rebuild the state it had executed.
//
//	recordView      the view, and whether it is changing to it
//	recordSigned    a message it signed: pre-prepare, prepare, commit,
//	                view change, new view, or its own request
//	recordPrepared  a prepared certificate
//	recordDecided   a batch known committed, with its proof
//	recordStable     a stable checkpoint: certificate and state
//	recordStableCert a later stable checkpoint: its certificate alone
//	recordRejoin     the store replaced a lost one: rejoin (rejoin.go)
//	recordRejoined   that rejoin is over
//
// When a checkpoint becomes stable the core appends its certificate, and
// only once the records appended since the last compaction reach
// Config.CompactionBytes asks (Ready.Compact) for all records to be
// replaced by the few that still matter, the whole state among them: the
// state is as large as the application's (1.5 MB for the key-value
// guest), and a busy cluster makes several checkpoints stable a second.
// A restart rebuilds the later checkpoint's state by re-executing the
// decided batches stored after the older one's (see restoreStableCert).
type recordKind byte

const (
	recordView recordKind = iota + 1
	recordSigned
	recordPrepared
	recordDecided
	recordStable
	recordStableCert
	recordRejoin
	recordRejoined
)

func encodeViewRecord(view uint64, changing bool) []byte {
	w := writer{b: []byte{byte(recordView)}}
	w.u64(view)
	if changing {
		w.u8(1)
	} else {
		w.u8(0)
	}
	return w.b
}

func encodeSignedRecord(raw []byte) []byte {
	w := writer{b: []byte{byte(recordSigned)}}
	w.raw(raw)
	return w.b
}

func encodePreparedRecord(cert *preparedCert) []byte {
	w := writer{b: []byte{byte(recordPrepared)}}
	cert.encode(&w)
	return w.b
}

func encodeDecidedRecord(p *decidedProof) []byte {
	w := writer{b: []byte{byte(recordDecided)}}
	w.raw(encodeDecidedProof(p))
	return w.b
}

func encodeStableRecord(st *stableCheckpoint) []byte {
	w := writer{b: []byte{byte(recordStable)}}
	w.raw(encodeStateHead(st))
	w.raw(st.data)
	return w.b
}

func encodeStableCertRecord(st *stableCheckpoint) []byte {
	w := writer{b: []byte{byte(recordStableCert)}}
	w.u64(st.seq)
	w.u64(st.index)
	w.list(st.cert)
	return w.b
}

// recordsSize is what records count toward Config.CompactionBytes.
func recordsSize(records [][]byte) int {
	n := 0
	for _, rec := range records {
		n += len(rec)
	}
	return n
}

// durableState is the whole of what must survive a restart, for a
// compaction.
func (c *Core) durableState() [][]byte {
	var recs [][]byte
	if c.rejoin != nil {
		recs = append(recs, RejoinRecord(c.rejoin.incarnation))
	}
	if c.stable.seq > 0 {
		recs = append(recs, encodeStableRecord(&c.stable))
	}
	recs = append(recs, encodeViewRecord(c.view, c.changing))
	for _, seq := range slices.Sorted(maps.Keys(c.certs)) {
		recs = append(recs, encodePreparedRecord(c.certs[seq]))
	}
	for _, seq := range slices.Sorted(maps.Keys(c.decided)) {
		if seq > c.stable.seq {
			recs = append(recs, encodeDecidedRecord(c.proofs[seq]))
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(c.signed), compareSignKeys) {
		recs = append(recs, encodeSignedRecord(c.signed[k].raw))
	}
	if c.changing {
		recs = append(recs, encodeSignedRecord(c.ownVC))
	} else if c.newView != nil && c.q.primary(c.view) == c.id {
		recs = append(recs, encodeSignedRecord(c.newView))
	}
	for _, k := range slices.SortedFunc(maps.Keys(c.pending), compareKeys) {
		if k.origin == c.id {
			recs = append(recs, encodeSignedRecord(c.pending[k].raw))
		}
	}
	return recs
}

// restore rebuilds the core from its records, then re-executes the
// batches decided since the stored state: the first Ready delivers that
// state's snapshot and those entries again, since the application starts
// from nothing. Records of a later stable checkpoint's certificate move
// the window there at once; the state is rebuilt as execution reaches it.
func (c *Core) restore(records [][]byte) error {
	for i, rec := range records {
		if len(rec) == 0 {
			return fmt.Errorf("record %d: %w: empty", i, errMalformed)
		}
		var err error
		switch recordKind(rec[0]) {
		case recordView:
			r := reader{b: rec[1:]}
			c.view, c.changing = r.u64("view"), r.u8("changing") == 1
			err = r.end("view record")
		case recordSigned:
			err = c.restoreSigned(rec[1:])
		case recordPrepared:
			err = c.restorePrepared(rec[1:])
		case recordDecided:
			// Its commits are taken as they were before the restart, on
			// their senders' word: a faulty member's bad signature may be
			// among them, and this replica re-executes the batch all the
			// same (a restart rebuilding its state from the batches before
			// its stable checkpoint must), proving it to others only once
			// checked (provable).
			var p *decidedProof
			if p, err = c.v.decodeDecidedProof(rec[1:], 0, false); err == nil && p.pp.Seq > c.stable.seq {
				c.decided[p.pp.Seq], c.proofs[p.pp.Seq] = p.pp, p
			}
		case recordStable:
			c.compacted = len(rec)
			err = c.restoreStable(rec[1:])
		case recordStableCert:
			err = c.restoreStableCert(rec[1:])
		case recordRejoin, recordRejoined:
			err = c.restoreRejoin(rec[1:], recordKind(rec[0]) == recordRejoin)
		default:
			err = fmt.Errorf("%w: record kind %d", errMalformed, rec[0])
		}
		if err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
		if recordKind(rec[0]) != recordStable {
			c.appended += len(rec)
		}
	}
	// The records are stored already: a compaction now would write them
	// again.
	c.ready.Compact = false
	c.rebuilding = c.lastExec < c.stable.seq
	if c.rebuilding && c.fetch != nil {
		// The stored state was damaged: the batches after it cannot be
		// re-executed, and the state to fetch is the latest stable one.
		c.startFetch(c.stable.seq, c.stable.cert, false)
	}
	for k, s := range c.signed {
		if k.view != c.view {
			delete(c.signed, k)
		} else if k.typ == msgPrePrepare {
			if e, err := c.v.decodeRecord(s.raw); err == nil {
				sl := c.slot(k.seq)
				sl.pp, sl.ppRaw = e.body.(*prePrepare), s.raw
			}
		}
	}
	for _, cert := range c.certs {
		for _, r := range cert.pp.requests {
			if r.Origin == c.id {
				c.nextReq = max(c.nextReq, r.Seq+1)
			}
		}
	}
	c.nextSeq = max(c.stable.seq, c.lastExec) + 1
	if c.fetch != nil {
		c.nextSeq = max(c.nextSeq, c.fetch.seq+1)
	}
	for k := range c.signed {
		if k.typ == msgPrePrepare {
			c.nextSeq = max(c.nextSeq, k.seq+1)
		}
	}
	c.dropExecutedPending()
	c.armViewChangeTimer()
	if len(records) > 0 {
		// What was decided while this replica was down, it can only
		// learn by asking.
		c.askUntil = c.cfg.RequestTimeoutTicks
		c.restarted = true
		if c.stable.seq > 0 {
			c.voteForStable()
		}
	}
	c.execute()
	return nil
}

func (c *Core) restoreSigned(raw []byte) error {
	e, err := c.v.decodeRecord(raw)
	if err != nil {
		return err
	}
	if e.from != c.id {
		return fmt.Errorf("%w: a record of a message signed by %d", errInvalid, e.from)
	}
	switch b := e.body.(type) {
	case *request:
		c.nextReq = max(c.nextReq, b.Seq+1)
		c.holdOwn(b, raw)
	case *prePrepare:
		c.signed[signKey{msgPrePrepare, b.View, b.Seq}] = signedMsg{digest: b.digest, raw: raw}
	case *vote:
		c.signed[signKey{e.typ, b.View, b.Seq}] = signedMsg{digest: b.Digest, raw: raw}
	case *viewChange:
		c.ownVC = raw
		c.vcs[c.id] = e
	case *newView:
		c.newView = raw
	}
	return nil
}

func (c *Core) restorePrepared(b []byte) error {
	r := reader{b: b}
	cert := readPreparedCert(&r, len(c.q.members))
	if err := r.end("prepared record"); err != nil {
		return err
	}
	if err := c.v.preparedCert(&cert, 0); err != nil {
		return err
	}
	if old, ok := c.certs[cert.pp.Seq]; !ok || old.pp.View < cert.pp.View {
		c.certs[cert.pp.Seq] = &cert
	}
	return nil
}

// restoreStableCert takes a stable checkpoint whose certificate alone was
// stored, later than the one whose state was: the core holds what it held
// then (the window moves up to it, and the agreement below it is
// forgotten), except its state, which it rebuilds by re-executing the
// decided batches stored since the earlier state (rebuilding, see
// SnapshotTaken). Those batches are stored before the certificate: each
// was persisted when decided, before it was executed, and the checkpoint
// became stable only once this replica had executed through it.
func (c *Core) restoreStableCert(b []byte) error {
	r := reader{b: b}
	seq, index := r.u64("seq"), r.u64("index")
	cert := r.list(len(c.q.members), "certificate")
	if err := r.end("stable certificate record"); err != nil {
		return err
	}
	d, err := c.v.checkpointCert(cert, seq, 0)
	if err != nil {
		return err
	}
	if seq <= c.stable.seq {
		return nil
	}
	c.stable = stableCheckpoint{checkpointState: checkpointState{seq: seq, index: index, digest: d}, cert: cert}
	c.forgetThrough(seq)
	return nil
}

// restoreStable installs the stored stable checkpoint. One whose
// certificate holds but whose state does not match it was damaged after
// its record's checksum was computed (in memory before it was stored):
// the members that signed the certificate have that state, so the replica
// fetches it from them rather than refuse to start or run from the wrong
// one.
func (c *Core) restoreStable(b []byte) error {
	st, err := c.decodeState(b)
	if errors.Is(err, errStateMismatch) {
		c.log.Error("bft: the stored stable checkpoint does not match its certificate; fetching the certified state from its signers", "seq", st.seq, "err", err)
		c.startFetch(st.seq, st.cert, false)
		return nil
	}
	if err != nil {
		return err
	}
	return c.installState(st)
}
