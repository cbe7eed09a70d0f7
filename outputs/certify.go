package outputs

import (
	"cmp"
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
	"github.com/synodvm/synod/internal/signing"
)

// A Byzantine cluster performs an output only with a certificate: f+1
// replicas' signatures over groups holding the same digest, so at least
// one correct replica computed it. Every replica signs the outputs it
// computes, one signature per group (group.go), and sends the group to
// the nodes its outputs are addressed to; each node holds its own
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
	// signedHistory is how many outputs' worth of its signed groups for
	// each member a node keeps to send again when that member asks.
	signedHistory = 1 << 14
	// maxMessage bounds one message of signed groups, in bytes.
	maxMessage = 1 << 17
	// flushAfter bounds how long an output waits to be signed while the
	// node keeps running (Flush).
	flushAfter = time.Millisecond
	// resendAfter is how long an output waits for its certificate before
	// the node asks the others to send their signatures again: a
	// signature sent while the transport was congested or the node down
	// was dropped.
	resendAfter = 500 * time.Millisecond
)

// Message kinds between certifiers.
const (
	msgGroups byte = 'G'
	msgResend byte = 'R'
)

// A signed group travels as the number of its outputs (2 bytes), each
// output's target, sequence number and digest, and the signature.
const (
	groupRecordSize   = 8 + 8 + sha256.Size
	groupOverheadSize = 2 + ed25519.SignatureSize
)

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
	keys   signing.Members

	mu      sync.Mutex
	waiting []*heldOutput
	// pending are the outputs computed and not signed yet, and since
	// when the first has waited.
	pending      []pendingOutput
	pendingSince time.Time
	// votes are members' signed digests for outputs addressed here, by
	// sequence number and signer.
	votes map[uint64]map[consensus.NodeID]vote
	// through is the highest sequence number of an output addressed here
	// that was held; votes at or below it for no held output are stale.
	through uint64
	// signed keeps this node's recent signed groups for each member.
	signed     map[consensus.NodeID]*signedHistoryOf
	lastResend time.Time
	// order is voteOrder's slice, reused.
	order []consensus.NodeID

	certified, mismatched, invalid atomic.Uint64
}

type heldOutput struct {
	o      Output
	digest hash
	// own is this node's signature, once its group is signed.
	own     vote
	perform func(Output, Certificate)
	since   time.Time
}

// pendingOutput is one output to sign: for another node, or this node's
// own held one.
type pendingOutput struct {
	target consensus.NodeID
	seq    uint64
	digest hash
	held   *heldOutput
}

// signedGroup is one member's signature over a group of outputs that
// holds some for this node. It is checked once, when the first of its outputs could count,
// and then counts for all of them.
type signedGroup struct {
	from      consensus.NodeID
	size      uint32
	root      hash
	signature []byte
	checked   bool
	valid     bool
}

// vote is one member's digest of one output and the proof that its
// signed group holds it. Only the proof is kept of the group, so a vote
// costs at most maxProofPath hashes however large its group.
type vote struct {
	digest hash
	group  *signedGroup
	index  uint32
	path   []hash
}

func (v vote) signature() Signature {
	return Signature{Node: v.group.from, Signature: v.group.signature, Group: v.group.size, Index: v.index, Path: v.path}
}

// signedHistoryOf is what a node keeps of the groups it signed for one
// member: each group's message record and last sequence number.
type signedHistoryOf struct {
	groups  []sentGroup
	outputs int
}

type sentGroup struct {
	last   uint64
	size   int
	record []byte
}

// Signature is one member's signature over a group of outputs, with the
// proof that places one output in it: the group's size, the output's
// index there, and the hashes from its leaf to the root.
type Signature struct {
	Node      consensus.NodeID
	Signature []byte
	Group     uint32
	Index     uint32
	Path      [][sha256.Size]byte
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
	keys, err := signing.ExpandMembers(cfg.Members)
	if err != nil {
		return nil, fmt.Errorf("certifier: %w", err)
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
		keys:   keys,
		votes:  map[uint64]map[consensus.NodeID]vote{},
		signed: map[consensus.NodeID]*signedHistoryOf{},
	}, nil
}

// certificateQuorum is f+1 for a cluster of n = 3f+1 members: the fewest
// signers among whom one is correct.
func certificateQuorum(n int) int { return (n-1)/3 + 1 }

// statement is what a signature covers: a group of size outputs, by the
// root of their tree. Each leaf is an output's digest, which names its
// sequence number, target node and bytes.
func statement(clusterID string, size uint32, root hash) []byte {
	b := append([]byte("synod outputs\x00"), clusterID...)
	b = binary.BigEndian.AppendUint32(b, size)
	return append(b, root[:]...)
}

// signGroup signs digests, at most maxGroup of them, as one group.
func (c *Certifier) signGroup(digests []hash) (groupTree, []byte) {
	tree := newGroupTree(digests)
	return tree, signing.Sign(c.cfg.Key, statement(c.cfg.ClusterID, uint32(len(digests)), tree.root()))
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

// Sign queues the outputs addressed to other members to be signed at
// the next Flush.
func (c *Certifier) Sign(outs []Output) {
	var queued []pendingOutput
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
		queued = append(queued, pendingOutput{target: o.Node, seq: o.Seq, digest: digest})
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queue(queued)
}

// queue adds outputs to sign. Called with mu held.
func (c *Certifier) queue(outs []pendingOutput) {
	if len(outs) == 0 {
		return
	}
	if len(c.pending) == 0 {
		c.pendingSince = c.cfg.Now()
	}
	c.pending = append(c.pending, outs...)
}

// Flush signs the outputs queued since the last flush, maxGroup to a
// signature whatever nodes they are for, and sends each group to the
// other nodes it holds outputs for. The node flushes when it has nothing
// more to run, so that the outputs of a busy stretch share signatures,
// and FlushIfDue bounds how long that stretch delays the first of them.
// Each member groups as its own timing falls: groups need not match
// between members, since each signature carries its own proof.
func (c *Certifier) Flush() {
	c.mu.Lock()
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	sends := map[consensus.NodeID][]sentGroup{}
	for len(pending) > 0 {
		group := pending[:min(len(pending), maxGroup)]
		pending = pending[len(group):]
		digests := make([]hash, len(group))
		for i, p := range group {
			digests[i] = p.digest
		}
		tree, sig := c.signGroup(digests)
		record := appendGroup(nil, group, sig)
		last := map[consensus.NodeID]uint64{}
		for _, p := range group {
			if p.target != c.cfg.Self {
				last[p.target] = max(last[p.target], p.seq)
			}
		}
		for to, seq := range last {
			sends[to] = append(sends[to], sentGroup{last: seq, size: len(group), record: record})
		}
		own := &signedGroup{from: c.cfg.Self, size: uint32(len(group)), root: tree.root(), signature: sig, checked: true, valid: true}
		c.mu.Lock()
		for i, p := range group {
			if p.held != nil {
				p.held.own = vote{digest: p.digest, group: own, index: uint32(i), path: tree.path(i)}
			}
		}
		c.release()
		c.mu.Unlock()
	}
	for _, to := range slices.Sorted(maps.Keys(sends)) { // in one order, for the simulator's same runs
		c.remember(to, sends[to])
		c.sendGroups(to, sends[to])
	}
}

// FlushIfDue flushes when the first output queued has waited flushAfter,
// or a group's worth is queued.
func (c *Certifier) FlushIfDue() {
	c.mu.Lock()
	due := len(c.pending) >= maxGroup || len(c.pending) > 0 && c.cfg.Now().Sub(c.pendingSince) >= flushAfter
	c.mu.Unlock()
	if due {
		c.Flush()
	}
}

func appendGroup(b []byte, group []pendingOutput, signature []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(group)))
	for _, p := range group {
		b = binary.BigEndian.AppendUint64(b, uint64(p.target))
		b = binary.BigEndian.AppendUint64(b, p.seq)
		b = append(b, p.digest[:]...)
	}
	return append(b, signature...)
}

func (c *Certifier) remember(to consensus.NodeID, groups []sentGroup) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.signed[to]
	if h == nil {
		h = &signedHistoryOf{}
		c.signed[to] = h
	}
	for _, g := range groups {
		h.groups = append(h.groups, g)
		h.outputs += g.size
	}
	drop := 0
	for h.outputs > signedHistory {
		h.outputs -= h.groups[drop].size
		drop++
	}
	h.groups = slices.Delete(h.groups, 0, drop)
}

// sendGroups sends groups to member to, as few messages as maxMessage
// allows.
func (c *Certifier) sendGroups(to consensus.NodeID, groups []sentGroup) {
	var msg []byte
	for _, g := range groups {
		if len(msg) > 0 && len(msg)+len(g.record) > maxMessage {
			c.send(to, msg)
			msg = nil
		}
		if msg == nil {
			msg = []byte{msgGroups}
		}
		msg = append(msg, g.record...)
	}
	if msg != nil {
		c.send(to, msg)
	}
}

func (c *Certifier) send(to consensus.NodeID, msg []byte) {
	if err := c.cfg.Send(to, msg); err != nil {
		c.cfg.Logger.Debug("certifier: message to a member not sent; it will ask again", "to", to, "err", err)
	}
}

// Hold keeps outputs addressed to this node until they are certified,
// then calls perform with each and its certificate, in sequence order
// with the others held. This node's own signature of them comes with the
// next Flush. An output already held is held once: a node repeats an
// owed output until its acknowledgement commits (Router.Repeat), and each
// copy queued would wait behind the last, the signatures that certified
// the first being spent.
func (c *Certifier) Hold(outs []Output, perform func(Output, Certificate)) {
	c.mu.Lock()
	var fresh []Output
	for _, o := range outs {
		if !c.isWaiting(o.Seq) && !slices.ContainsFunc(fresh, func(f Output) bool { return f.Seq == o.Seq }) {
			fresh = append(fresh, o)
		}
	}
	c.mu.Unlock()
	if len(fresh) == 0 {
		return
	}
	queued := make([]pendingOutput, len(fresh))
	for i, o := range fresh {
		h := &heldOutput{o: o, digest: Digest(o), perform: perform}
		queued[i] = pendingOutput{target: c.cfg.Self, seq: o.Seq, digest: h.digest, held: h}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	for _, p := range queued {
		p.held.since = now
		c.waiting = append(c.waiting, p.held)
		c.through = max(c.through, p.seq)
	}
	c.queue(queued)
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
	c.waiting = slices.DeleteFunc(c.waiting, func(h *heldOutput) bool {
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

// checked reports whether g's signature is valid, checking it the first
// time. Called with mu held.
func (c *Certifier) checked(g *signedGroup) bool {
	if !g.checked {
		g.checked = true
		g.valid = c.keys[g.from].Verify(statement(c.cfg.ClusterID, g.size, g.root), g.signature)
		if !g.valid {
			c.invalid.Add(1)
		}
	}
	return g.valid
}

// voteOrder is the order release takes votes in: those whose group's
// signature is checked already first, then by signer, so that the votes
// left unchecked once the certificate is full are the ones a check would
// have cost (an ed25519 verification each). The members' groups differ,
// so an output's first vote in signer order is often in a group that no
// earlier output needed, while another member's group holding it was
// checked for one. The order is the same on every run, for the
// simulator. Called with mu held; the slice is reused by the next call.
func (c *Certifier) voteOrder(votes map[consensus.NodeID]vote) []consensus.NodeID {
	c.order = c.order[:0]
	for from := range votes {
		c.order = append(c.order, from)
	}
	slices.SortFunc(c.order, func(a, b consensus.NodeID) int {
		if ca, cb := votes[a].group.checked, votes[b].group.checked; ca != cb {
			if ca {
				return -1
			}
			return 1
		}
		return cmp.Compare(a, b)
	})
	return c.order
}

// release performs the waiting outputs from the first on, while each has
// its certificate. Called with mu held, so outputs are performed in order.
func (c *Certifier) release() {
	for len(c.waiting) > 0 {
		h := c.waiting[0]
		if h.own.group == nil {
			return // this node has not signed it yet
		}
		cert := Certificate{h.own.signature()}
		votes := c.votes[h.o.Seq]
		for _, from := range c.voteOrder(votes) {
			v := votes[from]
			if v.digest == h.digest && len(cert) == c.quorum {
				continue // enough already: left unchecked
			}
			if !c.checked(v.group) {
				delete(votes, from)
				continue
			}
			if v.digest == h.digest {
				cert = append(cert, v.signature())
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
		c.waiting[0] = nil
		c.waiting = c.waiting[1:]
		c.certified.Add(1)
		h.perform(h.o, cert)
	}
}

// Receive takes one message from member from: signed groups of outputs
// addressed here, or a request to send this node's signatures again.
func (c *Certifier) Receive(from consensus.NodeID, msg []byte) {
	if _, ok := c.cfg.Members[from]; !ok || from == c.cfg.Self || len(msg) == 0 {
		c.invalid.Add(1)
		return
	}
	switch msg[0] {
	case msgGroups:
		c.receiveGroups(from, msg[1:])
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

// receivedGroup is one group as a message carries it, its tree built.
type receivedGroup struct {
	signed  *signedGroup
	targets []consensus.NodeID
	seqs    []uint64
	digest  []hash
	tree    groupTree
}

// receiveGroups takes the signed groups of one message, all of them or,
// when one does not parse, none. The trees are built here, outside the
// lock; the signatures are checked only when a vote could count.
func (c *Certifier) receiveGroups(from consensus.NodeID, b []byte) {
	var groups []receivedGroup
	for len(b) > 0 {
		if len(b) < 2 {
			c.invalid.Add(1)
			return
		}
		n := int(binary.BigEndian.Uint16(b))
		size := groupOverheadSize + n*groupRecordSize
		if n == 0 || n > maxGroup || len(b) < size {
			c.invalid.Add(1)
			return
		}
		g := receivedGroup{targets: make([]consensus.NodeID, n), seqs: make([]uint64, n), digest: make([]hash, n)}
		for i, r := 0, b[2:]; i < n; i, r = i+1, r[groupRecordSize:] {
			g.targets[i] = consensus.NodeID(binary.BigEndian.Uint64(r))
			g.seqs[i] = binary.BigEndian.Uint64(r[8:])
			copy(g.digest[i][:], r[16:groupRecordSize])
		}
		g.tree = newGroupTree(g.digest)
		g.signed = &signedGroup{from: from, size: uint32(n), root: g.tree.root(), signature: slices.Clone(b[size-ed25519.SignatureSize : size])}
		groups = append(groups, g)
		b = b[size:]
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, g := range groups {
		for i, seq := range g.seqs {
			if g.targets[i] != c.cfg.Self {
				continue // for another node: a leaf of the tree, no more
			}
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
			votes[from] = vote{digest: g.digest[i], group: g.signed, index: uint32(i), path: g.tree.path(i)}
		}
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

// resendTo sends member to this node's signed groups for it that reach
// sequence number from.
func (c *Certifier) resendTo(to consensus.NodeID, from uint64) {
	c.mu.Lock()
	var groups []sentGroup
	if h := c.signed[to]; h != nil {
		for _, g := range h.groups {
			if g.last >= from {
				groups = append(groups, g)
			}
		}
	}
	c.mu.Unlock()
	c.sendGroups(to, groups)
}

// Tick flushes what the node left unsigned for flushAfter, and asks the
// other members to send their signatures again when the first waiting
// output has waited resendAfter, at most once per resendAfter; the caller
// calls it periodically.
func (c *Certifier) Tick(now time.Time) {
	c.FlushIfDue()
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

// SignOutput is member node's signature of o alone, a group of one, as a
// certificate holds it.
func SignOutput(clusterID string, node consensus.NodeID, key ed25519.PrivateKey, o Output) Signature {
	tree := newGroupTree([]hash{Digest(o)})
	return Signature{Node: node, Signature: signing.Sign(key, statement(clusterID, 1, tree.root())), Group: 1}
}

// VerifyDiskWrite is the check a Byzantine cluster's disk server makes
// of a write as it comes off the wire: its sequence number, offset and
// data, to the disk the server knows itself as, with certBytes
// (AppendCertificate's encoding). The certificate's first signature is
// its target's own (Certifier), which names the node the write was for.
func VerifyDiskWrite(clusterID string, members signing.Members, disk string, seq uint64, offset int64, data, certBytes []byte) error {
	if len(certBytes) == 0 {
		return fmt.Errorf("%w: the write carries no certificate", ErrNotCertified)
	}
	cert, err := ParseCertificate(certBytes)
	if err != nil || len(cert) == 0 {
		return fmt.Errorf("%w: %v", ErrNotCertified, err)
	}
	o := Output{Seq: seq, Node: cert[0].Node, Action: DiskWrite{Disk: disk, Offset: offset, Data: data}}
	return Verify(clusterID, members, o, cert)
}

// ErrNotCertified is returned by Verify for an output whose certificate
// does not hold f+1 valid signatures of distinct members.
var ErrNotCertified = errors.New("output not certified")

// Verify checks that cert holds valid signatures of at least f+1
// distinct members of a cluster of len(members) = 3f+1 over groups that
// hold o, so that a correct replica computed it. It is what a party
// outside the cluster (a proxy, a disk server) runs before it acts on an
// output.
func Verify(clusterID string, members signing.Members, o Output, cert Certificate) error {
	quorum := certificateQuorum(len(members))
	digest := Digest(o)
	signed := map[consensus.NodeID]bool{}
	for _, s := range cert {
		key, ok := members[s.Node]
		if !ok || signed[s.Node] {
			continue
		}
		root, ok := rootFromPath(digest, s.Index, s.Group, s.Path)
		if ok && key.Verify(statement(clusterID, s.Group, root), s.Signature) {
			signed[s.Node] = true
		}
	}
	if len(signed) < quorum {
		return fmt.Errorf("%w: %s carries %d valid signatures of members, %d needed", ErrNotCertified, o, len(signed), quorum)
	}
	return nil
}
