package bft

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
)

// seedMessages are one valid message of every kind, for the fuzzer to
// mutate.
func seedMessages() [][]byte {
	req := resign(1, msgRequest, encodeRequest(&request{Origin: 1, Seq: 1, Items: [][]byte{[]byte("x")}}))
	pp := &prePrepare{View: 0, Seq: 1, Requests: [][]byte{req}}
	ppRaw := resign(1, msgPrePrepare, encodePrePrepare(pp))
	d := batchDigest(pp.Requests)
	var prepares, commits [][]byte
	for _, id := range []consensus.NodeID{2, 3, 4} {
		prepares = append(prepares, resign(id, msgPrepare, encodeVote(&vote{View: 0, Seq: 1, Digest: d})))
	}
	for _, id := range []consensus.NodeID{1, 2, 3} {
		commits = append(commits, resign(id, msgCommit, encodeVote(&vote{View: 0, Seq: 1, Digest: d})))
	}
	var vcs [][]byte
	for _, id := range []consensus.NodeID{1, 2, 3} {
		vc := &viewChange{View: 1, Prepared: []preparedCert{{PrePrepare: ppRaw, Prepares: prepares[1:]}}}
		vcs = append(vcs, resign(id, msgViewChange, encodeViewChange(vc)))
	}
	pp1 := resign(2, msgPrePrepare, encodePrePrepare(&prePrepare{View: 1, Seq: 1, Requests: pp.Requests}))
	nv := resign(2, msgNewView, encodeNewView(&newView{View: 1, ViewChanges: vcs, PrePrepares: [][]byte{pp1}}))
	return [][]byte{
		req, ppRaw, prepares[0], commits[0], vcs[0], nv,
		resign(3, msgCheckpoint, encodeCheckpoint(&checkpoint{Seq: 4, Digest: d})),
		resign(3, msgStateRequest, encodeStateRequest(&stateRequest{Seq: 4})),
		resign(3, msgFetchDecided, encodeStateRequest(&stateRequest{Seq: 1})),
		resign(3, msgDecided, encodeDecidedProof(&decidedProof{PrePrepare: ppRaw, Commits: commits})),
		resign(3, msgRejoinQuery, encodeRejoinQuery(&rejoinQuery{Incarnation: 2, Target: 24})),
		resign(3, msgRejoinAnswer, encodeRejoinAnswer(&rejoinAnswer{Incarnation: 2})),
	}
}

func TestSeedMessagesAreAccepted(t *testing.T) {
	core, err := NewCore(testConfig(4, 4), nil)
	require.NoError(t, err)
	for _, m := range seedMessages() {
		_, err := core.v.decode(m)
		require.NoError(t, err, "%s", msgType(m[0]))
	}
}

// FuzzStep feeds arbitrary bytes to a replica as a message from the member
// the bytes name: the decoder and the core must refuse what is not a valid
// message without panicking.
func FuzzStep(f *testing.F) {
	for _, m := range seedMessages() {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		core, err := NewCore(testConfig(4, 4), nil)
		require.NoError(t, err)
		from := consensus.NodeID(1)
		if len(data) >= 9 {
			from = consensus.NodeID(binary.BigEndian.Uint64(data[1:9]))
		}
		_ = core.Step(from, data)
		_ = core.Ready()
	})
}
