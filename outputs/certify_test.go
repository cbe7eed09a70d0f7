package outputs

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/internal/signing"
)

// certifiedCluster is four routers whose certifiers reach each other
// through a network the test controls.
type certifiedCluster struct {
	t       *testing.T
	routers map[consensus.NodeID]*Router
	sent    map[consensus.NodeID]*recordingNet
	public  map[consensus.NodeID]ed25519.PublicKey
	members signing.Members // public, expanded for Verify
	mu      sync.Mutex
	// cut drops every message from a member.
	cut map[consensus.NodeID]bool
	// queued holds messages until deliver, so a test decides the order.
	queued []queuedMessage
}

type queuedMessage struct {
	from, to consensus.NodeID
	msg      []byte
}

// recordingNet is a node's client connections: what it sent on them.
type recordingNet struct {
	mu    sync.Mutex
	sent  [][]byte
	certs []Certificate
	seqs  []uint64
}

func (n *recordingNet) SendCertified(conn entry.ConnID, data []byte, seq uint64, cert Certificate) {
	n.Send(conn, data)
	n.mu.Lock()
	defer n.mu.Unlock()
	n.certs = append(n.certs, cert)
	n.seqs = append(n.seqs, seq)
}

func (n *recordingNet) Listen(uint16) error { return nil }
func (n *recordingNet) Send(_ entry.ConnID, data []byte) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sent = append(n.sent, data)
}
func (n *recordingNet) Close(entry.ConnID)          {}
func (n *recordingNet) Refuse(entry.ConnID, string) {}
func (n *recordingNet) SetServing(bool)             {}
func (n *recordingNet) HangUpAll() int              { return 0 }

func (n *recordingNet) all() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var s []string
	for _, b := range n.sent {
		s = append(s, string(b))
	}
	return s
}

func newCertifiedCluster(t *testing.T, faulty consensus.NodeID) *certifiedCluster {
	c := &certifiedCluster{t: t, public: map[consensus.NodeID]ed25519.PublicKey{}, routers: map[consensus.NodeID]*Router{}, sent: map[consensus.NodeID]*recordingNet{}, cut: map[consensus.NodeID]bool{}}
	keys := map[consensus.NodeID]ed25519.PrivateKey{}
	public := c.public
	for id := consensus.NodeID(1); id <= 4; id++ {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		keys[id], public[id] = priv, pub
	}
	var err error
	c.members, err = signing.ExpandMembers(public)
	require.NoError(t, err)
	for id := consensus.NodeID(1); id <= 4; id++ {
		cert, err := NewCertifier(CertifierConfig{
			Self: id, ClusterID: "test", Key: keys[id], Members: public,
			Send: func(to consensus.NodeID, msg []byte) error {
				c.mu.Lock()
				defer c.mu.Unlock()
				if !c.cut[id] {
					c.queued = append(c.queued, queuedMessage{from: id, to: to, msg: msg})
				}
				return nil
			},
			SignWrongDigests: id == faulty,
		})
		require.NoError(t, err)
		c.sent[id] = &recordingNet{}
		c.routers[id] = &Router{Self: id, Devices: Devices{Net: c.sent[id]}, Certify: cert}
	}
	return c
}

// route routes outs on node id and flushes its signatures, as a node
// that has nothing more to run does.
func (c *certifiedCluster) route(id consensus.NodeID, outs []Output) {
	c.routers[id].Route(outs)
	c.routers[id].Flush()
}

// deliver hands every queued message to its receiver, until none is left.
func (c *certifiedCluster) deliver() {
	for range 100 {
		c.mu.Lock()
		q := c.queued
		c.queued = nil
		c.mu.Unlock()
		if len(q) == 0 {
			return
		}
		for _, m := range q {
			c.routers[m.to].Certify.Receive(m.from, m.msg)
		}
	}
	c.t.Fatal("messages kept coming")
}

func sends(node consensus.NodeID, first uint64, data ...string) []Output {
	var outs []Output
	for i, d := range data {
		outs = append(outs, Output{Seq: first + uint64(i), Node: node, Action: Send{Conn: entry.ConnID{Node: node, Serial: 1}, Data: []byte(d)}})
	}
	return outs
}

func TestCertifiedOutputsArePerformedInOrderOnceFPlusOneSign(t *testing.T) {
	c := newCertifiedCluster(t, 0)
	outs := sends(2, 1, "a", "b", "c")
	c.route(2, outs)
	require.Empty(t, c.sent[2].all(), "nothing is performed on the node's own word")
	c.route(3, outs)
	c.deliver()
	require.Equal(t, []string{"a", "b", "c"}, c.sent[2].all(), "node 3's signatures make f+1 = 2 with node 2's own")
	c.route(1, outs)
	c.route(4, outs)
	c.deliver()
	require.Equal(t, []string{"a", "b", "c"}, c.sent[2].all(), "later signatures perform nothing twice")
	counts := c.routers[2].Certify.Counts()
	require.Equal(t, CertifierCounts{Certified: 3}, counts)
	for _, id := range []consensus.NodeID{1, 3, 4} {
		require.Empty(t, c.sent[id].all(), "outputs are performed on their own node only")
	}
}

func TestSignaturesThatArriveBeforeTheOutputCount(t *testing.T) {
	c := newCertifiedCluster(t, 0)
	outs := sends(1, 1, "x")
	c.route(4, outs)
	c.deliver()
	require.Empty(t, c.sent[1].all())
	c.route(1, outs)
	require.Equal(t, []string{"x"}, c.sent[1].all())
}

func TestAFaultyMemberCannotCertifyAWrongOutputNorBlockARightOne(t *testing.T) {
	c := newCertifiedCluster(t, 4)
	right := sends(1, 1, "right")
	c.route(1, right)
	c.route(4, right) // signs a wrong digest
	c.deliver()
	require.Empty(t, c.sent[1].all(), "a wrong digest is no vote for the right output")
	require.Equal(t, uint64(1), c.routers[1].Certify.Counts().Mismatched)

	c.route(2, right)
	c.deliver()
	require.Equal(t, []string{"right"}, c.sent[1].all(), "one correct member's signature certifies it")

	// A faulty member signs (with its own, valid key) an output that no
	// correct replica computed: the target computed another.
	wrong := sends(1, 2, "forged")
	c.routers[4].Certify.cfg.SignWrongDigests = false
	c.route(4, wrong)
	c.deliver()
	c.route(1, sends(1, 2, "real"))
	require.Equal(t, []string{"right"}, c.sent[1].all())
	require.Equal(t, uint64(2), c.routers[1].Certify.Counts().Mismatched)
}

func TestForgedAndMalformedSignaturesAreRefused(t *testing.T) {
	c := newCertifiedCluster(t, 0)
	outs := sends(1, 1, "x")
	c.route(1, outs)
	c.route(2, outs)
	c.mu.Lock()
	q := c.queued
	c.queued = nil
	c.mu.Unlock()
	require.Len(t, q, 1)
	forged := append([]byte(nil), q[0].msg...)
	forged[len(forged)-1] ^= 1
	target := c.routers[1].Certify
	target.Receive(2, forged)               // bad signature
	target.Receive(3, q[0].msg)             // node 2's signature claimed by node 3
	target.Receive(2, q[0].msg[:10])        // truncated
	target.Receive(9, q[0].msg)             // not a member
	target.Receive(2, []byte{'?', 1, 2})    // unknown kind
	target.Receive(2, []byte{msgResend, 1}) // truncated request
	require.Empty(t, c.sent[1].all())
	require.Equal(t, uint64(6), target.Counts().Invalid)
	target.Receive(2, q[0].msg)
	require.Equal(t, []string{"x"}, c.sent[1].all())
}

func TestAWaitingOutputAsksForLostSignaturesAgain(t *testing.T) {
	c := newCertifiedCluster(t, 0)
	outs := sends(1, 1, "x")
	c.route(1, outs)
	c.route(2, outs)
	c.route(3, outs)
	c.mu.Lock()
	c.queued = nil // lost on the way
	c.mu.Unlock()
	target := c.routers[1].Certify
	target.Tick(time.Now())
	c.deliver()
	require.Empty(t, c.sent[1].all(), "it waits resendAfter before asking")
	target.Tick(time.Now().Add(2 * resendAfter))
	c.deliver()
	require.Equal(t, []string{"x"}, c.sent[1].all())
}

// A node repeats an owed disk output until its completion commits
// (Router.Repeat); the copies must not queue behind each other, each
// waiting for signatures the first one used up.
func TestARepeatedOutputWaitingForItsCertificateIsHeldOnce(t *testing.T) {
	c := newCertifiedCluster(t, 0)
	r := c.routers[1]
	x, y := sends(1, 1, "x"), sends(1, 2, "y")
	for range 3 {
		r.Repeat(x)
		r.Flush()
	}
	require.Equal(t, 1, r.Certify.Counts().Waiting)
	r.Route(y)
	r.Flush()
	c.route(2, append(x, y...))
	c.deliver()
	require.Equal(t, []string{"x", "y"}, c.sent[1].all(), "x once, and y behind it")
	require.Zero(t, r.Certify.Counts().Waiting)
}

// A console output stays unacknowledged for a while after it is
// performed, and the node's runtime repeats what its replica still owes.
// In a Byzantine cluster a repeat used to race the certificate: decided
// while the output was held, it came after the output had been
// performed, and held it again; the signatures it then asked for
// certified it a second time, and the guest's lines printed twice.
func TestAConsoleOutputTakenOnceIsNotTakenAgainByARepeat(t *testing.T) {
	c := newCertifiedCluster(t, 0)
	r := c.routers[1]
	var stdout bytes.Buffer
	r.Devices.Stdout = &stdout
	line := []Output{{Seq: 1, Node: 1, Action: Console{Stream: 1, Data: []byte("a line\n")}}}
	c.route(1, line)
	c.route(2, line)
	c.route(3, line)
	c.route(4, line)
	c.deliver()
	require.Equal(t, "a line\n", stdout.String())

	r.Repeat(line)
	r.Flush()
	r.Certify.Tick(time.Now().Add(2 * resendAfter)) // asks for the signatures again
	c.deliver()
	require.Equal(t, "a line\n", stdout.String(), "performed once")
	require.Zero(t, r.Certify.Counts().Waiting)
}

// An output the replicated state no longer waits for is withdrawn: one a
// restarted node repeated whose signers have forgotten their signatures
// would otherwise hold every later output back for good.
func TestAWithdrawnOutputHoldsNothingBack(t *testing.T) {
	c := newCertifiedCluster(t, 0)
	r := c.routers[1]
	r.Repeat(sends(1, 1, "acknowledged in an earlier life"))
	r.Flush()
	next := sends(1, 2, "next")
	r.Route(next)
	r.Flush()
	c.route(2, next)
	c.deliver()
	require.Empty(t, c.sent[1].all(), "next waits behind the first")
	r.Withdraw(func(o Output) bool { return o.Seq == 3 })
	require.Equal(t, 2, r.Certify.Counts().Waiting, "only what done reports is withdrawn")
	r.Withdraw(func(o Output) bool { return o.Seq == 1 })
	require.Equal(t, []string{"next"}, c.sent[1].all())
	require.Zero(t, r.Certify.Counts().Waiting)
}

// A member that restarted lost the signatures it gave in its earlier
// life; replaying the history, it signs its outputs for the others again,
// so that a node that executes them only now (it was down, or behind)
// can have them certified.
func TestAReplayingMemberSignsForTheOthers(t *testing.T) {
	c := newCertifiedCluster(t, 0)
	outs := sends(1, 1, "x")
	c.route(1, outs)
	replaying := c.routers[2]
	replaying.Quiet.Store(true)
	replaying.Route(outs)
	replaying.Flush()
	c.deliver()
	require.Equal(t, []string{"x"}, c.sent[1].all())
	require.Empty(t, c.sent[2].all(), "the replaying member performs nothing itself")
}

func TestOnlyOutputsThatLeaveTheClusterWaitForACertificate(t *testing.T) {
	var refilled int
	c := newCertifiedCluster(t, 0)
	r := c.routers[1]
	r.Devices.Refill = func(a Refill) { refilled += a.Bytes }
	r.Route([]Output{{Seq: 1, Node: 1, Action: Listen{Port: 7}}, {Seq: 2, Node: 1, Action: Refill{Bytes: 8}}})
	require.Equal(t, 8, refilled)
	require.Equal(t, CertifierCounts{}, r.Certify.Counts())
}

func TestStatementsNameTheClusterAndTheGroup(t *testing.T) {
	rootOf := func(outs ...Output) hash {
		var digests []hash
		for _, o := range outs {
			digests = append(digests, Digest(o))
		}
		return newGroupTree(digests).root()
	}
	x := sends(2, 5, "x")[0]
	base := statement("test", 1, rootOf(x))
	require.NotEqual(t, base, statement("test", 1, rootOf(sends(2, 6, "x")[0])), "the sequence number, through the output's digest")
	require.NotEqual(t, base, statement("test", 1, rootOf(sends(2, 5, "y")[0])), "the bytes")
	require.NotEqual(t, base, statement("test", 1, rootOf(sends(3, 5, "x")[0])), "the target, through the output's digest")
	require.NotEqual(t, base, statement("other", 1, rootOf(x)), "the cluster")
	require.NotEqual(t, base, statement("test", 2, rootOf(x)), "the group's size")
	two := sends(2, 5, "x", "y")
	require.NotEqual(t, rootOf(two...), rootOf(two[1], two[0]), "the order of the group")
}

func TestDigestsDifferForDifferentOutputs(t *testing.T) {
	conn := entry.ConnID{Node: 1, Serial: 1}
	outs := []Output{
		{Seq: 1, Node: 1, Action: Send{Conn: conn, Data: []byte("ab")}},
		{Seq: 1, Node: 1, Action: Send{Conn: conn, Data: []byte("ac")}},
		{Seq: 2, Node: 1, Action: Send{Conn: conn, Data: []byte("ab")}},
		{Seq: 1, Node: 2, Action: Send{Conn: conn, Data: []byte("ab")}},
		{Seq: 1, Node: 1, Action: Send{Conn: entry.ConnID{Node: 1, Serial: 2}, Data: []byte("ab")}},
		{Seq: 1, Node: 1, Action: Console{Stream: 1, Data: []byte("ab")}},
		{Seq: 1, Node: 1, Action: Console{Stream: 2, Data: []byte("ab")}},
		{Seq: 1, Node: 1, Action: CloseConn{Conn: conn}},
		{Seq: 1, Node: 1, Action: RefuseConn{Conn: conn, Reason: "full"}},
		{Seq: 1, Node: 1, Action: DiskWrite{Disk: "d", Offset: 0, Data: []byte("ab")}},
		{Seq: 1, Node: 1, Action: DiskWrite{Disk: "d", Offset: 1, Data: []byte("ab")}},
		{Seq: 1, Node: 1, Action: DiskRead{Disk: "d", Offset: 0, Length: 2}},
	}
	seen := map[[32]byte]int{}
	for i, o := range outs {
		d := Digest(o)
		prev, dup := seen[d]
		require.False(t, dup, "outputs %d and %d have one digest", prev, i)
		seen[d] = i
		require.Equal(t, d, Digest(o), "a digest depends on the output alone")
	}
}

func TestCertificatesConvinceWhoeverHoldsTheMembersKeys(t *testing.T) {
	c := newCertifiedCluster(t, 4)
	outs := sends(1, 7, "reply")
	for _, id := range []consensus.NodeID{1, 2, 4} {
		c.route(id, outs)
	}
	c.deliver()
	net := c.sent[1]
	require.Equal(t, []uint64{7}, net.seqs)
	cert := net.certs[0]
	require.NoError(t, Verify("test", c.members, outs[0], cert))

	changed := sends(1, 7, "replY")[0]
	require.ErrorIs(t, Verify("test", c.members, changed, cert), ErrNotCertified, "the certificate is for one output only")
	require.ErrorIs(t, Verify("other", c.members, outs[0], cert), ErrNotCertified, "and one cluster")
	require.ErrorIs(t, Verify("test", c.members, outs[0], Certificate{cert[0], cert[0]}), ErrNotCertified, "a member counts once")
	require.ErrorIs(t, Verify("test", c.members, outs[0], cert[:1]), ErrNotCertified, "the target's own word is not enough")
	forged := Certificate{cert[0], {Node: 3, Signature: cert[1].Signature}}
	require.ErrorIs(t, Verify("test", c.members, outs[0], forged), ErrNotCertified, "a signature names its signer")
}

// certifiedDisks records the certificates its writes came with.
type certifiedDisks struct{ certs []Certificate }

func (d *certifiedDisks) Perform(Output, func(entry.Completion)) { d.certs = append(d.certs, nil) }
func (d *certifiedDisks) PerformCertified(_ Output, cert Certificate, _ func(entry.Completion)) {
	d.certs = append(d.certs, cert)
}

func TestADiskWriteGoesToItsDeviceWithItsCertificate(t *testing.T) {
	c := newCertifiedCluster(t, 0)
	disks := &certifiedDisks{}
	c.routers[1].Devices.Disks = disks
	outs := []Output{{Seq: 1, Node: 1, Action: DiskWrite{Disk: "j", Data: []byte("x")}}}
	c.route(1, outs)
	require.Empty(t, disks.certs, "held until certified")
	c.route(2, outs)
	c.deliver()
	require.Len(t, disks.certs, 1)
	require.NoError(t, Verify("test", c.members, outs[0], disks.certs[0]))
}

// A disk write held for its certificate when the node learns it was
// declared down (Fenced) is not performed when the certificate comes:
// the cluster decided without this node, its write completed as
// uncertain and was issued again through another path, and newer writes
// may have followed. Performed late, it would write over them (in the
// Byzantine simulator's seed 40022, a restarted member's journal header
// write, held since before it learnt of its NodeDown, landed half a
// second later and undid acknowledged records; there the certificate
// came once the NodeDown was delivered, which the runtime's withdrawal
// covers, and this is the same while it is not).
func TestADiskWriteHeldWhenTheNodeIsFencedIsNotPerformed(t *testing.T) {
	c := newCertifiedCluster(t, 0)
	disks := &certifiedDisks{}
	r := c.routers[1]
	r.Devices.Disks = disks
	outs := []Output{{Seq: 1, Node: 1, Action: DiskWrite{Disk: "j", Data: []byte("x")}}}
	c.route(1, outs)
	r.Fenced.Store(true)
	c.route(2, outs)
	c.deliver()
	require.Empty(t, disks.certs)
	require.Zero(t, r.Certify.Counts().Waiting)
}

// takeQueued takes the queued messages and returns those from a member.
func (c *certifiedCluster) takeQueued(from consensus.NodeID) [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	var msgs [][]byte
	for _, m := range c.queued {
		if m.from == from {
			msgs = append(msgs, m.msg)
		}
	}
	c.queued = nil
	return msgs
}

func TestOneSignatureCertifiesAGroupOfOutputs(t *testing.T) {
	c := newCertifiedCluster(t, 0)
	outs := sends(1, 10, "a", "b", "c", "d", "e")
	c.route(1, outs)
	c.route(2, outs)
	msgs := c.takeQueued(2)
	require.Len(t, msgs, 1, "one message for the group")
	require.Len(t, msgs[0], 1+groupOverheadSize+len(outs)*groupRecordSize, "one signature for five outputs")
	for _, m := range msgs {
		c.routers[1].Certify.Receive(2, m)
	}
	net := c.sent[1]
	require.Equal(t, []string{"a", "b", "c", "d", "e"}, net.all())
	for i, cert := range net.certs {
		require.NoError(t, Verify("test", c.members, outs[i], cert), "output %d", i)
		require.Len(t, cert, 2)
		require.Equal(t, net.certs[0][0].Signature, cert[0].Signature, "the target signed the five once")
		require.Equal(t, net.certs[0][1].Signature, cert[1].Signature, "and so did node 2")
		require.Equal(t, uint32(i), cert[1].Index)
	}
}

func TestGroupsAreBoundedAndEachCertifies(t *testing.T) {
	c := newCertifiedCluster(t, 0)
	data := make([]string, maxGroup+3)
	for i := range data {
		data[i] = string(rune('a' + i%26))
	}
	outs := sends(1, 1, data...)
	c.route(1, outs)
	c.route(2, outs)
	msgs := c.takeQueued(2)
	require.Len(t, msgs, 1)
	require.Len(t, msgs[0], 1+2*groupOverheadSize+len(outs)*groupRecordSize, "two groups: %d outputs and 3", maxGroup)
	c.routers[1].Certify.Receive(2, msgs[0])
	net := c.sent[1]
	require.Equal(t, data, net.all())
	for i, cert := range net.certs {
		require.NoError(t, Verify("test", c.members, outs[i], cert), "output %d", i)
		require.LessOrEqual(t, len(cert[1].Path), maxProofPath)
	}

	target := c.routers[1].Certify
	oversized := []byte{msgGroups}
	oversized = binary.BigEndian.AppendUint16(oversized, maxGroup+1)
	oversized = append(oversized, make([]byte, (maxGroup+1)*groupRecordSize+ed25519.SignatureSize)...)
	target.Receive(2, oversized)
	require.Equal(t, uint64(1), target.Counts().Invalid, "a group beyond maxGroup is refused")
}

// certifiedGroup is what a member that signed outs as one group would
// hand on for each of them.
func certifiedGroup(c *certifiedCluster, signer consensus.NodeID, outs []Output) Certificate {
	digests := make([]hash, len(outs))
	for i, o := range outs {
		digests[i] = Digest(o)
	}
	tree, sig := c.routers[signer].Certify.signGroup(digests)
	var cert Certificate
	for i := range outs {
		cert = append(cert, Signature{Node: signer, Signature: sig, Group: uint32(len(outs)), Index: uint32(i), Path: tree.path(i)})
	}
	return cert
}

func TestAGroupSignatureCertifiesOnlyTheOutputsOfItsGroup(t *testing.T) {
	c := newCertifiedCluster(t, 0)
	group := sends(1, 1, "a", "b", "c", "d", "e")
	by2, by3 := certifiedGroup(c, 2, group), certifiedGroup(c, 3, group)
	for i, o := range group {
		require.NoError(t, Verify("test", c.members, o, Certificate{by2[i], by3[i]}))
	}

	outside := sends(1, 6, "f")[0]
	for i := range group {
		require.ErrorIs(t, Verify("test", c.members, outside, Certificate{by2[i], by3[i]}), ErrNotCertified, "an output outside the group, with proof %d", i)
	}
	require.ErrorIs(t, Verify("test", c.members, group[0], Certificate{by2[1], by3[1]}), ErrNotCertified, "another output's proof")
	changed := sends(1, 1, "A")[0]
	require.ErrorIs(t, Verify("test", c.members, changed, Certificate{by2[0], by3[0]}), ErrNotCertified, "other bytes at that place")

	// The same sequence numbers and bytes, for node 2.
	forNode2 := sends(2, 1, "a", "b", "c", "d", "e")
	elsewhere := certifiedGroup(c, 3, forNode2)
	require.ErrorIs(t, Verify("test", c.members, group[2], Certificate{by2[2], elsewhere[2]}), ErrNotCertified, "a group for another target")

	// Node 3 sends node 1 that group twice: as it is, and with every
	// output labelled as node 1's.
	target := c.routers[1].Certify
	records := func(label consensus.NodeID) []pendingOutput {
		var p []pendingOutput
		for _, o := range forNode2 {
			p = append(p, pendingOutput{target: label, seq: o.Seq, digest: Digest(o)})
		}
		return p
	}
	target.Receive(3, appendGroup([]byte{msgGroups}, records(2), elsewhere[0].Signature))
	c.route(1, group)
	require.Empty(t, c.sent[1].all(), "another node's outputs are no votes here")
	require.Equal(t, CertifierCounts{Waiting: 5}, target.Counts(), "nor counted against anyone")
	target.Receive(3, appendGroup([]byte{msgGroups}, records(1), elsewhere[0].Signature))
	require.Empty(t, c.sent[1].all(), "labelled as this node's, they do not match its digests")
	require.Equal(t, uint64(1), target.Counts().Mismatched, "seen so far at the first output, which the others wait behind")
	target.Receive(2, appendGroup([]byte{msgGroups}, records(1), elsewhere[0].Signature))
	require.Empty(t, c.sent[1].all(), "node 3's signature passed off as node 2's")
	require.Equal(t, uint64(1), target.Counts().Invalid, "counted once for the group's five outputs")
}

func TestTruncatedOrStretchedProofsAreRefused(t *testing.T) {
	c := newCertifiedCluster(t, 0)
	group := sends(1, 1, "a", "b", "c", "d", "e", "f", "g")
	by2, by3 := certifiedGroup(c, 2, group), certifiedGroup(c, 3, group)
	o, good := group[2], by3[2]
	require.NoError(t, Verify("test", c.members, o, Certificate{by2[2], good}))
	require.Len(t, good.Path, 3)

	with := func(change func(s *Signature)) Certificate {
		s := good
		s.Path = slices.Clone(good.Path)
		change(&s)
		return Certificate{by2[2], s}
	}
	for name, cert := range map[string]Certificate{
		"a hash short":        with(func(s *Signature) { s.Path = s.Path[:2] }),
		"no proof":            with(func(s *Signature) { s.Path = nil }),
		"a hash more":         with(func(s *Signature) { s.Path = append(s.Path, s.Path[0]) }),
		"a hash changed":      with(func(s *Signature) { s.Path[1][0] ^= 1 }),
		"another index":       with(func(s *Signature) { s.Index = 3 }),
		"an index beyond":     with(func(s *Signature) { s.Index = 7 }),
		"another size":        with(func(s *Signature) { s.Group = 8 }),
		"no size":             with(func(s *Signature) { s.Group = 0 }),
		"a size beyond bound": with(func(s *Signature) { s.Group = maxGroup + 1 }),
	} {
		require.ErrorIs(t, Verify("test", c.members, o, cert), ErrNotCertified, name)
	}

	encoded := AppendCertificate(nil, Certificate{by2[2], good})
	parsed, err := ParseCertificate(encoded)
	require.NoError(t, err)
	require.NoError(t, Verify("test", c.members, o, parsed))
	for n := range len(encoded) {
		_, err := ParseCertificate(encoded[:n])
		require.Error(t, err, "cut to %d of %d bytes", n, len(encoded))
	}
	_, err = ParseCertificate(append(encoded, 0))
	require.Error(t, err, "a byte more")
	long := AppendCertificate(nil, Certificate{{Node: 2, Signature: good.Signature, Group: 7, Path: make([]hash, maxProofPath+1)}})
	_, err = ParseCertificate(long)
	require.Error(t, err, "a proof longer than any group's")
}

func TestEveryLeafOfEveryGroupSizeProvesItsRoot(t *testing.T) {
	for size := 1; size <= maxGroup; size++ {
		digests := make([]hash, size)
		for i := range digests {
			binary.BigEndian.PutUint64(digests[i][:], uint64(i))
		}
		tree := newGroupTree(digests)
		for i, d := range digests {
			path := tree.path(i)
			require.LessOrEqual(t, len(path), maxProofPath)
			root, ok := rootFromPath(d, uint32(i), uint32(size), path)
			require.True(t, ok, "leaf %d of %d", i, size)
			require.Equal(t, tree.root(), root, "leaf %d of %d", i, size)
			if size > 1 {
				_, ok := rootFromPath(d, uint32(i), uint32(size), path[:len(path)-1])
				require.False(t, ok, "leaf %d of %d with a hash short", i, size)
			}
		}
	}
}

func TestReplyFramesCarryProofsAndRefuseTruncation(t *testing.T) {
	c := newCertifiedCluster(t, 0)
	group := sends(1, 4, "+OK\r\n", "$1\r\nx\r\n", ":7\r\n")
	by1, by2 := certifiedGroup(c, 1, group), certifiedGroup(c, 2, group)
	conn := group[0].Action.(Send).Conn
	stream := AppendHello(nil, conn)
	for i, o := range group {
		stream = AppendCertifiedSend(stream, o.Seq, o.Action.(Send).Data, Certificate{by1[i], by2[i]})
	}
	rr, err := NewReplyReader(bytes.NewReader(stream))
	require.NoError(t, err)
	for range group {
		o, cert, err := rr.Next()
		require.NoError(t, err)
		require.NoError(t, Verify("test", c.members, o, cert))
	}
	_, _, err = rr.Next()
	require.ErrorIs(t, err, io.EOF)

	hello := len(AppendHello(nil, conn))
	for n := hello + 1; n < len(stream); n++ {
		rr, err := NewReplyReader(bytes.NewReader(stream[:n]))
		require.NoError(t, err)
		var last error
		for range group {
			if _, _, last = rr.Next(); last != nil {
				break
			}
		}
		require.Error(t, last, "cut to %d of %d bytes", n, len(stream))
	}
}

// A node signs what it computed since its last flush with one signature,
// whatever nodes the outputs are for, and each of them checks its own
// outputs against that one group.
func TestOneFlushSignsTheOutputsOfManyRoutesForEveryNode(t *testing.T) {
	c := newCertifiedCluster(t, 0)
	var all []Output
	for seq := uint64(1); seq <= 9; seq++ {
		node := consensus.NodeID(1 + seq%3)
		all = append(all, Output{Seq: seq, Node: node, Action: Send{Conn: entry.ConnID{Node: node, Serial: 1}, Data: []byte{byte(seq)}}})
	}
	signer := c.routers[4]
	signer.Certify.cfg.Now = func() time.Time { return time.Unix(100, 0) } // never due by itself
	for i := 0; i < len(all); i += 3 {
		signer.Route(all[i : i+3])
	}
	require.Empty(t, c.takeQueued(4), "nothing signed before the flush")
	signer.Flush()
	msgs := map[consensus.NodeID][]byte{}
	c.mu.Lock()
	for _, m := range c.queued {
		require.Equal(t, consensus.NodeID(4), m.from)
		require.NotContains(t, msgs, m.to, "one message for each node")
		msgs[m.to] = m.msg
	}
	c.mu.Unlock()
	require.Len(t, msgs, 3)
	require.Len(t, msgs[1], 1+groupOverheadSize+len(all)*groupRecordSize, "one group of nine outputs")
	require.Equal(t, msgs[1], msgs[2], "the same group and signature for every node")
	require.Equal(t, msgs[1], msgs[3])
	c.deliver()
	for id := consensus.NodeID(1); id <= 3; id++ {
		c.route(id, all)
	}
	c.deliver()
	for _, o := range all {
		net := c.sent[o.Node]
		i := slices.Index(net.seqs, o.Seq)
		require.NotEqual(t, -1, i, "output %d performed", o.Seq)
		require.NoError(t, Verify("test", c.members, o, net.certs[i]))
	}
}

func TestANodePerformsItsOutputsOnlyOnceItSignedThemToo(t *testing.T) {
	c := newCertifiedCluster(t, 0)
	outs := sends(1, 1, "x", "y")
	c.route(2, outs)
	c.deliver()
	r := c.routers[1]
	now := time.Unix(100, 0)
	r.Certify.cfg.Now = func() time.Time { return now }
	r.Route(outs)
	require.Empty(t, c.sent[1].all(), "node 2's signature alone is not enough")
	require.Equal(t, 2, r.Certify.Counts().Waiting)
	now = now.Add(flushAfter / 2)
	r.Route(nil)
	require.Empty(t, c.sent[1].all(), "not yet due")
	now = now.Add(flushAfter)
	r.Certify.Tick(now)
	require.Equal(t, []string{"x", "y"}, c.sent[1].all(), "signed once due, though the node never flushed")
}

// TestAVoteInAGroupCheckedAlreadyCountsFirst: when an output has votes
// in a group whose signature was checked for an earlier output and in
// one never checked, the checked one fills the certificate and the other
// is left unchecked, an ed25519 verification spared. The unchecked one
// here carries a bad signature, so a check of it would count as invalid.
func TestAVoteInAGroupCheckedAlreadyCountsFirst(t *testing.T) {
	c := newCertifiedCluster(t, 0)
	outs := sends(1, 1, "a", "b")
	c.route(3, outs)
	by3 := c.takeQueued(3)
	c.route(2, outs[1:])
	by2 := c.takeQueued(2)
	require.Len(t, by2, 1)
	forged := slices.Clone(by2[0])
	forged[len(forged)-1] ^= 1

	target := c.routers[1].Certify
	c.route(1, outs[:1])
	for _, m := range by3 {
		target.Receive(3, m)
	}
	require.Equal(t, []string{"a"}, c.sent[1].all(), "node 3's group, checked for a")
	target.Receive(2, forged)
	c.route(1, outs[1:])
	require.Equal(t, []string{"a", "b"}, c.sent[1].all())
	require.Equal(t, uint64(0), target.Counts().Invalid, "node 2's vote, in a group never checked, was left so")
	require.NoError(t, Verify("test", c.members, outs[1], c.sent[1].certs[1]))
}
