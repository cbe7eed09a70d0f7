package bft

import (
	"errors"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
)

// A commit counts on its signer's word: it came over the signer's own
// authenticated channel. Its signature is checked only when it goes out
// in a decided proof (see "Commits taken on their signer's word" in
// docs/byzantine.md).

// flipCommits sends a member's commits with a flipped signature bit, and
// none of its decided proofs, which hold its genuine commits.
func flipCommits(_ *harness, _ *replica, _ consensus.NodeID, data []byte) [][]byte {
	switch msgType(data[0]) {
	case msgDecided:
		return nil
	case msgCommit:
	default:
		return [][]byte{data}
	}
	flipped := slices.Clone(data)
	flipped[len(flipped)-1] ^= 1
	return [][]byte{flipped}
}

// TestABadCommitSignatureStillLetsTheOthersDecide: member 3 is cut off
// and member 4 signs its commits badly, so members 1 and 2 can decide
// only on member 4's commits. Checked, those never counted, and no view
// could decide anything; counted on their signer's word, they do.
func TestABadCommitSignatureStillLetsTheOthersDecide(t *testing.T) {
	h := newHarness(t, 4, 41)
	faulty(h, 4, flipCommits)
	h.cut[3] = true
	two := h.replicas[:2]
	for _, r := range two {
		h.propose(r, 3)
	}
	executed := func() bool {
		for _, r := range two {
			if len(r.history.Entries) < 6 {
				return false
			}
		}
		return true
	}
	require.True(t, h.run(60000, executed), "members 1 and 2 execute what they proposed")
	for _, r := range two {
		require.Zero(t, r.core.Stats().ViewChanges, "member %d changed view", r.id)
	}
}

// TestADecidedProofGoesOutWithGoodSignaturesOnly: a backup decides on
// its own commit, the primary's and member 4's with a bad signature,
// checking none. The proof it serves to a member catching up must hold
// only good signatures: none while it holds no good commit to replace
// member 4's, the mended one once member 3's commit has come. A proof
// received from another member is checked, and one holding a bad
// commit refused.
func TestADecidedProofGoesOutWithGoodSignaturesOnly(t *testing.T) {
	const n = 4
	cores := map[consensus.NodeID]*Core{}
	for id := consensus.NodeID(1); id <= n; id++ {
		core, err := NewCore(testConfig(id, n), nil)
		require.NoError(t, err)
		cores[id] = core
	}
	primary, backup, asker := cores[1], cores[2], cores[3]
	require.NoError(t, primary.Propose([]byte("x")))
	for _, m := range primary.Ready().Messages {
		if m.To == 2 {
			require.NoError(t, backup.Step(1, m.Data))
		}
	}
	s := backup.slots[1]
	v := &vote{View: 0, Seq: 1, Digest: s.pp.digest}
	require.NoError(t, backup.Step(3, resign(3, msgPrepare, encodeVote(v))))
	require.True(t, s.prepared)
	require.NoError(t, backup.Step(4, forgeVote(4, msgCommit, v)))
	require.NoError(t, backup.Step(1, resign(1, msgCommit, encodeVote(v))))
	require.True(t, s.decided, "the commits from their signers decided the batch")
	require.Zero(t, backup.Stats().BadSignature, "no commit was checked to decide")
	held := backup.proofs[1]
	require.Contains(t, held.Commits, forgeVote(4, msgCommit, v), "the proof held has member 4's commit")
	backup.Ready()
	backup.Ready() // executes the batch once its own commit is out
	require.Equal(t, uint64(1), backup.lastExec)

	fetch := func(from consensus.NodeID) [][]byte {
		require.NoError(t, backup.Step(from, resign(from, msgFetchDecided, encodeStateRequest(&stateRequest{Seq: 1}))))
		var proofs [][]byte
		for _, m := range backup.Ready().Messages {
			if m.To == from && msgType(m.Data[0]) == msgDecided {
				proofs = append(proofs, m.Data)
			}
		}
		return proofs
	}
	require.Empty(t, fetch(4), "a proof with a bad signature went out")
	require.Equal(t, uint64(1), backup.Stats().BadSignature, "the bad commit was counted")

	require.NoError(t, backup.Step(3, resign(3, msgCommit, encodeVote(v))))
	proofs := fetch(3)
	require.Len(t, proofs, 1, "the mended proof goes out")
	e, err := asker.v.decode(proofs[0])
	require.NoError(t, err, "the proof convinces the member that asked")
	requireSigned(t, "the served proof", e.body.(*decidedProof).Commits)
	requireSigned(t, "the proof kept", backup.proofs[1].Commits)

	unmended := resign(2, msgDecided, encodeDecidedProof(held))
	require.ErrorIs(t, asker.Step(2, unmended), errBadSignature, "a proof holding a bad commit was taken")
}

// TestARestartWithABadCommitInADecidedRecordExecutesIt: member 2
// decides on member 4's badly signed commits (member 3's do not reach
// it), so its decided records hold them. Restarted, it takes those
// records as it took the commits, on their senders' word, instead of
// refusing to start: a restart that rebuilds its state from the batches
// before its stable checkpoint asks no one for them, and one that
// dropped them waited for good (the simulator's seed 124 with
// forged-messages).
func TestARestartWithABadCommitInADecidedRecordExecutesIt(t *testing.T) {
	h := newHarness(t, 4, 43)
	faulty(h, 4, flipCommits)
	h.replica(3).behave = func(_ *harness, _ *replica, to consensus.NodeID, data []byte) [][]byte {
		if to == 2 && msgType(data[0]) == msgCommit {
			return nil
		}
		return [][]byte{data}
	}
	late := h.replica(2)
	badRecord := func() bool {
		for _, rec := range late.records {
			if recordKind(rec[0]) == recordDecided {
				if _, err := late.core.v.decodeDecidedProof(rec[1:], 0, true); errors.Is(err, errBadSignature) {
					return true
				}
			}
		}
		return false
	}
	for round := 0; round < 20 && !badRecord(); round++ {
		for _, r := range h.correct() {
			h.propose(r, 1)
		}
		for range 300 {
			h.step()
		}
	}
	require.True(t, badRecord(), "member 2 persisted a decided proof with member 4's bad commit")
	executed := late.core.lastExec
	h.restart(late)
	require.Equal(t, executed, late.core.lastExec, "it re-executed its decided records, bad commits and all")
	h.settle(400000)
}
