package bft

import (
	"crypto/ed25519"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
)

// Each test makes one member faulty in one way, runs a workload from the
// correct members on a lossy network, then ends the network's faults and
// requires every correct member's proposals to commit at every correct
// member. The harness checks safety after every step throughout.

func runFaulty(t *testing.T, n int, seed uint64, setup func(h *harness)) *harness {
	t.Helper()
	h := newHarness(t, n, seed)
	setup(h)
	h.drop, h.duplicate = 0.05, 0.05
	h.workload(8, 3, 300)
	h.settle(400000)
	return h
}

func faulty(h *harness, id consensus.NodeID, b behaviour) *replica {
	r := h.replica(id)
	r.faulty, r.behave = true, b
	return r
}

func maxView(h *harness) uint64 {
	var v uint64
	for _, r := range h.correct() {
		v = max(v, r.core.view)
	}
	return v
}

// equivocate sends replicas 3 and up another batch than the one the
// primary signed for everyone else: the same requests in reverse order,
// or none at all.
func equivocate(h *harness, from *replica, to consensus.NodeID, data []byte) [][]byte {
	if msgType(data[0]) != msgPrePrepare || to < 3 {
		return [][]byte{data}
	}
	e, err := from.core.v.decode(data)
	require.NoError(h.t, err)
	pp := e.body.(*prePrepare)
	other := slices.Clone(pp.Requests)
	slices.Reverse(other)
	if len(other) < 2 {
		other = nil
	}
	forged := &prePrepare{View: pp.View, Seq: pp.Seq, Requests: other}
	return [][]byte{resign(from.id, msgPrePrepare, encodePrePrepare(forged))}
}

func TestEquivocatingPrimary(t *testing.T) {
	for _, n := range []int{4, 7} {
		h := runFaulty(t, n, 11, func(h *harness) { faulty(h, 1, equivocate) })
		require.Positive(t, maxView(h), "n=%d: the correct replicas left the equivocating primary's view", n)
	}
}

func TestSilentPrimary(t *testing.T) {
	h := runFaulty(t, 4, 12, func(h *harness) {
		faulty(h, 1, func(*harness, *replica, consensus.NodeID, []byte) [][]byte { return nil })
	})
	require.Positive(t, maxView(h))
}

func TestSlowPrimary(t *testing.T) {
	h := runFaulty(t, 4, 13, func(h *harness) {
		faulty(h, 1, func(h *harness, from *replica, to consensus.NodeID, data []byte) [][]byte {
			// Everything arrives, but later than the request timeout.
			h.inflight = append(h.inflight, packet{from: from.id, to: to, data: data, notBefore: h.tick + 40})
			return nil
		})
	})
	require.Positive(t, maxView(h))
}

// TestForgedAndReplayedMessages has member 4 send, beside its own
// messages: copies with a flipped signature bit, truncated copies, other
// members' messages as its own, and old messages again.
func TestForgedAndReplayedMessages(t *testing.T) {
	var old [][]byte
	h := runFaulty(t, 4, 14, func(h *harness) {
		faulty(h, 4, func(h *harness, from *replica, to consensus.NodeID, data []byte) [][]byte {
			flipped := slices.Clone(data)
			flipped[len(flipped)-1] ^= 1
			truncated := data[:h.rng.IntN(len(data))]
			// Another member's message, signed by it, sent as 4's.
			impersonated := resign(2, msgType(data[0]), data[headerSize:len(data)-sigSize])
			out := [][]byte{data, flipped, truncated, impersonated}
			if len(old) > 0 {
				out = append(out, old[h.rng.IntN(len(old))])
			}
			if len(old) < 1000 {
				old = append(old, data)
			}
			return out
		})
	})
	for _, r := range h.correct() {
		st := r.core.Stats()
		require.Positive(t, st.BadSignature, "replica %d counted the flipped signatures", r.id)
		require.Positive(t, st.Malformed, "replica %d counted the truncated messages", r.id)
		require.Positive(t, st.WrongSender, "replica %d counted the impersonations", r.id)
	}
}

// TestGarbageFlood has member 4 send random bytes, validly signed
// messages with random bodies, requests far beyond its share, and view
// changes to far-off views, many for every message it means.
func TestGarbageFlood(t *testing.T) {
	h := runFaulty(t, 4, 15, func(h *harness) {
		faulty(h, 4, func(h *harness, from *replica, to consensus.NodeID, data []byte) [][]byte {
			out := [][]byte{data}
			for range 4 {
				junk := make([]byte, h.rng.IntN(200))
				for i := range junk {
					junk[i] = byte(h.rng.Uint32())
				}
				out = append(out, junk, resign(4, msgType(1+h.rng.IntN(int(msgStateTransfer))), junk))
			}
			far := &request{Origin: 4, Seq: 1 << 40, Items: [][]byte{[]byte("beyond its share")}}
			out = append(out, resign(4, msgRequest, encodeRequest(far)))
			vc := &viewChange{View: 1000 + h.rng.Uint64N(1000)}
			out = append(out, resign(4, msgViewChange, encodeViewChange(vc)))
			return out
		})
	})
	for _, r := range h.correct() {
		require.Positive(t, r.core.Stats().Malformed, "replica %d", r.id)
		require.Less(t, r.core.view, uint64(1000), "replica %d followed a lone faulty member to a far view", r.id)
	}
}

// TestWrongCheckpointDigests has member 4 sign checkpoints of a state
// that is not the one it executed: the correct members still agree on
// stable checkpoints without it.
func TestWrongCheckpointDigests(t *testing.T) {
	h := runFaulty(t, 4, 16, func(h *harness) {
		r := faulty(h, 4, nil)
		r.wrongState = true
	})
	for _, r := range h.correct() {
		require.Positive(t, r.core.stable.seq, "replica %d has a stable checkpoint", r.id)
		for _, raw := range r.core.stable.cert {
			e, err := r.core.v.decode(raw)
			require.NoError(t, err)
			require.NotEqual(t, consensus.NodeID(4), e.from, "replica %d: a wrong digest is in a stable checkpoint's certificate", r.id)
		}
	}
}

// TestTwins runs two replicas with one identity (member 1's key): each
// behaves correctly, but together they sign conflicting messages.
func TestTwins(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		h := runFaulty(t, 4, seed, func(h *harness) {
			h.replica(1).faulty = true
			twin := h.addReplica(testConfig(1, 4))
			twin.faulty = true
		})
		require.Len(t, h.correct(), 3)
	}
}

// TestLaggingReplicaTakesState cuts member 4 off while the others move
// several checkpoints on, then heals: it catches up by state transfer.
func TestLaggingReplicaTakesState(t *testing.T) {
	h := newHarness(t, 4, 17)
	h.cut[4] = true
	h.workload(10, 4, 200)
	delete(h.cut, 4)
	// The cut member proposes nothing, so settle needs it to catch up.
	h.settle(400000)
	require.Positive(t, h.replica(4).core.Stats().StateTransfers)
}

func TestTamperedStateIsRefused(t *testing.T) {
	h := newHarness(t, 4, 18)
	h.workload(6, 3, 200)
	h.settle(100000)
	src := h.replica(1).core
	require.Positive(t, src.stable.seq)
	head := encodeStateHead(&src.stable)
	body := slices.Clone(src.stable.data)
	body[len(body)/2] ^= 1
	fresh, err := NewCore(testConfig(4, 4), nil)
	require.NoError(t, err)
	require.ErrorIs(t, fresh.Step(1, append(slices.Clip(head), body...)), errInvalid)
	require.NoError(t, fresh.Step(1, append(slices.Clip(head), src.stable.data...)))
	require.Equal(t, src.stable.seq, fresh.lastExec)
}

// TestRestartKeepsPromises restarts correct replicas from their records
// at random points of a lossy run: the harness checks that none signs a
// second digest where it signed one before, and the run stays safe and
// live.
func TestRestartKeepsPromises(t *testing.T) {
	h := newHarness(t, 4, 19)
	h.drop, h.duplicate = 0.05, 0.05
	for round := range 12 {
		for _, r := range h.correct() {
			h.propose(r, 3)
		}
		for range 300 {
			h.step()
		}
		h.restart(h.replicas[round%4])
	}
	h.settle(400000)
}

// TestTwoFaultyOfSeven has, with n = 7 (f = 2), the primary equivocate
// while another member floods forged copies and signs wrong checkpoints.
func TestTwoFaultyOfSeven(t *testing.T) {
	h := runFaulty(t, 7, 21, func(h *harness) {
		faulty(h, 1, equivocate)
		r := faulty(h, 5, func(h *harness, from *replica, to consensus.NodeID, data []byte) [][]byte {
			flipped := slices.Clone(data)
			flipped[headerSize] ^= 1
			return [][]byte{data, flipped}
		})
		r.wrongState = true
	})
	require.Positive(t, maxView(h))
}

// TestRestartedMemberJoinsTheCurrentView restarts the primary of view 0
// after the others, cut off from it, moved to view 1: as soon as f+1 of
// them show it agreement of the later view, it asks for that view and
// joins it, rather than stay primary of a view nobody works in.
func TestRestartedMemberJoinsTheCurrentView(t *testing.T) {
	h := newHarness(t, 4, 23)
	h.cut[1] = true
	others := h.replicas[1:]
	for _, r := range others {
		h.propose(r, 2)
	}
	movedOn := h.run(100000, func() bool {
		for _, r := range others {
			if st := r.core.Status(); st.Term == 0 || st.Leader == 0 || len(r.history.Entries) < 6 {
				return false
			}
		}
		return true
	})
	require.True(t, movedOn, "the others change view and order their requests without member 1")
	view := h.replica(2).core.Status().Term

	old := h.replica(1)
	h.restart(old)
	require.Equal(t, uint64(0), old.core.Status().Term, "restarted in the view it left")
	delete(h.cut, 1)
	for _, r := range others {
		h.propose(r, 1)
	}
	from := h.tick
	joined := h.run(100000, func() bool {
		st := old.core.Status()
		return st.Term == view && st.Leader == h.replica(2).core.Status().Leader
	})
	require.True(t, joined, "member 1 joins view %d", view)
	require.Less(t, h.tick-from, testConfig(1, 4).RequestTimeoutTicks, "it joined before any request it holds timed out")
	h.settle(400000)
}

// TestMembersSplitAcrossViewsMoveOn: member 1 is silent; members 2 and 3
// change to view 2 and member 4 to view 3, as in Byzantine simulator seed
// 23, where member 4's view change to 2 had timed out while 2 and 3,
// restarted since, had forgotten the view changes they had received.
// Neither side has a quorum for its own view, nor f+1 others ahead of it
// to follow: members 2 and 3 waited in view 2 for good. Member 4's view
// change for view 3 says it has left view 2 too, so 2 and 3 time out
// and join it, and the requests commit.
func TestMembersSplitAcrossViewsMoveOn(t *testing.T) {
	h := newHarness(t, 4, 23)
	faulty(h, 1, func(*harness, *replica, consensus.NodeID, []byte) [][]byte { return nil })
	h.replica(2).core.startViewChange(2)
	h.replica(3).core.startViewChange(2)
	h.replica(4).core.startViewChange(3)
	for _, r := range h.correct() {
		h.propose(r, 2)
	}
	h.settle(400000)
	for _, r := range h.correct() {
		require.GreaterOrEqual(t, r.core.Status().Term, uint64(3), "member %d left view 2", r.id)
	}
}

// TestANewViewIsNotSuspectedAtOnce: the view change to view 1 (primary
// 2) waits for member 4, cut off, for several request timeouts while the
// members hold a request. Once the view starts, its primary orders the
// request and the view stays: timed from the start of the view change,
// the request would be overdue at the new view's first tick, and the
// primary would give up its own view at once (Byzantine simulator seed
// 23, where member 4 did that as primary of view 3).
func TestANewViewIsNotSuspectedAtOnce(t *testing.T) {
	h := newHarness(t, 4, 5)
	faulty(h, 1, func(*harness, *replica, consensus.NodeID, []byte) [][]byte { return nil })
	h.cut[4] = true
	h.propose(h.replica(2), 1)
	timeout := testConfig(2, 4).RequestTimeoutTicks
	for _, id := range []consensus.NodeID{2, 3} {
		h.replica(id).core.startViewChange(1)
	}
	from := h.tick
	require.True(t, h.run(100000, func() bool { return h.tick-from > 3*timeout }))
	for _, id := range []consensus.NodeID{2, 3} {
		c := h.replica(id).core
		require.True(t, c.changing && c.view == 1, "member %d waits in the view change to 1", id)
	}
	delete(h.cut, 4)
	h.replica(4).core.startViewChange(1)
	h.settle(400000)
	for _, r := range h.correct() {
		require.Equal(t, uint64(1), r.core.Status().Term, "member %d stays in view 1", r.id)
	}
}

// TestAReplicaThatMissedABatchsCommitsAsksForIt: member 4 gets the last
// batch only in its pre-prepare (the request itself was lost on its way)
// and none of the others' commits. It prepared and committed the batch
// itself, so it resends its own votes, but nothing of the batch waits in
// its requests, and the others, having executed the batch, resend nothing
// for it: with no new request, it stayed one batch behind for good
// (Byzantine simulator seed 17). It asks for the decided batch once its
// agreement outlasts a resend period.
func TestAReplicaThatMissedABatchsCommitsAsksForIt(t *testing.T) {
	h := newHarness(t, 4, 3)
	lost := true
	for _, r := range h.replicas[:3] {
		r.behave = func(_ *harness, _ *replica, to consensus.NodeID, data []byte) [][]byte {
			if typ := msgType(data[0]); lost && to == 4 && (typ == msgRequest || typ == msgCommit) {
				return nil
			}
			return [][]byte{data}
		}
	}
	h.propose(h.replica(1), 1)
	others := func() bool {
		for _, r := range h.replicas[:3] {
			if len(r.history.Entries) == 0 {
				return false
			}
		}
		return true
	}
	require.True(t, h.run(100000, others), "members 1 to 3 execute the batch")
	four := h.replica(4)
	require.True(t, h.run(100000, func() bool { return four.core.signed[signKey{msgCommit, 0, 1}].raw != nil }),
		"member 4 commits to the batch")
	require.Empty(t, four.history.Entries)
	lost = false
	h.settle(100000)
}

// requireSigned fails the test when one of raws, signed messages of the
// harness's members, has a bad signature.
func requireSigned(t *testing.T, what string, raws [][]byte) {
	t.Helper()
	keys := testMembers(4)
	for _, raw := range raws {
		from := signerOf(raw)
		require.True(t, ed25519.Verify(keys[from], signedBytes(signingPrefix(testClusterID), raw[:len(raw)-sigSize]), raw[len(raw)-sigSize:]),
			"%s holds a vote of %d with a bad signature", what, from)
	}
}

// forgeVote is member from's vote v with a bad signature.
func forgeVote(from consensus.NodeID, typ msgType, v *vote) []byte {
	raw := resign(from, typ, encodeVote(v))
	raw[len(raw)-1] ^= 1
	return raw
}

// TestForgedPreparesNeverCount feeds one backup prepares with bad
// signatures, as their signers' own transport would deliver them, before
// and among the genuine ones: they must never complete a quorum, never
// appear in a prepared certificate (which must convince the next view's
// primary), and each one checked must be counted. A genuine prepare
// beyond the quorum is never checked, and a forged one held first does
// not shut out its signer's genuine one.
func TestForgedPreparesNeverCount(t *testing.T) {
	const n = 4
	primary, err := NewCore(testConfig(1, n), nil)
	require.NoError(t, err)
	backup, err := NewCore(testConfig(2, n), nil)
	require.NoError(t, err)
	require.NoError(t, primary.Propose([]byte("x")))
	var pp []byte
	for _, m := range primary.Ready().Messages {
		if m.To == 2 {
			pp = m.Data
		}
	}
	e, err := primary.v.decode(pp)
	require.NoError(t, err)
	v := &vote{View: 0, Seq: 1, Digest: e.body.(*prePrepare).digest}
	bad := func() uint64 { return backup.Stats().BadSignature }

	// Prepares held before the pre-prepare: not checked yet.
	require.NoError(t, backup.Step(3, forgeVote(3, msgPrepare, v)))
	require.NoError(t, backup.Step(4, forgeVote(4, msgPrepare, v)))
	require.Zero(t, bad(), "votes that cannot count yet are not checked")

	// A forged prepare held first does not shut out its signer's genuine one.
	require.NoError(t, backup.Step(3, resign(3, msgPrepare, encodeVote(v))))
	require.Equal(t, uint64(1), bad(), "the forged prepare was checked when the genuine one came")

	// With the pre-prepare, the backup's own prepare and member 3's
	// genuine one are the quorum; member 4's forged one is never checked.
	require.NoError(t, backup.Step(1, pp))
	s := backup.slots[1]
	require.True(t, s.prepared, "the genuine prepare completed the quorum")
	require.Equal(t, uint64(1), bad())
	requireSigned(t, "the prepared certificate", backup.certs[1].Prepares)

	// At another backup, the forged prepares alone make no quorum.
	other, err := NewCore(testConfig(3, n), nil)
	require.NoError(t, err)
	require.NoError(t, other.Step(1, pp))
	require.NoError(t, other.Step(2, forgeVote(2, msgPrepare, v)))
	require.NoError(t, other.Step(4, forgeVote(4, msgPrepare, v)))
	require.False(t, other.slots[1].prepared, "a forged prepare completed the quorum")
	require.Equal(t, uint64(2), other.Stats().BadSignature, "both forged prepares were checked and counted")
	require.NoError(t, other.Step(4, resign(4, msgPrepare, encodeVote(v))))
	require.True(t, other.slots[1].prepared)
	requireSigned(t, "the prepared certificate", other.certs[1].Prepares)
	require.NoError(t, other.Step(2, resign(2, msgPrepare, encodeVote(v))))
	require.False(t, other.slots[1].prepares[2].checked, "a prepare beyond the quorum was checked")
}

// TestAMessageSignedForAnotherClusterIsRefused: a member of two clusters
// with one key signs for each; what it signed in one is no message of
// the other, so it cannot be replayed there.
func TestAMessageSignedForAnotherClusterIsRefused(t *testing.T) {
	n := newQuietNet(t, 4)
	backup := n.cores[2]
	pp := encodePrePrepare(&prePrepare{View: 0, Seq: 1})
	elsewhere := seal(signingPrefix("another-cluster"), testKey(1), msgPrePrepare, 1, pp)
	require.ErrorIs(t, backup.Step(1, elsewhere), errBadSignature)
	require.NotContains(t, backup.slots, uint64(1), "the backup took the pre-prepare")
	require.NoError(t, backup.Step(1, resign(1, msgPrePrepare, pp)), "the same pre-prepare signed for this cluster")
	require.Contains(t, backup.slots, uint64(1))
}

// TestARestartedReplicaKnowsWhenItHasCaughtUp: a replica that restarted
// reports no LeaderCommit (so its node takes no clients) until it knows
// it has caught up, then its own index. Member 2 restarts while the
// others have moved a stable checkpoint past its records, and member 4
// is silent, so that neither the others' checkpoint messages (two) nor
// its own and theirs make a quorum for the newest: it must be sent the
// state. It restarts from a stable checkpoint of its own, or from none
// (a young cluster's member, which cannot tell from a checkpoint whether
// the others have one, and waits while it asks them).
func TestARestartedReplicaKnowsWhenItHasCaughtUp(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stable uint64 // member 2's stable checkpoint when it stops
	}{{"from its stable checkpoint", 4}, {"from no checkpoint", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 4, 29)
			late := h.replica(2)
			fresh := late.core.Status()
			require.Equal(t, fresh.Commit, fresh.LeaderCommit, "a replica with no records has nothing to catch up on")
			for _, r := range h.correct() {
				h.propose(r, 1)
			}
			for round := 0; round < 50 && late.core.stable.seq < tc.stable; round++ {
				for _, r := range h.correct() {
					h.propose(r, 1)
				}
				for range 300 {
					h.step()
				}
			}
			require.Equal(t, tc.stable, late.core.stable.seq, "member 2's stable checkpoint")
			h.cut[2] = true
			for round := 0; round < 50 && h.replica(1).core.stable.seq < tc.stable+8; round++ {
				for _, r := range []*replica{h.replica(1), h.replica(3), h.replica(4)} {
					h.propose(r, 1)
				}
				for range 300 {
					h.step()
				}
			}
			require.Greater(t, h.replica(1).core.stable.seq, tc.stable, "the others moved a checkpoint past member 2")
			h.cut[4] = true
			delete(h.cut, 2)
			h.restart(late)
			require.Zero(t, late.core.Status().LeaderCommit, "just restarted, it cannot know how far the others went")
			caughtUp := h.run(200000, func() bool { return late.core.Status().LeaderCommit > 0 })
			require.True(t, caughtUp, "member 2 learns it has caught up")
			st, ahead := late.core.Status(), h.replica(1).core.Status()
			require.Equal(t, st.Commit, st.LeaderCommit)
			require.GreaterOrEqual(t, st.Commit, ahead.Snapshot, "it serves only once past the others' stable checkpoint")
		})
	}
}

// A member of a cluster that has no checkpoint yet, restarted, takes
// clients once it has asked the others for what they decided.
func TestARestartedReplicaOfAYoungClusterTakesClients(t *testing.T) {
	h := newHarness(t, 4, 31)
	for _, r := range h.correct() {
		h.propose(r, 1)
	}
	h.settle(400000)
	late := h.replica(2)
	require.Zero(t, late.core.stable.seq, "no checkpoint yet")
	h.restart(late)
	require.Zero(t, late.core.Status().LeaderCommit)
	caughtUp := h.run(200000, func() bool { return late.core.Status().LeaderCommit > 0 })
	require.True(t, caughtUp, "member 2 takes clients again")
	require.Equal(t, h.replica(1).core.Status().Commit, late.core.Status().LeaderCommit)
}
