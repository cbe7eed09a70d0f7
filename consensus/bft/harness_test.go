package bft

import (
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/logtest"
)

// The harness runs a cluster of cores on one goroutine with a seeded
// scheduler: it delivers the messages in flight in random order, drops
// and duplicates them as told, and ticks every replica now and then (the
// only clock there is). A faulty member is a correct core whose outgoing
// messages pass through a behaviour that may rewrite, withhold or
// multiply them, signed with its key. After every step the harness checks
// safety: the correct replicas' committed sequences are prefixes of one
// another and hold no entry twice.

// testKey is member id's key: fixed, so runs are reproducible.
func testKey(id consensus.NodeID) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, fmt.Sprintf("synod-bft-test-key-%d", id))
	return ed25519.NewKeyFromSeed(seed)
}

func testMembers(n int) map[consensus.NodeID]ed25519.PublicKey {
	keys := map[consensus.NodeID]ed25519.PublicKey{}
	for i := 1; i <= n; i++ {
		keys[consensus.NodeID(i)] = testKey(consensus.NodeID(i)).Public().(ed25519.PublicKey)
	}
	return keys
}

// testClusterID is the cluster the harness's members sign for.
const testClusterID = "test-cluster"

func testConfig(id consensus.NodeID, n int) Config {
	return Config{
		ID: id, PublicKeys: testMembers(n), PrivateKey: testKey(id), Cluster: testClusterID,
		CheckpointInterval: 4, Window: 8,
		RequestTimeoutTicks: 30, ViewChangeTimeoutTicks: 20, RetransmitTicks: 4,
		MaxPendingRequests: 64,
		Logger:             slog.New(slog.DiscardHandler),
	}
}

// behaviour rewrites one message a faulty member sends: it returns what
// actually goes out (nothing, the message, or something else).
type behaviour func(h *harness, from *replica, to consensus.NodeID, data []byte) [][]byte

type replica struct {
	id      consensus.NodeID
	core    *Core
	history logtest.History
	records [][]byte
	// replaced holds, for each compaction, the bytes of the records it
	// replaced.
	replaced []int
	// faulty replicas are left out of the safety and liveness checks.
	faulty bool
	behave behaviour
	// wrongState makes the replica digest a state other than its own at
	// every checkpoint.
	wrongState bool
	// lastBatch is the highest batch (consensus.Entry.Batch) its core
	// has delivered entries of since it started.
	lastBatch uint64
	// slowSnapshots is how many ticks its application takes to hand
	// over a snapshot that is due (a slower machine): its core executes
	// nothing past the checkpoint meanwhile.
	slowSnapshots uint64
	// due is the snapshot asked for and not yet handed over, since the
	// tick dueAt.
	due   *SnapshotDue
	dueAt uint64
}

type packet struct {
	from, to consensus.NodeID
	data     []byte
	// notBefore is the tick before which the packet is not delivered.
	notBefore uint64
}

// ticksPer is, with no message in flight, one in how many steps ticks:
// the others deliver a message.
const ticksPer = 16

type harness struct {
	t        testing.TB
	n        int
	rng      *rand.Rand
	replicas []*replica
	inflight []packet
	tick     uint64
	// drop and duplicate are probabilities per delivered message.
	drop, duplicate float64
	// proposed lists every value a correct replica proposed.
	proposed []string
	// unproposed holds values waiting for back-pressure to ease.
	unproposed map[*replica][]string
	steps      int
	// cut holds the members whose messages, both ways, are lost.
	cut map[consensus.NodeID]bool
	// votes holds every vote a correct replica signed, to check that none
	// signs two digests for one view and sequence number.
	votes map[signedVote]Digest
}

type signedVote struct {
	from      consensus.NodeID
	typ       msgType
	view, seq uint64
}

func newHarness(t testing.TB, n int, seed uint64) *harness {
	h := &harness{
		t: t, n: n, rng: rand.New(rand.NewPCG(seed, 7)), unproposed: map[*replica][]string{},
		cut: map[consensus.NodeID]bool{}, votes: map[signedVote]Digest{},
	}
	for i := 1; i <= n; i++ {
		h.addReplica(testConfig(consensus.NodeID(i), n))
	}
	return h
}

func (h *harness) addReplica(cfg Config) *replica {
	core, err := NewCore(cfg, nil)
	require.NoError(h.t, err)
	r := &replica{id: cfg.ID, core: core}
	h.replicas = append(h.replicas, r)
	return r
}

func (h *harness) replica(id consensus.NodeID) *replica {
	for _, r := range h.replicas {
		if r.id == id {
			return r
		}
	}
	return nil
}

func (h *harness) correct() []*replica {
	var out []*replica
	for _, r := range h.replicas {
		if !r.faulty {
			out = append(out, r)
		}
	}
	return out
}

// propose has correct replica r propose count fresh values.
func (h *harness) propose(r *replica, count int) {
	for range count {
		v := fmt.Sprintf("v%d-%d", r.id, len(h.proposed))
		h.proposed = append(h.proposed, v)
		h.unproposed[r] = append(h.unproposed[r], v)
	}
	h.offer(r)
}

// offer proposes r's waiting values until back-pressure says wait.
func (h *harness) offer(r *replica) {
	for len(h.unproposed[r]) > 0 {
		err := r.core.Propose([]byte(h.unproposed[r][0]))
		if err == ErrBusy {
			return
		}
		require.NoError(h.t, err)
		h.unproposed[r] = h.unproposed[r][1:]
	}
}

// handle does what r's Ready asks: persist, send (through r's behaviour),
// apply, and take the snapshot that is due.
func (h *harness) handle(r *replica) {
	for range 16 {
		h.takeSnapshot(r)
		if !r.core.HasReady() {
			return
		}
		rd := r.core.Ready()
		if rd.Compact {
			r.replaced = append(r.replaced, recordsSize(r.records))
			r.records = nil
		}
		r.records = append(r.records, rd.Persist...)
		for _, m := range rd.Messages {
			h.send(r, m.To, m.Data)
		}
		for _, s := range rd.Snapshots {
			h.send(r, s.To, append(slices.Clip(s.Head), s.Body...))
		}
		h.checkBatches(r, rd.Applies)
		require.NoError(h.t, r.history.Apply(rd.Applies...), "replica %d", r.id)
		if rd.SnapshotDue != nil {
			r.due, r.dueAt = rd.SnapshotDue, h.tick
		}
		h.takeSnapshot(r)
		h.offer(r)
	}
}

// takeSnapshot hands r's core the snapshot due, once r.slowSnapshots
// ticks have passed since it was asked for; a state installed meanwhile
// cancels it.
func (h *harness) takeSnapshot(r *replica) {
	if r.due == nil || h.tick < r.dueAt+r.slowSnapshots {
		return
	}
	due := r.due
	r.due = nil
	if r.core.due != due {
		return
	}
	require.Equal(h.t, due.Index, r.history.Index, "replica %d: snapshot due at another index than applied", r.id)
	snap, err := r.history.Snapshot()
	require.NoError(h.t, err)
	if r.wrongState {
		snap.Data = append(snap.Data, " and more"...)
	}
	require.NoError(h.t, r.core.SnapshotTaken(due.Seq, snap.Data))
}

func (h *harness) send(r *replica, to consensus.NodeID, data []byte) {
	if !r.faulty {
		h.checkVote(r.id, data)
	}
	out := [][]byte{data}
	if r.behave != nil {
		out = r.behave(h, r, to, data)
	}
	for _, d := range out {
		h.inflight = append(h.inflight, packet{from: r.id, to: to, data: d})
	}
}

// step delivers one random message or ticks every replica, then checks
// safety.
func (h *harness) step() {
	h.steps++
	deliverable := 0
	for _, p := range h.inflight {
		if p.notBefore <= h.tick {
			deliverable++
		}
	}
	// A tick is long: the messages in flight mostly arrive within one,
	// however many there are.
	if deliverable > 0 && h.rng.IntN(ticksPer+deliverable) != 0 {
		h.deliver(h.rng.IntN(deliverable))
	} else {
		h.tick++
		for _, r := range h.replicas {
			r.core.Tick()
		}
	}
	for _, r := range h.replicas {
		h.handle(r)
	}
	h.checkSafety()
}

// deliver hands the i-th deliverable packet to its receiver (to one of
// them at random when two replicas share an identity).
func (h *harness) deliver(i int) {
	at := -1
	for j, p := range h.inflight {
		if p.notBefore <= h.tick {
			i--
			if i < 0 {
				at = j
				break
			}
		}
	}
	p := h.inflight[at]
	if h.duplicate > 0 && h.rng.Float64() < h.duplicate {
		h.inflight = append(h.inflight, p)
	}
	h.inflight = slices.Delete(h.inflight, at, at+1)
	if (h.drop > 0 && h.rng.Float64() < h.drop) || h.cut[p.from] || h.cut[p.to] {
		return
	}
	var receivers []*replica
	for _, r := range h.replicas {
		if r.id == p.to {
			receivers = append(receivers, r)
		}
	}
	if len(receivers) == 0 {
		return
	}
	_ = receivers[h.rng.IntN(len(receivers))].core.Step(p.from, p.data) // drops are counted in Stats
}

// checkSafety fails the test when two correct replicas disagree on an
// entry, or one executed an entry twice.
func (h *harness) checkSafety() {
	correct := h.correct()
	decided := map[uint64]*prePrepare{}
	for _, r := range correct {
		for seq, pp := range r.core.decided {
			if other, ok := decided[seq]; ok {
				require.Equal(h.t, other.digest, pp.digest, "step %d: replica %d decided another batch at %d (views %d, %d)", h.steps, r.id, seq, other.View, pp.View)
			}
			decided[seq] = pp
		}
	}
	for _, r := range correct {
		seen := map[string]bool{}
		for _, e := range r.history.Entries {
			require.False(h.t, seen[e], "step %d: replica %d executed %q twice", h.steps, r.id, e)
			seen[e] = true
		}
	}
	for i, a := range correct {
		for _, b := range correct[i+1:] {
			short, long := a.history.Entries, b.history.Entries
			if len(short) > len(long) {
				short, long = long, short
			}
			if !slices.Equal(short, long[:len(short)]) {
				h.dump()
			}
			require.True(h.t, slices.Equal(short, long[:len(short)]), "step %d: replicas %d and %d disagree:\n%q\n%q", h.steps, a.id, b.id, short, long)
		}
	}
}

// run takes steps until done reports true or the budget runs out.
func (h *harness) run(budget int, done func() bool) bool {
	for range budget {
		if done() {
			return true
		}
		h.step()
	}
	return done()
}

// allCommitted reports whether every correct replica executed every value
// a correct replica proposed.
func (h *harness) allCommitted() bool {
	for _, r := range h.correct() {
		have := map[string]bool{}
		for _, e := range r.history.Entries {
			have[e] = true
		}
		for _, v := range h.proposed {
			if !have[v] {
				return false
			}
		}
	}
	return true
}

// settle ends the faults (the network's; a faulty member keeps its
// behaviour unless the test clears it) and requires every proposal to
// commit everywhere within budget steps.
func (h *harness) settle(budget int) {
	h.drop, h.duplicate = 0, 0
	if !h.run(budget, h.allCommitted) {
		h.dump()
		h.t.Fatalf("not every proposal committed at every correct replica within %d steps", budget)
	}
}

// workload has every correct replica propose, a few at a time, while the
// harness runs.
func (h *harness) workload(rounds, perRound, stepsBetween int) {
	for range rounds {
		for _, r := range h.correct() {
			h.propose(r, perRound)
		}
		for range stepsBetween {
			h.step()
		}
	}
}

// busyUntilStable has every correct replica propose perRound values
// every steps steps until r holds a stable checkpoint at seq, for at most
// 50 rounds.
func (h *harness) busyUntilStable(r *replica, seq uint64, perRound, steps int) {
	for round := 0; round < 50 && r.core.stable.seq < seq; round++ {
		for _, p := range h.correct() {
			h.propose(p, perRound)
		}
		for range steps {
			h.step()
		}
	}
}

// resign re-signs a message body as member from.
func resign(from consensus.NodeID, typ msgType, body []byte) []byte {
	return seal(signingPrefix(testClusterID), testKey(from), typ, from, body)
}

// dump logs every replica's state, for a failing test.
func (h *harness) dump() {
	for _, r := range h.replicas {
		c := r.core
		h.t.Logf("replica %d (faulty %v): view %d changing %v executed %d entries %d stable %d pending %d stats %+v",
			r.id, r.faulty, c.view, c.changing, c.lastExec, len(r.history.Entries), c.stable.seq, len(c.pending), c.Stats())
		for seq := c.stable.seq + 1; seq <= c.lastExec+c.cfg.Window; seq++ {
			if pp, ok := c.decided[seq]; ok {
				var reqs []string
				for _, q := range pp.requests {
					for _, item := range q.Items {
						reqs = append(reqs, string(item))
					}
				}
				h.t.Logf("  decided %d (view %d): %q", seq, pp.View, reqs)
			}
		}
	}
}

// checkVote fails the test when a correct replica signs a second digest
// for a pre-prepare, prepare or commit of one view and sequence number.
func (h *harness) checkVote(from consensus.NodeID, data []byte) {
	r := reader{b: data}
	typ := msgType(r.u8("type"))
	r.u64("from")
	body := reader{b: r.bytes(len(data), "body")}
	if r.err != nil {
		return
	}
	k := signedVote{from: from, typ: typ, view: body.u64("view"), seq: body.u64("seq")}
	var d Digest
	switch typ {
	case msgPrepare, msgCommit:
		d = body.digest("digest")
	case msgPrePrepare:
		d = batchDigest(body.list(1<<20, "requests"))
	default:
		return
	}
	if prev, ok := h.votes[k]; ok {
		require.Equal(h.t, prev, d, "replica %d signed two digests for %s view %d seq %d", from, typ, k.view, k.seq)
	}
	h.votes[k] = d
}

// restart replaces replica r's core by one started from its records, as
// a process that crashed and came back: its application starts empty.
func (h *harness) restart(r *replica) {
	cfg := testConfig(r.id, h.n)
	core, err := NewCore(cfg, r.records)
	require.NoError(h.t, err, "restart replica %d", r.id)
	r.core = core
	r.history = logtest.History{}
	r.lastBatch = 0
	r.due = nil
}

// checkBatches requires what consensus.Entry.Batch promises: every entry
// names its batch, and the entries of one batch come together in one
// Apply, batches in order.
func (h *harness) checkBatches(r *replica, applies []consensus.Apply) {
	for _, a := range applies {
		done := r.lastBatch
		for _, e := range a.Entries {
			require.Greater(h.t, e.Batch, done, "replica %d: entry %d of batch %d after the Apply that ended batch %d", r.id, e.Index, e.Batch, done)
			require.GreaterOrEqual(h.t, e.Batch, r.lastBatch, "replica %d: entry %d of batch %d after batch %d", r.id, e.Index, e.Batch, r.lastBatch)
			r.lastBatch = e.Batch
		}
	}
}
