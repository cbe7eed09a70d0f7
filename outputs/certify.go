package outputs

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/synodvm/synod/consensus"
)

// A Byzantine cluster performs an output only with a certificate: f+1
// replicas' signatures over the same digest, so at least one correct
// replica computed it. Every replica signs each output it computes and
// sends the signature to the output's node; that node holds its own
// outputs, in sequence order, until enough signatures match its own
// digest. A faulty replica can withhold or forge nothing that way: its
// signature over a wrong digest matches no correct one and is counted.
//
// Only outputs that reach someone outside the cluster need a certificate:
// what a client, the operator's console or a disk server receives. Listen
// and Refill act on the node itself (a port opened, random bytes proposed
// as input, which the ordering protocol then checks like any input), so
// they are performed at once, also while a restarted node replays.

// Limits on what the certifier keeps, so that a faulty member cannot make
// it grow without bound.
const (
	// maxHeldVotes bounds the outputs for which signatures that arrived
	// before this node computed the output are kept. Dropped ones are
	// asked for again once the output waits.
	maxHeldVotes = 1 << 16
	// signedHistory is how many of its signatures for each member a node
	// keeps to send again when that member asks.
	signedHistory = 1 << 14
	// recordsPerMessage bounds one message of signatures (104 bytes each).
	recordsPerMessage = 1024
	// resendAfter is how long an output waits for its certificate before
	// the node asks the others to send their signatures again: a
	// signature sent while the transport was congested or the node down
	// was dropped.
	resendAfter = 500 * time.Millisecond
)

// Message kinds between certifiers.
const (
	msgSignatures byte = 'S'
	msgResend     byte = 'R'
)

const signatureRecordSize = 8 + sha256.Size + ed25519.SignatureSize

// CertifierConfig says who signs and who is trusted.
type CertifierConfig struct {
	Self consensus.NodeID
	// ClusterID is part of every signed statement, so that a signature
	// from one cluster certifies nothing in another that shares a key.
	ClusterID string
	Key       ed25519.PrivateKey
	// Members are every member's public key, this node's included.
	Members map[consensus.NodeID]ed25519.PublicKey
	// Send carries one message to another member. It may drop it: an
	// output left waiting asks again.
	Send func(to consensus.NodeID, msg []byte) error
	// SignWrongDigests makes this node a faulty member that signs a wrong
	// digest for every output: for fault-injection tests only.
	SignWrongDigests bool
	Logger           *slog.Logger
	// Now is the clock an output's wait is measured on (default
	// time.Now); the simulator gives its virtual one.
	Now func() time.Time
}

// Certifier signs this node's view of every output and certifies the
// outputs addressed to it. Safe for concurrent use: the router holds and
// signs from the node's goroutine, messages arrive on the transport's.
type Certifier struct {
	cfg    CertifierConfig
	quorum int // f+1 of n = 3f+1

	mu      sync.Mutex
	waiting []heldOutput
	// votes are verified signatures for outputs addressed here, by
	// sequence number and signer.
	votes map[uint64]map[consensus.NodeID]vote
	// through is the highest sequence number of an output addressed here
	// that was held; votes at or below it for no held output are stale.
	through uint64
	// signed keeps this node's recent signature records for each member.
	signed     map[consensus.NodeID][][]byte
	lastResend time.Time

	certified, mismatched, invalid atomic.Uint64
}

type heldOutput struct {
	o       Output
	digest  [sha256.Size]byte
	own     []byte // this node's signature
	perform func(Output, Certificate)
	since   time.Time
}

// vote is one member's signature over the digest it computed. It is
// checked only when it could count: an output needs f signatures besides
// its node's own, and n-1 arrive.
type vote struct {
	digest    [sha256.Size]byte
	signature []byte
	checked   bool
}

// Signature is one member's signature of an output's statement.
type Signature struct {
	Node      consensus.NodeID
	Signature []byte
}

// Certificate is f+1 members' signatures over one output: whoever holds
// the members' public keys can check that a correct replica computed it.
type Certificate []Signature

// NewCertifier checks cfg and returns a certifier for a cluster of
// len(cfg.Members) = 3f+1 members.
func NewCertifier(cfg CertifierConfig) (*Certifier, error) {
	n := len(cfg.Members)
	if n < 4 {
		return nil, fmt.Errorf("certifier: %d members; a Byzantine cluster has at least 4", n)
	}
	if _, ok := cfg.Members[cfg.Self]; !ok {
		return nil, fmt.Errorf("certifier: node %d is not a member", cfg.Self)
	}
	if len(cfg.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("certifier: no ed25519 private key")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Certifier{
		cfg:    cfg,
		quorum: certificateQuorum(n),
		votes:  map[uint64]map[consensus.NodeID]vote{},
		signed: map[consensus.NodeID][][]byte{},
	}, nil
}

// certificateQuorum is f+1 for a cluster of n = 3f+1 members: the fewest
// signers among whom one is correct.
func certificateQuorum(n int) int { return (n-1)/3 + 1 }

func (c *Certifier) statement(seq uint64, target consensus.NodeID, digest [sha256.Size]byte) []byte {
	return statement(c.cfg.ClusterID, seq, target, digest)
}

// statement is what a signature covers.
func statement(clusterID string, seq uint64, target consensus.NodeID, digest [sha256.Size]byte) []byte {
	b := append([]byte("synod output\x00"), clusterID...)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = binary.BigEndian.AppendUint64(b, uint64(target))
	return append(b, digest[:]...)
}

// NeedsCertificate reports whether an action reaches someone outside the
// cluster, and so is performed only with a certificate.
func NeedsCertificate(a Action) bool {
	switch a.(type) {
	case Listen, Refill:
		return false
	}
	return true
}

// Sign signs outputs addressed to other members and sends each member
// its signatures.
func (c *Certifier) Sign(outs []Output) {
	batches := map[consensus.NodeID][]byte{}
	for _, o := range outs {
		if o.Node == c.cfg.Self || !NeedsCertificate(o.Action) {
			continue
		}
		if _, ok := c.cfg.Members[o.Node]; !ok {
			continue
		}
		digest := Digest(o)
		if c.cfg.SignWrongDigests {
			digest[0] ^= 0xff
		}
		record := binary.BigEndian.AppendUint64(make([]byte, 0, signatureRecordSize), o.Seq)
		record = append(record, digest[:]...)
		record = append(record, ed25519.Sign(c.cfg.Key, c.statement(o.Seq, o.Node, digest))...)
		c.remember(o.Node, record)
		b := batches[o.Node]
		if b == nil {
			b = []byte{msgSignatures}
		}
		b = append(b, record...)
		batches[o.Node] = b
		if len(b) >= 1+recordsPerMessage*signatureRecordSize {
			c.send(o.Node, b)
			delete(batches, o.Node)
		}
	}
	for _, to := range slices.Sorted(maps.Keys(batches)) { // in one order, for the simulator's same runs
		c.send(to, batches[to])
	}
}

func (c *Certifier) remember(to consensus.NodeID, record []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := append(c.signed[to], record)
	if len(h) > signedHistory {
		h = h[len(h)-signedHistory:]
	}
	c.signed[to] = h
}

func (c *Certifier) send(to consensus.NodeID, msg []byte) {
	if err := c.cfg.Send(to, msg); err != nil {
		c.cfg.Logger.Debug("certifier: message to a member not sent; it will ask again", "to", to, "err", err)
	}
}

// Hold keeps an output addressed to this node until it is certified, then
// calls perform with it and its certificate, in sequence order with the
// others held. An output already held is held once: a node repeats an
// owed output until its acknowledgement commits (Router.Repeat), and each
// copy queued would wait behind the last, the signatures that certified
// the first being spent.
func (c *Certifier) Hold(o Output, perform func(Output, Certificate)) {
	c.mu.Lock()
	held := c.isWaiting(o.Seq)
	c.mu.Unlock()
	if held {
		return
	}
	digest := Digest(o)
	own := ed25519.Sign(c.cfg.Key, c.statement(o.Seq, o.Node, digest))
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waiting = append(c.waiting, heldOutput{o: o, digest: digest, own: own, perform: perform, since: c.cfg.Now()})
	c.through = max(c.through, o.Seq)
	c.release()
	if len(c.votes) > maxHeldVotes/2 {
		c.dropStaleVotes()
	}
}

// Withdraw stops holding the outputs done reports, and performs those
// behind them that are certified. It is for outputs the replicated state
// no longer waits for: console output an earlier life of this node
// performed and acknowledged, which it repeated after a restart. The
// members that signed it may have restarted since and forgotten their
// signatures, and an output that can never be certified would hold every
// later one back.
func (c *Certifier) Withdraw(done func(Output) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waiting = slices.DeleteFunc(c.waiting, func(h heldOutput) bool {
		if !done(h.o) {
			return false
		}
		delete(c.votes, h.o.Seq)
		return true
	})
	c.release()
}

// dropStaleVotes forgets votes for outputs at or below through that are
// not waiting: performed, or never addressed here (a faulty member's).
func (c *Certifier) dropStaleVotes() {
	for seq := range c.votes {
		if seq <= c.through && !c.isWaiting(seq) {
			delete(c.votes, seq)
		}
	}
}

// release performs the waiting outputs from the first on, while each has
// its certificate. Called with mu held, so outputs are performed in order.
func (c *Certifier) release() {
	for len(c.waiting) > 0 {
		h := c.waiting[0]
		cert := Certificate{{Node: c.cfg.Self, Signature: h.own}}
		votes := c.votes[h.o.Seq]
		for _, from := range slices.Sorted(maps.Keys(votes)) {
			v := votes[from]
			if v.digest == h.digest && len(cert) == c.quorum {
				continue // enough already: left unchecked
			}
			if !v.checked && !ed25519.Verify(c.cfg.Members[from], c.statement(h.o.Seq, c.cfg.Self, v.digest), v.signature) {
				c.invalid.Add(1)
				delete(votes, from)
				continue
			}
			v.checked = true
			votes[from] = v
			if v.digest == h.digest {
				cert = append(cert, Signature{Node: from, Signature: v.signature})
				continue
			}
			c.mismatched.Add(1)
			c.cfg.Logger.Warn("certifier: a member signed another digest for an output addressed here",
				"member", from, "seq", h.o.Seq)
			delete(votes, from)
		}
		if len(cert) < c.quorum {
			return
		}
		delete(c.votes, h.o.Seq)
		c.waiting[0] = heldOutput{}
		c.waiting = c.waiting[1:]
		c.certified.Add(1)
		h.perform(h.o, cert)
	}
}

// Receive takes one message from member from: signatures for outputs
// addressed here, or a request to send this node's signatures again.
func (c *Certifier) Receive(from consensus.NodeID, msg []byte) {
	if _, ok := c.cfg.Members[from]; !ok || from == c.cfg.Self || len(msg) == 0 {
		c.invalid.Add(1)
		return
	}
	switch msg[0] {
	case msgSignatures:
		c.receiveSignatures(from, msg[1:])
	case msgResend:
		if len(msg) != 9 {
			c.invalid.Add(1)
			return
		}
		c.resendTo(from, binary.BigEndian.Uint64(msg[1:]))
	default:
		c.invalid.Add(1)
	}
}

func (c *Certifier) receiveSignatures(from consensus.NodeID, records []byte) {
	if len(records)%signatureRecordSize != 0 {
		c.invalid.Add(1)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for r := records; len(r) > 0; r = r[signatureRecordSize:] {
		seq := binary.BigEndian.Uint64(r)
		v := vote{signature: slices.Clone(r[8+sha256.Size : signatureRecordSize])}
		copy(v.digest[:], r[8:])
		if seq <= c.through && !c.isWaiting(seq) {
			continue // performed already, or never addressed here
		}
		votes := c.votes[seq]
		if votes == nil {
			if len(c.votes) >= maxHeldVotes {
				continue
			}
			votes = map[consensus.NodeID]vote{}
			c.votes[seq] = votes
		}
		votes[from] = v
	}
	c.release()
}

func (c *Certifier) isWaiting(seq uint64) bool {
	for _, h := range c.waiting {
		if h.o.Seq == seq {
			return true
		}
	}
	return false
}

// resendTo sends member to this node's signatures for it from sequence
// number from on.
func (c *Certifier) resendTo(to consensus.NodeID, from uint64) {
	c.mu.Lock()
	var records [][]byte
	for _, r := range c.signed[to] {
		if binary.BigEndian.Uint64(r) >= from {
			records = append(records, r)
		}
	}
	c.mu.Unlock()
	for len(records) > 0 {
		n := min(len(records), recordsPerMessage)
		msg := []byte{msgSignatures}
		for _, r := range records[:n] {
			msg = append(msg, r...)
		}
		c.send(to, msg)
		records = records[n:]
	}
}

// Tick asks the other members to send their signatures again when the
// first waiting output has waited resendAfter, at most once per
// resendAfter; the caller calls it periodically.
func (c *Certifier) Tick(now time.Time) {
	c.mu.Lock()
	if len(c.waiting) == 0 || now.Sub(c.waiting[0].since) < resendAfter || now.Sub(c.lastResend) < resendAfter {
		c.mu.Unlock()
		return
	}
	c.lastResend = now
	seq := c.waiting[0].o.Seq
	c.mu.Unlock()
	msg := binary.BigEndian.AppendUint64([]byte{msgResend}, seq)
	for _, id := range slices.Sorted(maps.Keys(c.cfg.Members)) {
		if id != c.cfg.Self {
			c.send(id, msg)
		}
	}
}

// CertifierCounts are what a certifier has seen.
type CertifierCounts struct {
	// Certified outputs were performed with f+1 matching signatures.
	Certified uint64 `json:"certified"`
	// Waiting outputs addressed here have no certificate yet.
	Waiting int `json:"waiting"`
	// Mismatched signatures were valid but over another digest than this
	// node's: a faulty member, or this node's own replica diverged.
	Mismatched uint64 `json:"mismatched"`
	// Invalid messages did not verify or parse.
	Invalid uint64 `json:"invalid"`
}

// Counts returns the certifier's counters.
func (c *Certifier) Counts() CertifierCounts {
	c.mu.Lock()
	waiting := len(c.waiting)
	c.mu.Unlock()
	return CertifierCounts{Certified: c.certified.Load(), Waiting: waiting, Mismatched: c.mismatched.Load(), Invalid: c.invalid.Load()}
}

// SignOutput is one member's signature of o, as a certificate holds it.
func SignOutput(clusterID string, key ed25519.PrivateKey, o Output) []byte {
	return ed25519.Sign(key, statement(clusterID, o.Seq, o.Node, Digest(o)))
}

// ErrNotCertified is returned by Verify for an output whose certificate
// does not hold f+1 valid signatures of distinct members.
var ErrNotCertified = errors.New("output not certified")

// Verify checks that cert holds valid signatures of at least f+1
// distinct members of a cluster of len(members) = 3f+1 over o, so that a
// correct replica computed it. It is what a party outside the cluster (a
// proxy, a disk server) runs before it acts on an output.
func Verify(clusterID string, members map[consensus.NodeID]ed25519.PublicKey, o Output, cert Certificate) error {
	quorum := certificateQuorum(len(members))
	msg := statement(clusterID, o.Seq, o.Node, Digest(o))
	signed := map[consensus.NodeID]bool{}
	for _, s := range cert {
		key, ok := members[s.Node]
		if ok && !signed[s.Node] && ed25519.Verify(key, msg, s.Signature) {
			signed[s.Node] = true
		}
	}
	if len(signed) < quorum {
		return fmt.Errorf("%w: %s carries %d valid signatures of members, %d needed", ErrNotCertified, o, len(signed), quorum)
	}
	return nil
}
