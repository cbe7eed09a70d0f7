package replica

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/outputs"
)

// byzantineWorld is the world of a Byzantine cluster of four (f = 1):
// two contributors per random batch. It returns the outputs of the
// first draw.
func byzantineWorld(t *testing.T) (*world, []outputs.Output) {
	t.Helper()
	w := newWorld(entry.Boot{
		Time: 1_000_000, NanosPerInstruction: 10,
		Members:            []consensus.NodeID{1, 2, 3, 4},
		RandomContributors: 2,
	}, nil)
	w.Random(len(entry.Boot{}.AuxRandom)) // the AT_RANDOM bytes
	return w, w.drain()
}

func batchOf(b byte) []byte { return bytes.Repeat([]byte{b}, randomBatch) }

func commitTo(node consensus.NodeID, round uint64, batch []byte) entry.RandomCommit {
	return entry.RandomCommit{Node: node, Round: round, Hash: sha256.Sum256(batch)}
}

func refillsOf(outs []outputs.Output) map[consensus.NodeID]outputs.Refill {
	m := map[consensus.NodeID]outputs.Refill{}
	for _, o := range outs {
		if r, ok := o.Action.(outputs.Refill); ok {
			m[o.Node] = r
		}
	}
	return m
}

func xor(a, b []byte) []byte {
	out := make([]byte, len(a))
	for i := range a {
		out[i] = a[i] ^ b[i]
	}
	return out
}

// The pool gets the XOR of f+1 contributors' batches, each revealed only
// after every contributor's hash is ordered; nothing a contributor
// proposes out of turn, or that does not match its hash, counts.
func TestByzantineDrawFillsThePoolWithTheXOROfCommittedBatches(t *testing.T) {
	w, outs := byzantineWorld(t)
	require.Equal(t, map[consensus.NodeID]outputs.Refill{
		2: {Bytes: randomBatch, Round: 1},
		3: {Bytes: randomBatch, Round: 1},
	}, refillsOf(outs), "two members, in turn, are asked to commit")

	a, b := batchOf(0x0f), batchOf(0x3c)
	w.deliver(0, entry.Random{Node: 2, Data: a})
	w.deliver(0, commitTo(1, 1, batchOf(0xff)))
	w.deliver(0, commitTo(2, 2, a))
	require.Empty(t, w.drain(), "a batch before the commitments, a non-contributor's and another round's commitment change nothing")

	w.deliver(0, commitTo(2, 1, a))
	w.deliver(0, commitTo(2, 1, batchOf(0x01)))
	require.Empty(t, w.drain(), "one commitment is not all of them, and a second one does not replace the first")
	w.deliver(0, commitTo(3, 1, b))
	require.Equal(t, map[consensus.NodeID]outputs.Refill{
		2: {Bytes: randomBatch, Round: 1, Reveal: true},
		3: {Bytes: randomBatch, Round: 1, Reveal: true},
	}, refillsOf(w.drain()), "the last commitment asks every contributor to reveal")

	w.deliver(0, entry.Random{Node: 2, Data: batchOf(0x01)})
	w.deliver(0, entry.Random{Node: 4, Data: batchOf(0x02)})
	w.deliver(0, entry.Random{Node: 2, Data: a})
	require.Empty(t, w.Random(8), "no bytes until every contributor revealed its batch")
	w.deliver(0, entry.Random{Node: 3, Data: b})
	require.Equal(t, xor(a, b), w.Random(2*randomBatch), "the XOR of the committed batches, not the one that did not match")
	require.Equal(t, uint64(1), w.counts.randomBatches)
}

// A contributor that withholds its batch is passed over once the
// deadline in guest time has gone by, and the next round, without it,
// fills the pool.
func TestByzantineDrawPassesOverAContributorThatWithholds(t *testing.T) {
	w, _ := byzantineWorld(t)
	w.deliver(0, commitTo(2, 1, batchOf(1)))
	w.deliver(0, commitTo(3, 1, batchOf(2)))
	w.drain()
	w.deliver(0, entry.Random{Node: 2, Data: batchOf(1)})
	require.Equal(t, &outputs.Refill{Bytes: randomBatch, Round: 1, Reveal: true}, w.owed(3).Refill, "node 3 owes its batch")
	require.Nil(t, w.owed(2).Refill, "node 2 has given its batch")

	justBefore := uint64(randomDeadline / 10)
	w.deliver(justBefore, entry.Seal{Through: 1})
	require.Empty(t, w.drain(), "the deadline has not gone by")
	w.deliver(justBefore+1, entry.Seal{Through: 2})
	next := refillsOf(w.drain())
	require.Len(t, next, 2, "a new round: %v", next)
	require.NotContains(t, next, consensus.NodeID(3), "the member that withheld its batch is passed over")
	require.True(t, w.passedOver[3])
	require.Nil(t, w.owed(3).Refill)

	var round uint64
	var batches [][]byte
	for n, r := range next {
		round = r.Round
		batch := batchOf(byte(n))
		batches = append(batches, batch)
		w.deliver(justBefore+1, commitTo(n, r.Round, batch))
	}
	require.Equal(t, uint64(2), round)
	w.drain()
	for n := range next {
		w.deliver(justBefore+1, entry.Random{Node: n, Data: batchOf(byte(n))})
	}
	require.Equal(t, xor(batches[0], batches[1]), w.Random(randomBatch))
}

// A contributor declared down is replaced at once; when fewer members than
// contributors remain eligible, the ones passed over are given another
// chance, so the guest's pool never stops for want of contributors.
func TestByzantineDrawReplacesLostContributors(t *testing.T) {
	w, _ := byzantineWorld(t)
	w.deliver(0, entry.NodeDown{Node: 3})
	next := refillsOf(w.drain())
	require.Len(t, next, 2)
	require.NotContains(t, next, consensus.NodeID(3))

	w.passedOver[1], w.passedOver[2] = true, true
	w.deliver(0, entry.NodeDown{Node: 4})
	next = refillsOf(w.drain())
	require.Len(t, next, 2, "with 3 and 4 down and 1 and 2 passed over, 1 and 2 contribute again: %v", next)
	require.Contains(t, next, consensus.NodeID(1))
	require.Contains(t, next, consensus.NodeID(2))
	require.Empty(t, w.passedOver)
}

// A draw in progress is replicated state: a world restored from a
// snapshot finishes it exactly as the original would.
func TestByzantineDrawSurvivesASnapshot(t *testing.T) {
	w, _ := byzantineWorld(t)
	w.deliver(0, commitTo(2, 1, batchOf(5)))
	restored, err := decodeWorld(w.encode())
	require.NoError(t, err)
	for _, w := range []*world{w, restored} {
		w.deliver(0, commitTo(3, 1, batchOf(6)))
		w.deliver(0, entry.Random{Node: 2, Data: batchOf(5)})
		w.deliver(0, entry.Random{Node: 3, Data: batchOf(6)})
	}
	require.Equal(t, w.encode(), restored.encode())
	require.Equal(t, batchOf(5^6), restored.Random(randomBatch))
}
