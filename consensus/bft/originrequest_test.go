package bft

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
)

// badRequest is request seq of origin with its signature's last bit
// flipped.
func badRequest(origin consensus.NodeID, seq uint64, item string) []byte {
	raw := resign(origin, msgRequest, encodeRequest(&request{Origin: origin, Seq: seq, Items: [][]byte{[]byte(item)}}))
	raw[len(raw)-1] ^= 1
	return raw
}

// deliver steps msgs, sent by from, into every core but skip's.
func (n *quietNet) deliver(from consensus.NodeID, msgs []Message, skip consensus.NodeID) {
	for _, m := range msgs {
		if m.To != skip {
			_ = n.cores[m.To].Step(from, m.Data)
		}
	}
}

// TestABadRequestFromItsOriginIsNeverOrdered: a faulty origin sends every
// member a request with a bad signature. The backups take it from the
// origin without checking it, but the primary checks what it orders and
// drops it, and the backups check it before it could make them suspect
// the primary: no batch holds it and no view changes.
func TestABadRequestFromItsOriginIsNeverOrdered(t *testing.T) {
	n := newQuietNet(t, 4)
	bad := badRequest(4, 1, "forged")
	for id := consensus.NodeID(1); id <= 3; id++ {
		require.NoError(t, n.cores[id].Step(4, bad), "member %d: taken from its origin unchecked", id)
	}
	n.settle()
	primary := n.cores[1]
	require.Equal(t, uint64(1), primary.nextSeq, "the primary ordered a batch")
	require.Equal(t, uint64(1), primary.Stats().BadSignature)
	require.Empty(t, primary.pending)
	// The same bytes passed on by another member: those from their origin
	// were never checked, so they still are before being ordered.
	require.NoError(t, primary.Step(3, bad))
	n.settle()
	require.Equal(t, uint64(1), primary.nextSeq, "the primary ordered a batch")
	require.Equal(t, uint64(2), primary.Stats().BadSignature)

	for range 2 * primary.cfg.RequestTimeoutTicks {
		for id := consensus.NodeID(1); id <= 3; id++ {
			n.cores[id].Tick()
		}
		n.settle()
	}
	for id := consensus.NodeID(1); id <= 3; id++ {
		c := n.cores[id]
		require.Equal(t, uint64(0), c.view, "member %d changed view", id)
		require.False(t, c.changing, "member %d suspects the primary", id)
		require.Empty(t, c.pending, "member %d", id)
		require.Empty(t, n.apps[id].Entries, "member %d", id)
	}
	require.Equal(t, uint64(1), n.cores[2].Stats().BadSignature, "checked once it had waited")

	require.NoError(t, n.cores[2].Propose([]byte("x")))
	n.settle()
	require.Equal(t, []string{"x"}, n.apps[3].Entries, "ordering goes on")
}

// TestAForgedRequestIsRefusedFromAnyoneButItsOrigin: a faulty primary
// passes on a request it forged for member 3, alone and in a batch; a
// backup that did not get those bytes from member 3 checks them and
// refuses both.
func TestAForgedRequestIsRefusedFromAnyoneButItsOrigin(t *testing.T) {
	n := newQuietNet(t, 4)
	backup := n.cores[2]
	forged := badRequest(3, 1, "forged")
	require.ErrorIs(t, backup.Step(1, forged), errBadSignature)
	pp := resign(1, msgPrePrepare, encodePrePrepare(&prePrepare{View: 0, Seq: 1, Requests: [][]byte{forged}}))
	require.ErrorIs(t, backup.Step(1, pp), errBadSignature)
	require.Empty(t, backup.pending)
	require.NotContains(t, backup.slots, uint64(1), "the backup took the batch")
	require.False(t, containsType(backup.Ready().Messages, msgPrepare), "the backup prepared the batch")
}

// TestADecidedBatchNeedsNoCheckOfItsRequests: a faulty primary orders its
// own request with a bad signature, which it sent two backups directly;
// they take the batch, since the request came from its origin, and
// decide it. The member that never got the request takes the decided
// batch from its proof, whose quorum vouches for the request: were the
// requests in proofs checked, it could never execute that batch, nor
// could a view change carry it.
func TestADecidedBatchNeedsNoCheckOfItsRequests(t *testing.T) {
	n := newQuietNet(t, 4)
	bad := badRequest(1, 1, "from a faulty origin")
	pp := &prePrepare{View: 0, Seq: 1, Requests: [][]byte{bad}}
	ppRaw := resign(1, msgPrePrepare, encodePrePrepare(pp))
	commit := resign(1, msgCommit, encodeVote(&vote{View: 0, Seq: 1, Digest: batchDigest(pp.Requests)}))
	for _, id := range []consensus.NodeID{2, 3} {
		require.NoError(t, n.cores[id].Step(1, bad))
		require.NoError(t, n.cores[id].Step(1, ppRaw), "member %d: the request came from its origin", id)
	}
	for round := 0; round < 3; round++ {
		for _, id := range []consensus.NodeID{2, 3} {
			rd := n.cores[id].Ready()
			require.NoError(t, n.apps[id].Apply(rd.Applies...))
			n.deliver(id, rd.Messages, 4)
		}
		if round == 0 {
			for _, id := range []consensus.NodeID{2, 3} {
				require.NoError(t, n.cores[id].Step(1, commit))
			}
		}
	}
	proof, ok := n.cores[2].proofs[1]
	require.True(t, ok, "members 2 and 3 decided the batch")
	require.Equal(t, []string{"from a faulty origin"}, n.apps[2].Entries)

	late := n.cores[4]
	require.NoError(t, late.Step(2, n.cores[2].sign(msgDecided, encodeDecidedProof(proof))))
	rd := late.Ready()
	require.Len(t, rd.Applies, 1)
	require.Equal(t, []byte("from a faulty origin"), rd.Applies[0].Entries[0].Data)
}

// TestEachProposalCountsTowardABatchsBytes: a request of 256 empty
// proposals holds no bytes, but every node delivers 256 entries for it;
// counted by their bytes alone, a batch could hold 262,144 of them. Each
// proposal counts itemCost more than it holds, so a batch of such
// requests beyond MaxBatchBytes is refused.
func TestEachProposalCountsTowardABatchsBytes(t *testing.T) {
	n := newQuietNet(t, 4)
	backup := n.cores[2]
	cfg := testConfig(2, 4)
	require.NoError(t, cfg.Validate())
	empty := make([][]byte, maxRequestItems)
	requests := cfg.MaxBatchBytes/(maxRequestItems*32) + 1 // 32 bytes a proposal
	var batch [][]byte
	for seq := 1; seq <= requests; seq++ {
		batch = append(batch, resign(1, msgRequest, encodeRequest(&request{Origin: 1, Seq: uint64(seq), Items: empty})))
	}
	pp := resign(1, msgPrePrepare, encodePrePrepare(&prePrepare{View: 0, Seq: 1, Requests: batch}))
	require.ErrorIs(t, backup.Step(1, pp), errInvalid)
	require.NotContains(t, backup.slots, uint64(1), "the backup took the batch")
}
