package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/cluster"
)

// A Byzantine cluster performs an output only with f+1 matching
// signatures. One member signs a wrong digest for every output of the
// others: clients of every correct node are still answered right, each
// correct node counts the faulty member's signatures as mismatched, and
// none of them performs an output on fewer than f+1 matching signatures,
// also once a correct member is killed and the faulty one's signature
// is half of every quorum the others can still gather.
func TestByzantineClusterCertifiesOutputsDespiteAFaultyMember(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 4-node cluster")
	}
	const faulty = consensus.NodeID(4)
	c := startWithAFaultyNode(t, faulty, "wrong-outputs")
	c.waitServing()
	correct := []consensus.NodeID{1, 2, 3}
	setThroughEach(t, c, correct, 0, 100)
	wrong := wrongGetsThroughEach(t, c, correct, 99)
	for _, id := range correct {
		r, err := c.report(id)
		require.NoError(t, err)
		require.NotNil(t, r.Certificates, "node %d certifies its outputs", id)
		t.Logf("node %d: %+v", id, *r.Certificates)
		require.GreaterOrEqual(t, r.Certificates.Certified, uint64(100), "node %d: every reply was certified", id)
		require.Positive(t, r.Certificates.Mismatched, "node %d saw the faulty member's wrong signatures", id)
		require.Zero(t, r.Certificates.Invalid, "node %d: the faulty member's signatures are its own, and valid", id)
	}

	down := correct[0]
	if down == c.leader() {
		down = correct[1]
	}
	c.kill(down)
	left := slices.DeleteFunc(slices.Clone(correct), func(id consensus.NodeID) bool { return id == down })
	before := map[consensus.NodeID]uint64{}
	for _, id := range left {
		r, err := c.report(id)
		require.NoError(t, err)
		before[id] = r.Certificates.Mismatched
	}
	setThroughEach(t, c, left, 100, 150)
	wrong += wrongGetsThroughEach(t, c, left, 149)
	recordFault(faultRow{behaviour: "wrong-outputs", certified: certifiedBy(c, left), uncertified: wrong, available: true})
	require.Zero(t, wrong, "answers no correct replica computed")
	for _, id := range left {
		r, err := c.report(id)
		require.NoError(t, err)
		require.Greater(t, r.Certificates.Mismatched, before[id],
			"node %d: with node %d down, the faulty member still signs, and is still not counted", id, down)
	}
	c.converged()
}

// wrongGetsThroughEach reads, through each node, the last value
// setThroughEach wrote through every one of them, and counts the answers
// that are not that value.
func wrongGetsThroughEach(t *testing.T, c *testCluster, nodes []consensus.NodeID, last int) int {
	t.Helper()
	wrong := 0
	for _, id := range nodes {
		kv, err := dialKV(c.serviceAddr(id))
		require.NoError(t, err)
		for _, via := range nodes {
			r, err := kv.do("GET", writtenKey(via, last))
			require.NoError(t, err)
			if r != fmt.Sprint(last) {
				t.Errorf("GET through node %d of what node %d wrote: %q, want %d", id, via, r, last)
				wrong++
			}
		}
		kv.Close()
	}
	return wrong
}

func TestFaultyIsRefusedWhereItMeansNothing(t *testing.T) {
	for _, tc := range []struct {
		behaviour string
		byzantine bool
		err       string
	}{
		{"", false, ""},
		{"wrong-outputs", true, ""},
		{"wrong-outputs", false, "only a Byzantine cluster"},
		{"lies", true, `unknown behaviour; known: flip-input-once (`},
	} {
		err := checkFaulty(tc.behaviour, tc.byzantine)
		if tc.err == "" {
			require.NoError(t, err, tc.behaviour)
		} else {
			require.ErrorContains(t, err, tc.err, tc.behaviour)
		}
	}
}

// synod proxy lets a plain client use a Byzantine cluster without trusting
// any one node. Node 2 changes every reply it sends its clients: a plain
// client of node 2 gets its lies, but through the proxy a client gets
// right answers or a closed connection, never a lie, and once node 2 has
// been caught the proxy sends no more clients there.
func TestProxyPassesOnlyCertifiedReplies(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 4-node cluster")
	}
	const liar = consensus.NodeID(2)
	c := startWithAFaultyNode(t, liar, "wrong-replies")
	waitTakingClients(c)

	plain, err := net.DialTimeout("tcp", c.serviceAddr(liar), 2*time.Second)
	require.NoError(t, err)
	defer plain.Close()
	_, err = plain.Write(encodeCommand("SET", "k", "direct"))
	require.NoError(t, err)
	require.NoError(t, plain.SetReadDeadline(time.Now().Add(20*time.Second)))
	answer := make([]byte, len("+OK\r\n"))
	_, err = io.ReadFull(plain, answer)
	require.NoError(t, err)
	require.NotEqual(t, "+OK\r\n", string(answer), "node 2 lies to its plain clients")

	p, err := newCertifyingProxy(c.cfg, serviceGuestPort, slog.Default())
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { p.serve(ctx, l); close(served) }()
	defer func() { cancel(); <-served }()

	closed, wrong := 0, 0
	for i := range 12 {
		kv, err := dialKV(l.Addr().String())
		require.NoError(t, err)
		value := fmt.Sprint(i)
		r, err := kv.do("SET", "k", value)
		if err == nil {
			require.Equal(t, "OK", r)
			r, err = kv.do("GET", "k")
		}
		kv.Close()
		if err != nil {
			closed++
			continue
		}
		if r != value {
			t.Errorf("client %d: the proxy passed on %q, not what the replicas computed (%q)", i, r, value)
			wrong++
		}
	}
	counts := p.counts()
	recordFault(faultRow{behaviour: "wrong-replies, through synod proxy", certified: counts.passed, uncertified: wrong, available: closed == 1})
	t.Logf("12 clients through the proxy: %d closed, %+v", closed, counts)
	require.Equal(t, 1, closed, "the one client carried to node 2 is closed, and node 2 gets no other")
	require.Equal(t, uint64(1), counts.refused)
	require.Equal(t, uint64(12), counts.clients)
	require.Equal(t, uint64(2*11), counts.passed, "every other reply is passed on")
}

// A member speaks only for itself. Node 4 types a command into every
// other node's client session it sees, as the next bytes of that
// client's stream: every correct replica drops those bytes, so the
// clients' sessions go on as they typed them, the forged command never
// runs, and the replicas stay identical.
func TestByzantineClusterDropsInputForgedForAnotherNodesClient(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 4-node cluster")
	}
	const forger = consensus.NodeID(4)
	c := startWithAFaultyNode(t, forger, "forge-inputs")
	c.waitServing()
	correct := []consensus.NodeID{1, 2, 3}
	setThroughEach(t, c, correct, 0, 100)
	wrong := wrongGetsThroughEach(t, c, correct, 99)
	kv, err := dialKV(c.serviceAddr(1))
	require.NoError(t, err)
	defer kv.Close()
	r, err := kv.do("GET", "forged")
	require.NoError(t, err)
	if r != "(nil)" {
		wrong++ // the forged command ran: its reply was performed
	}
	recordFault(faultRow{behaviour: "forge-inputs", certified: certifiedBy(c, correct), uncertified: wrong, available: true})
	require.Equal(t, "(nil)", r, "the forged command never ran")
	for _, id := range correct {
		r, err := c.report(id)
		require.NoError(t, err)
		require.Positive(t, r.ForgedInputs, "node %d dropped node %d's forgeries", id, forger)
	}
	c.converged()
}

// startWithAFaultyNode starts a 4-node Byzantine cluster whose node
// faulty behaves as --faulty behaviour says.
func startWithAFaultyNode(t *testing.T, faulty consensus.NodeID, behaviour string) *testCluster {
	t.Helper()
	c := newTestClusterOf(t, cluster.Spec{Nodes: 4, Engine: cluster.EngineBFT}, testMachine(""))
	for _, n := range c.cfg.Nodes {
		if n.ID == faulty {
			c.startWith(n.ID, "--faulty", behaviour)
		} else {
			c.start(n.ID)
		}
	}
	return c
}

// waitTakingClients waits until every node says it takes clients: unlike
// waitServing it asks no node to answer one, which a faulty node's
// clients may never get.
func waitTakingClients(c *testCluster) {
	c.t.Helper()
	c.eventually("every node takes clients", func() bool {
		for _, n := range c.cfg.Nodes {
			if !c.takesClients(n.ID) {
				return false
			}
		}
		return true
	})
}

// takesClients reports whether node id says it takes clients, without
// asking it to answer one. Serving says the node would take them;
// Service, that the guest listens already (a node can be caught up
// before the guest's listen reaches it: connection refused).
func (c *testCluster) takesClients(id consensus.NodeID) bool {
	r, err := c.report(id)
	return err == nil && r.Serving && len(r.Service) > 0
}

// A member that proposes times ten years ahead cannot move the guest's
// clock there: every correct member refuses to order a request whose time
// is more than replica.MaxClockAhead ahead of its own clock, and to
// prepare a batch that holds one, so the primary that seals with such
// times is replaced, the guest keeps the correct members' time and the
// service goes on.
func TestByzantineClusterKeepsTimeDespiteAFutureClock(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 4-node cluster")
	}
	// Node 1 is the primary of the first view, which seals the guest's
	// epochs: its times are the ones that would reach the guest.
	c := startWithAFaultyNode(t, 1, "future-clock")
	waitTakingClients(c)
	correct := []consensus.NodeID{2, 3, 4}
	setThroughEach(t, c, correct, 0, 50)
	wrong := wrongGetsThroughEach(t, c, correct, 49)
	latest := time.Now().Add(time.Minute).UnixNano()
	for _, id := range correct {
		r, err := c.report(id)
		require.NoError(t, err)
		require.Positive(t, r.GuestTime)
		require.Less(t, r.GuestTime, latest, "node %d: the guest's clock is %s", id, time.Unix(0, r.GuestTime).UTC())
	}
	recordFault(faultRow{behaviour: "future-clock", certified: certifiedBy(c, correct), uncertified: wrong, available: true})
	require.Zero(t, wrong)
	c.converged()
}

// No member chooses the guest's random bytes, and none can stop them:
// node 2, one of the first draw's two contributors, commits to its
// batches and never reveals one. The draw passes it over once its
// deadline in guest time has gone by, the next round fills the guest's
// pool without it, and the service goes on.
func TestByzantineClusterDrawsRandomBytesDespiteAWithholdingMember(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 4-node cluster")
	}
	const withholder = consensus.NodeID(2)
	c := startWithAFaultyNode(t, withholder, "withhold-random")
	c.waitServing()
	correct := []consensus.NodeID{1, 3, 4}
	round := 0
	c.eventually("a random batch drawn without the withholding member", func() bool {
		// Guest time moves with the requests the guest serves.
		setThroughEach(t, c, correct, round*10, round*10+10)
		round++
		for _, id := range correct {
			r, err := c.report(id)
			if err != nil || r.RandomBatches == 0 {
				return false
			}
			require.Equal(t, []consensus.NodeID{withholder}, r.RandomPassedOver, "node %d", id)
		}
		return true
	})
	readBackAndRecord(t, c, "withhold-random", correct, round*10-1)
	c.converged()
}

// A member that is silent, slow, floods its peers with garbage and
// truncated messages, replays its old messages, or proposes wrong state
// hashes is one the others work around: clients of the correct members
// are answered right, and the correct replicas stay identical. The
// faulty member is node 1, the first view's primary, so that the ones
// that stall ordering must be replaced.
func TestByzantineClusterServesDespiteAMisbehavingMember(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 4-node clusters")
	}
	for _, behaviour := range []string{"silent", "slow", "garbage", "replay", "wrong-state-hashes"} {
		t.Run(behaviour, func(t *testing.T) {
			const faulty = consensus.NodeID(1)
			c := startWithAFaultyNode(t, faulty, behaviour)
			correct := []consensus.NodeID{2, 3, 4}
			c.waitServingOn(patience, correct...)
			setThroughEach(t, c, correct, 0, 50)
			readBackAndRecord(t, c, behaviour, correct, 49)
			// A silent member cannot ask for what it missed: only the
			// correct ones must agree.
			c.convergedAmong(correct)
		})
	}
}

// readBackAndRecord reads back through each correct node what
// setThroughEach last wrote through each, records the run in the fault
// table, and fails on any answer no correct replica computed.
func readBackAndRecord(t *testing.T, c *testCluster, behaviour string, correct []consensus.NodeID, last int) {
	t.Helper()
	wrong := wrongGetsThroughEach(t, c, correct, last)
	recordFault(faultRow{behaviour: behaviour, certified: certifiedBy(c, correct), uncertified: wrong, available: true})
	require.Zero(t, wrong)
}

// A correct member hit once by a memory error (one byte of one client
// input flipped on its way to its own replica) computes a state of its
// own, and the next state-hash check outvotes it. It starts its replica
// again from its own records, whose stable checkpoint a quorum certified,
// executes again what was decided after it, and ends with the others'
// state; no client is ever answered from the flipped state.
func TestByzantineNodeThatDivergedStartsAgainFromItsCertifiedState(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 4-node cluster")
	}
	const hit = consensus.NodeID(4)
	c := startWithAFaultyNode(t, hit, "flip-input-once")
	waitTakingClients(c)
	others := []consensus.NodeID{1, 2, 3}
	round := 0
	c.eventually("node 4 diverges and starts again", func() bool {
		setThroughEach(t, c, others, round*10, round*10+10)
		round++
		r, err := c.report(hit)
		return err == nil && r.Resyncs == 1
	})
	divergences, _ := scrape(t, c.node(hit).StatusAddr, `synod_replica_divergences_total`)
	require.Equal(t, 1.0, divergences, "node 4's divergences")
	// Started again, node 4 takes clients once it knows it has caught
	// up (docs/byzantine.md, "When a restarted member takes clients");
	// but the others, busy, may pass another stable checkpoint before it
	// has the batches up to it, and it installs their state again, which
	// hangs up on its clients: use it once it has the others' state.
	c.converged()
	waitTakingClients(c)
	all := append(others, hit)
	setThroughEach(t, c, all, round*10, round*10+10)
	readBackAndRecord(t, c, "flip-input-once", all, round*10+9)
	c.converged()
}
