package bft

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/internal/signing"
)

// Digest is a SHA-256 hash: of a batch, or of a checkpoint's state.
type Digest [sha256.Size]byte

func (d Digest) String() string { return fmt.Sprintf("%x", d[:6]) }

// msgType is the first byte of every message.
type msgType byte

const (
	msgRequest msgType = iota + 1
	msgPrePrepare
	msgPrepare
	msgCommit
	msgCheckpoint
	msgViewChange
	msgNewView
	msgStateRequest
	msgFetchDecided
	msgDecided
	// msgStateTransfer travels on the transport's snapshot channel and is
	// not signed: the checkpoint certificate inside it vouches for it.
	msgStateTransfer
	// msgRejoinQuery and msgRejoinAnswer are how a member that lost its
	// store learns how far the cluster went (rejoin.go).
	msgRejoinQuery
	msgRejoinAnswer
)

var msgNames = map[msgType]string{
	msgRequest: "request", msgPrePrepare: "pre-prepare", msgPrepare: "prepare",
	msgCommit: "commit", msgCheckpoint: "checkpoint", msgViewChange: "view-change",
	msgNewView: "new-view", msgStateRequest: "state-request", msgFetchDecided: "fetch-decided", msgDecided: "decided",
	msgStateTransfer: "state-transfer", msgRejoinQuery: "rejoin-query", msgRejoinAnswer: "rejoin-answer",
}

func (t msgType) String() string {
	if s, ok := msgNames[t]; ok {
		return s
	}
	return fmt.Sprintf("type-%d", byte(t))
}

// signDomain starts every signed byte string, so that a signature made
// for this protocol can never be passed off as one for another use of the
// same key (the key also signs libp2p handshakes). The cluster's id
// follows it (signingPrefix): a member of two clusters with one key
// cannot have its messages replayed from one into the other.
const signDomain = "synod-bft/2 "

// signingPrefix is what every signature of a member of cluster covers
// before the message: signDomain and the cluster's id, length first.
func signingPrefix(cluster string) []byte {
	b := binary.AppendUvarint([]byte(signDomain), uint64(len(cluster)))
	return append(b, cluster...)
}

// sigSize is the length of an ed25519 signature.
const sigSize = ed25519.SignatureSize

// A signed message on the wire is
//
//	type(1) from(8) bodyLength(4) body signature(64)
//
// and the signature covers signingPrefix followed by everything before
// it.
// Messages that carry other messages as proof (a view change carries
// prepared certificates, a new view carries view changes) embed them in
// this form, unchanged, so their signatures can be checked again.
const headerSize = 1 + 8 + 4

// envelope is a decoded, verified signed message.
type envelope struct {
	typ  msgType
	from consensus.NodeID
	raw  []byte // the whole message as received, signature included
	body any    // *request, *prePrepare, *vote, *checkpoint, *viewChange, *newView, *stateRequest, *rejoinQuery, *rejoinAnswer
	// unchecked is set when the message's own signature was not checked:
	// a prepare or commit, or a request from its origin, from
	// decodeReceived, or a request received from its origin before.
	unchecked bool
}

// seal encodes body as a message of type typ from id and signs it after
// prefix (signingPrefix).
func seal(prefix []byte, key ed25519.PrivateKey, typ msgType, from consensus.NodeID, body []byte) []byte {
	w := writer{b: make([]byte, 0, headerSize+len(body)+sigSize)}
	w.u8(byte(typ))
	w.u64(uint64(from))
	w.bytes(body)
	sig := signing.Sign(key, signedBytes(prefix, w.b))
	w.raw(sig)
	return w.b
}

// signerOf is the member a message says signed it; raw is one the
// verifier decoded.
func signerOf(raw []byte) consensus.NodeID {
	r := reader{b: raw}
	r.u8("type")
	return consensus.NodeID(r.u64("sender"))
}

func signedBytes(prefix, b []byte) []byte {
	return append(slices.Clip(prefix), b...)
}

// request is what one member proposes at once, signed by it (its
// origin), so a primary can order it but never forge or alter it.
// (Origin, Seq) identifies it: it is executed at most once, and all of
// it. Each of its Items is one proposal and executes as one entry: a
// member gathers the proposals that come while its earlier requests wait
// for a batch into one request (see Core.Propose), since a request costs
// a signature and its checks however little it carries.
type request struct {
	Origin consensus.NodeID
	Seq    uint64
	Items  [][]byte
}

// maxRequestItems bounds the proposals one request carries.
const maxRequestItems = 256

// itemCost is what each proposal counts toward MaxRequestBytes and
// MaxBatchBytes beyond its bytes: every node delivers each as an entry,
// whatever it holds, and counted by its bytes alone a faulty member's
// empty proposals would cost nothing, 262,144 entries a batch at the
// defaults. So a batch holds at most MaxBatchBytes/itemCost entries.
const itemCost = 32

// itemSize is what one proposal of data counts.
func itemSize(data []byte) int { return len(data) + itemCost }

// size is what the proposals count, which MaxRequestBytes bounds.
func (r *request) size() int {
	n := 0
	for _, it := range r.Items {
		n += itemSize(it)
	}
	return n
}

type requestKey struct {
	origin consensus.NodeID
	seq    uint64
}

func (r *request) key() requestKey { return requestKey{r.Origin, r.Seq} }

// prePrepare is the primary's proposal of a batch of requests (each a
// whole signed request message) for one sequence number of its view.
type prePrepare struct {
	View, Seq uint64
	Requests  [][]byte
	// decoded alongside Requests when the message is verified:
	requests []*request
	digest   Digest
}

// batchDigest identifies a batch: what prepares and commits agree on.
func batchDigest(requests [][]byte) Digest {
	var w writer
	w.list(requests)
	return sha256.Sum256(w.b)
}

// vote is a prepare or a commit: agreement on a batch at (View, Seq).
type vote struct {
	View, Seq uint64
	Digest    Digest
}

// checkpoint says that the sender's state after executing Seq has the
// digest Digest (stateDigest).
type checkpoint struct {
	Seq    uint64
	Digest Digest
}

// preparedCert proves that a batch was prepared at Seq in a view: the
// primary's pre-prepare and quorum−1 matching prepares from other members.
type preparedCert struct {
	PrePrepare []byte
	Prepares   [][]byte
	// decoded:
	pp *prePrepare
}

// viewChange is a member's vote to move to View: its stable checkpoint
// (with the certificate that makes it stable) and every batch it has
// prepared above it, with the highest view in which it prepared each.
type viewChange struct {
	View        uint64
	StableSeq   uint64
	Checkpoints [][]byte // quorum signed checkpoints for StableSeq; empty for 0
	Prepared    []preparedCert
	// decoded:
	stableDigest Digest
}

// newView is the new primary's proof that View may start (a quorum of
// view changes) and its pre-prepares for every sequence number that may
// have committed in an earlier view.
type newView struct {
	View        uint64
	ViewChanges [][]byte
	PrePrepares [][]byte
	// decoded:
	vcs []*envelope
	pps []*prePrepare
}

// decidedProof proves a batch committed: the pre-prepare and a quorum of
// commits for it from one view. A quorum of commits means a correct
// member prepared it in that view, and no other batch can have committed
// at that sequence number in any view.
type decidedProof struct {
	PrePrepare []byte
	Commits    [][]byte
	// decoded:
	pp *prePrepare
}

// stateRequest asks a member for its stable checkpoint's state, at Seq or
// later (msgStateRequest), or for the decided batches from Seq on that it
// can prove (msgFetchDecided).
type stateRequest struct {
	Seq uint64
}

func encodeRequest(r *request) []byte {
	var w writer
	w.u64(uint64(r.Origin))
	w.u64(r.Seq)
	w.list(r.Items)
	return w.b
}

func encodePrePrepare(p *prePrepare) []byte {
	var w writer
	w.u64(p.View)
	w.u64(p.Seq)
	w.list(p.Requests)
	return w.b
}

func encodeVote(v *vote) []byte {
	var w writer
	w.u64(v.View)
	w.u64(v.Seq)
	w.raw(v.Digest[:])
	return w.b
}

func encodeCheckpoint(c *checkpoint) []byte {
	var w writer
	w.u64(c.Seq)
	w.raw(c.Digest[:])
	return w.b
}

func encodeViewChange(v *viewChange) []byte {
	var w writer
	w.u64(v.View)
	w.u64(v.StableSeq)
	w.list(v.Checkpoints)
	w.u32(uint32(len(v.Prepared)))
	for i := range v.Prepared {
		v.Prepared[i].encode(&w)
	}
	return w.b
}

// encode writes a prepared certificate: in view changes, and as a record.
func (c *preparedCert) encode(w *writer) {
	w.bytes(c.PrePrepare)
	w.list(c.Prepares)
}

// readPreparedCert reads what preparedCert.encode wrote, at most
// members prepares.
func readPreparedCert(r *reader, members int) preparedCert {
	return preparedCert{PrePrepare: r.bytes(len(r.b), "pre-prepare"), Prepares: r.list(members, "prepares")}
}

func encodeNewView(n *newView) []byte {
	var w writer
	w.u64(n.View)
	w.list(n.ViewChanges)
	w.list(n.PrePrepares)
	return w.b
}

func encodeStateRequest(s *stateRequest) []byte {
	var w writer
	w.u64(s.Seq)
	return w.b
}

func encodeDecidedProof(p *decidedProof) []byte {
	var w writer
	w.bytes(p.PrePrepare)
	w.list(p.Commits)
	return w.b
}

// rejoinQuery asks a member for its stable checkpoint, on behalf of the
// rejoin numbered Incarnation, while the rejoin's Target is unknown (0);
// then it asks the primary to order up to Target (rejoin.go).
type rejoinQuery struct {
	Incarnation, Target uint64
}

// rejoinAnswer is a member's stable checkpoint, with its certificate, in
// answer to the rejoin numbered Incarnation.
type rejoinAnswer struct {
	Incarnation uint64
	StableSeq   uint64
	Checkpoints [][]byte // quorum signed checkpoints for StableSeq; empty for 0
}

func encodeRejoinQuery(q *rejoinQuery) []byte {
	var w writer
	w.u64(q.Incarnation)
	w.u64(q.Target)
	return w.b
}

func encodeRejoinAnswer(a *rejoinAnswer) []byte {
	var w writer
	w.u64(a.Incarnation)
	w.u64(a.StableSeq)
	w.list(a.Checkpoints)
	return w.b
}
