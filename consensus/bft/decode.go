package bft

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/internal/signing"
)

// Why a message was dropped. Step wraps one of these, and the core counts
// drops by them (Stats).
var (
	errNotMember    = errors.New("bft: sender is not a member")
	errBadSignature = errors.New("bft: bad signature")
	errWrongSender  = errors.New("bft: message signed by another node than the one that sent it")
	errWrongView    = errors.New("bft: message for another view")
	errOutOfWindow  = errors.New("bft: sequence number outside the window")
	errInvalid      = errors.New("bft: message breaks the protocol")
	errConflict     = errors.New("bft: message contradicts one its signer sent before")
)

// verifier decodes messages and checks every signature in them, nested
// proofs included, and the proofs' own consistency (a prepared
// certificate's votes match its pre-prepare, a view change's checkpoint
// certificate is a quorum). What it accepts is internally consistent;
// whether it fits the receiver's state is the core's business.
type verifier struct {
	cfg *Config
	q   quorums
	// keys are the members' public keys, expanded once.
	keys signing.Members
	// prefix is what every signature in the cluster covers first
	// (signingPrefix).
	prefix []byte
	// verified holds the hashes of messages whose signature checked out:
	// a request arrives alone and again in a batch, and votes come back
	// inside certificates, and hashing costs a fraction of checking.
	verified map[Digest]struct{}
	// fromOrigin holds the hashes of requests received from their origin
	// itself, whose signatures were not checked: the transport
	// authenticates its sender, so the origin did send them, and a batch
	// holding one needs no check of it here (see "Fewer requests, each
	// checked once" in docs/byzantine.md).
	fromOrigin map[Digest]struct{}
}

// maxVerified bounds the verified cache; it is emptied when full.
const maxVerified = 1 << 14

// signatureValid checks data's signature by key, remembering the answer
// when it is yes.
func (v *verifier) signatureValid(key *signing.PublicKey, data []byte) bool {
	h := Digest(sha256.Sum256(data))
	if _, ok := v.verified[h]; ok {
		return true
	}
	if !key.Verify(signedBytes(v.prefix, data[:len(data)-sigSize]), data[len(data)-sigSize:]) {
		return false
	}
	v.remember(h)
	return true
}

// remember adds a message's hash to the verified cache.
func (v *verifier) remember(h Digest) { rememberIn(v.verified, h) }

// rememberIn adds h to one of the verifier's caches, emptying it first
// when it is full.
func rememberIn(cache map[Digest]struct{}, h Digest) {
	if len(cache) >= maxVerified {
		clear(cache)
	}
	cache[h] = struct{}{}
}

// requestFromOrigin reports whether a request's exact bytes came from
// its origin itself.
func (v *verifier) requestFromOrigin(raw []byte) bool {
	_, ok := v.fromOrigin[Digest(sha256.Sum256(raw))]
	return ok
}

// heldSignatureValid checks the signature of a prepare, commit or request
// that decodeReceived let through unchecked.
func (v *verifier) heldSignatureValid(from consensus.NodeID, raw []byte) bool {
	key, ok := v.keys[from]
	return ok && v.signatureValid(key, raw)
}

// maxNested bounds how deep signed messages nest: a new view holds view
// changes, which hold prepared certificates, which hold pre-prepares,
// which hold requests.
const maxNested = 4

// decodeOpts says which signatures decodeAt leaves unchecked.
type decodeOpts struct {
	// deferVotes leaves a prepare's or commit's own signature for the
	// core to check (envelope.unchecked), which it does for a prepare
	// only once the vote can complete a quorum (see quorumOf), and for
	// a commit only once it goes out in a decided proof (provable): most
	// votes arrive after their quorum is complete, a commit from its
	// signer needs no proof to count, and a check costs far more than
	// all the rest of a vote's handling.
	deferVotes bool
	// sender is the member the transport says sent the message: a
	// request it signed itself is taken unchecked (envelope.unchecked),
	// since the transport authenticates its sender.
	sender consensus.NodeID
	// vouched says that the requests in the message need no check: it
	// is a record this replica wrote, or a quorum proof (see decodeAt).
	vouched bool
}

// decode decodes a message and checks every signature in it, except
// those of the requests inside quorum proofs (see decodeAt).
func (v *verifier) decode(data []byte) (*envelope, error) {
	return v.decodeAt(data, 0, decodeOpts{})
}

// decodeRecord decodes one of this replica's own records: it checked or
// vouched for every request in it before it wrote it.
func (v *verifier) decodeRecord(data []byte) (*envelope, error) {
	return v.decodeAt(data, 0, decodeOpts{vouched: true})
}

// decodeReceived decodes a message the transport says came from sender,
// leaving unchecked the signature of a prepare or commit and of a
// request sender signed itself (envelope.unchecked).
func (v *verifier) decodeReceived(data []byte, sender consensus.NodeID) (*envelope, error) {
	return v.decodeAt(data, 0, decodeOpts{deferVotes: true, sender: sender})
}

// decodeAt decodes a message at nesting depth depth. Every message nested
// in another is inside a quorum proof (a prepared certificate, a decided
// proof, a new view's view changes and the batches they call for) or is
// a request in a pre-prepare; a quorum proof is vouched for by at least
// one correct member, which took every request in it only once it had
// checked it or received it from its origin, so the requests in it need
// no check. Only a top-level pre-prepare's requests are checked, unless
// verified before or received from their origin.
func (v *verifier) decodeAt(data []byte, depth int, o decodeOpts) (*envelope, error) {
	if depth > maxNested {
		return nil, fmt.Errorf("%w: nested %d deep", errMalformed, depth)
	}
	r := reader{b: data}
	typ := msgType(r.u8("type"))
	from := consensus.NodeID(r.u64("sender"))
	body := r.bytes(math.MaxInt32, "body")
	r.take(sigSize, "signature")
	if err := r.end("message"); err != nil {
		return nil, err
	}
	key, ok := v.keys[from]
	if !ok {
		return nil, fmt.Errorf("%w: %d", errNotMember, from)
	}
	unchecked := (o.deferVotes && (typ == msgPrepare || typ == msgCommit)) || (typ == msgRequest && from == o.sender)
	known := typ == msgRequest && (o.vouched || v.requestFromOrigin(data))
	if !unchecked && !known && !v.signatureValid(key, data) {
		return nil, fmt.Errorf("%w: %s from %d", errBadSignature, typ, from)
	}
	e := &envelope{typ: typ, from: from, raw: data, unchecked: unchecked || known}
	var err error
	switch typ {
	case msgRequest:
		e.body, err = v.decodeRequest(from, body)
	case msgPrePrepare:
		e.body, err = v.decodePrePrepare(from, body, depth, o.vouched)
	case msgPrepare, msgCommit:
		e.body, err = decodeVote(body)
	case msgCheckpoint:
		e.body, err = decodeCheckpoint(body)
	case msgViewChange:
		e.body, err = v.decodeViewChange(from, body, depth)
	case msgNewView:
		e.body, err = v.decodeNewView(from, body, depth)
	case msgDecided:
		e.body, err = v.decodeDecidedProof(body, depth, true)
	case msgStateRequest, msgFetchDecided:
		r := reader{b: body}
		s := &stateRequest{Seq: r.u64("seq")}
		e.body, err = s, r.end("state request")
	case msgRejoinQuery:
		r := reader{b: body}
		q := &rejoinQuery{Incarnation: r.u64("incarnation"), Target: r.u64("target")}
		e.body, err = q, r.end("rejoin query")
	case msgRejoinAnswer:
		e.body, err = v.decodeRejoinAnswer(body, depth)
	default:
		err = fmt.Errorf("%w: unknown type %d", errMalformed, byte(typ))
	}
	if err != nil {
		return nil, fmt.Errorf("%s from %d: %w", typ, from, err)
	}
	return e, nil
}

// decodeNested decodes a message embedded in another and checks its
// type; o leaves signatures unchecked as in decodeAt.
func (v *verifier) decodeNested(data []byte, depth int, want msgType, o decodeOpts) (*envelope, error) {
	e, err := v.decodeAt(data, depth+1, o)
	if err != nil {
		return nil, err
	}
	if e.typ != want {
		return nil, fmt.Errorf("%w: a %s where a %s belongs", errMalformed, e.typ, want)
	}
	return e, nil
}

func (v *verifier) decodeRequest(from consensus.NodeID, body []byte) (*request, error) {
	r := reader{b: body}
	req := &request{
		Origin: consensus.NodeID(r.u64("origin")),
		Seq:    r.u64("request seq"),
		Items:  r.list(maxRequestItems, "items"),
	}
	if err := r.end("request"); err != nil {
		return nil, err
	}
	if req.size() > v.cfg.MaxRequestBytes {
		return nil, fmt.Errorf("%w: request of %d items, %d bytes, limit %d", errInvalid, len(req.Items), req.size(), v.cfg.MaxRequestBytes)
	}
	if req.Origin != from {
		return nil, fmt.Errorf("%w: request of %d signed by %d", errInvalid, req.Origin, from)
	}
	return req, nil
}

func (v *verifier) decodePrePrepare(from consensus.NodeID, body []byte, depth int, vouched bool) (*prePrepare, error) {
	r := reader{b: body}
	p := &prePrepare{View: r.u64("view"), Seq: r.u64("seq"), Requests: r.list(v.cfg.MaxBatchRequests, "requests")}
	if err := r.end("pre-prepare"); err != nil {
		return nil, err
	}
	if from != v.q.primary(p.View) {
		return nil, fmt.Errorf("%w: %d is not the primary of view %d", errInvalid, from, p.View)
	}
	if p.Seq == 0 {
		return nil, fmt.Errorf("%w: sequence number 0", errInvalid)
	}
	seen := map[requestKey]bool{}
	size := 0
	for _, raw := range p.Requests {
		e, err := v.decodeNested(raw, depth, msgRequest, decodeOpts{vouched: vouched})
		if err != nil {
			return nil, fmt.Errorf("request in batch %d: %w", p.Seq, err)
		}
		req := e.body.(*request)
		if seen[req.key()] {
			return nil, fmt.Errorf("%w: request %d/%d twice in batch %d", errInvalid, req.Origin, req.Seq, p.Seq)
		}
		seen[req.key()] = true
		size += req.size()
		p.requests = append(p.requests, req)
	}
	if size > v.cfg.MaxBatchBytes {
		return nil, fmt.Errorf("%w: batch %d holds %d bytes, limit %d", errInvalid, p.Seq, size, v.cfg.MaxBatchBytes)
	}
	p.digest = batchDigest(p.Requests)
	return p, nil
}

func decodeVote(body []byte) (*vote, error) {
	r := reader{b: body}
	v := &vote{View: r.u64("view"), Seq: r.u64("seq"), Digest: r.digest("digest")}
	return v, r.end("vote")
}

func decodeCheckpoint(body []byte) (*checkpoint, error) {
	r := reader{b: body}
	c := &checkpoint{Seq: r.u64("seq"), Digest: r.digest("digest")}
	return c, r.end("checkpoint")
}

// checkpointCert checks that raws are signed checkpoints for seq from a
// quorum of distinct members, all with one digest, and returns it.
func (v *verifier) checkpointCert(raws [][]byte, seq uint64, depth int) (Digest, error) {
	var digest Digest
	signers := map[consensus.NodeID]bool{}
	for i, raw := range raws {
		e, err := v.decodeNested(raw, depth, msgCheckpoint, decodeOpts{vouched: true})
		if err != nil {
			return Digest{}, fmt.Errorf("checkpoint certificate: %w", err)
		}
		c := e.body.(*checkpoint)
		if i == 0 {
			digest = c.Digest
		}
		if c.Seq != seq || c.Digest != digest || signers[e.from] {
			return Digest{}, fmt.Errorf("%w: checkpoint certificate for %d mixes checkpoints or signers", errInvalid, seq)
		}
		signers[e.from] = true
	}
	if len(signers) < v.q.quorum {
		return Digest{}, fmt.Errorf("%w: checkpoint certificate for %d has %d signers, quorum %d", errInvalid, seq, len(signers), v.q.quorum)
	}
	return digest, nil
}

// stableCert checks the certificate a member shows for its stable
// checkpoint at seq (none for the initial state, 0) and returns the
// certified digest.
func (v *verifier) stableCert(raws [][]byte, seq uint64, depth int) (Digest, error) {
	if seq == 0 {
		if len(raws) > 0 {
			return Digest{}, fmt.Errorf("%w: checkpoints for the initial state", errInvalid)
		}
		return Digest{}, nil
	}
	return v.checkpointCert(raws, seq, depth)
}

// preparedCert checks a prepared certificate: a pre-prepare and
// quorum−1 prepares for it from distinct members other than its primary.
func (v *verifier) preparedCert(c *preparedCert, depth int) error {
	e, err := v.decodeNested(c.PrePrepare, depth, msgPrePrepare, decodeOpts{vouched: true})
	if err != nil {
		return fmt.Errorf("prepared certificate: %w", err)
	}
	pp := e.body.(*prePrepare)
	signers := map[consensus.NodeID]bool{}
	for _, raw := range c.Prepares {
		e, err := v.decodeNested(raw, depth, msgPrepare, decodeOpts{vouched: true})
		if err != nil {
			return fmt.Errorf("prepared certificate for %d: %w", pp.Seq, err)
		}
		p := e.body.(*vote)
		if p.View != pp.View || p.Seq != pp.Seq || p.Digest != pp.digest || signers[e.from] || e.from == v.q.primary(pp.View) {
			return fmt.Errorf("%w: prepared certificate for %d has a prepare that does not match", errInvalid, pp.Seq)
		}
		signers[e.from] = true
	}
	if len(signers) < v.q.quorum-1 {
		return fmt.Errorf("%w: prepared certificate for %d has %d prepares, needs %d", errInvalid, pp.Seq, len(signers), v.q.quorum-1)
	}
	c.pp = pp
	return nil
}

func (v *verifier) decodeViewChange(from consensus.NodeID, body []byte, depth int) (*viewChange, error) {
	n := len(v.q.members)
	r := reader{b: body}
	vc := &viewChange{View: r.u64("view"), StableSeq: r.u64("stable seq"), Checkpoints: r.list(n, "checkpoints")}
	for range r.count(int(v.cfg.Window), "prepared certificates") {
		vc.Prepared = append(vc.Prepared, readPreparedCert(&r, n))
	}
	if err := r.end("view change"); err != nil {
		return nil, err
	}
	if vc.View == 0 {
		return nil, fmt.Errorf("%w: view change to view 0", errInvalid)
	}
	d, err := v.stableCert(vc.Checkpoints, vc.StableSeq, depth)
	if err != nil {
		return nil, err
	}
	vc.stableDigest = d
	seqs := map[uint64]bool{}
	for i := range vc.Prepared {
		c := &vc.Prepared[i]
		if err := v.preparedCert(c, depth); err != nil {
			return nil, err
		}
		pp := c.pp
		if pp.View >= vc.View || pp.Seq <= vc.StableSeq || pp.Seq > vc.StableSeq+v.cfg.Window || seqs[pp.Seq] {
			return nil, fmt.Errorf("%w: view change to %d carries a certificate for view %d seq %d (stable %d)", errInvalid, vc.View, pp.View, pp.Seq, vc.StableSeq)
		}
		seqs[pp.Seq] = true
	}
	return vc, nil
}

func (v *verifier) decodeNewView(from consensus.NodeID, body []byte, depth int) (*newView, error) {
	r := reader{b: body}
	nv := &newView{View: r.u64("view"), ViewChanges: r.list(len(v.q.members), "view changes"), PrePrepares: r.list(int(v.cfg.Window), "pre-prepares")}
	if err := r.end("new view"); err != nil {
		return nil, err
	}
	if from != v.q.primary(nv.View) {
		return nil, fmt.Errorf("%w: %d is not the primary of view %d", errInvalid, from, nv.View)
	}
	signers := map[consensus.NodeID]bool{}
	for _, raw := range nv.ViewChanges {
		e, err := v.decodeNested(raw, depth, msgViewChange, decodeOpts{vouched: true})
		if err != nil {
			return nil, err
		}
		if e.body.(*viewChange).View != nv.View || signers[e.from] {
			return nil, fmt.Errorf("%w: new view %d holds a view change for another view or a signer twice", errInvalid, nv.View)
		}
		signers[e.from] = true
		nv.vcs = append(nv.vcs, e)
	}
	if len(signers) < v.q.quorum {
		return nil, fmt.Errorf("%w: new view %d has %d view changes, quorum %d", errInvalid, nv.View, len(signers), v.q.quorum)
	}
	for _, raw := range nv.PrePrepares {
		e, err := v.decodeNested(raw, depth, msgPrePrepare, decodeOpts{vouched: true})
		if err != nil {
			return nil, err
		}
		pp := e.body.(*prePrepare)
		if pp.View != nv.View {
			return nil, fmt.Errorf("%w: new view %d holds a pre-prepare for view %d", errInvalid, nv.View, pp.View)
		}
		nv.pps = append(nv.pps, pp)
	}
	return nv, nil
}

// decodeDecidedProof decodes a decided proof, checking its commits'
// signatures only with checkCommits: a proof another member sent must
// convince, one this replica wrote in its records holds the commits it
// counted on their senders' word as they arrived (checkCommitted), and
// it goes out again only once checked (provable).
func (v *verifier) decodeDecidedProof(body []byte, depth int, checkCommits bool) (*decidedProof, error) {
	r := reader{b: body}
	p := &decidedProof{PrePrepare: r.bytes(math.MaxInt32, "pre-prepare"), Commits: r.list(len(v.q.members), "commits")}
	if err := r.end("decided proof"); err != nil {
		return nil, err
	}
	e, err := v.decodeNested(p.PrePrepare, depth, msgPrePrepare, decodeOpts{vouched: true})
	if err != nil {
		return nil, fmt.Errorf("decided proof: %w", err)
	}
	p.pp = e.body.(*prePrepare)
	signers := map[consensus.NodeID]bool{}
	for _, raw := range p.Commits {
		e, err := v.decodeNested(raw, depth, msgCommit, decodeOpts{vouched: true, deferVotes: !checkCommits})
		if err != nil {
			return nil, fmt.Errorf("decided proof for %d: %w", p.pp.Seq, err)
		}
		c := e.body.(*vote)
		if c.View != p.pp.View || c.Seq != p.pp.Seq || c.Digest != p.pp.digest || signers[e.from] {
			return nil, fmt.Errorf("%w: decided proof for %d has a commit that does not match", errInvalid, p.pp.Seq)
		}
		signers[e.from] = true
	}
	if len(signers) < v.q.quorum {
		return nil, fmt.Errorf("%w: decided proof for %d has %d commits, quorum %d", errInvalid, p.pp.Seq, len(signers), v.q.quorum)
	}
	return p, nil
}

func (v *verifier) decodeRejoinAnswer(body []byte, depth int) (*rejoinAnswer, error) {
	r := reader{b: body}
	a := &rejoinAnswer{Incarnation: r.u64("incarnation"), StableSeq: r.u64("stable seq"), Checkpoints: r.list(len(v.q.members), "checkpoints")}
	if err := r.end("rejoin answer"); err != nil {
		return nil, err
	}
	if _, err := v.stableCert(a.Checkpoints, a.StableSeq, depth); err != nil {
		return nil, err
	}
	return a, nil
}
