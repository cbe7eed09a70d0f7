package bft

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
)

// requestsIn decodes the requests among msgs, each once (a broadcast
// sends one to every member).
func requestsIn(t *testing.T, c *Core, msgs []Message) []*request {
	seen := map[string]bool{}
	var reqs []*request
	for _, m := range msgs {
		if len(m.Data) == 0 || msgType(m.Data[0]) != msgRequest || seen[string(m.Data)] {
			continue
		}
		seen[string(m.Data)] = true
		e, err := c.v.decode(m.Data)
		require.NoError(t, err)
		reqs = append(reqs, e.body.(*request))
	}
	return reqs
}

// TestProposalsWhileARequestWaitsGoAsOne: the proposals a member makes
// while its earlier request waits for a batch go out as one request once
// that request is in a batch, and still execute as one entry each, in
// the order proposed, with dense indexes.
func TestProposalsWhileARequestWaitsGoAsOne(t *testing.T) {
	n := newQuietNet(t, 4)
	c := n.cores[2] // a backup: member 1 is view 0's primary
	require.NoError(t, c.Propose([]byte("a")))
	rd := c.Ready()
	reqs := requestsIn(t, c, rd.Messages)
	require.Len(t, reqs, 1)
	require.Len(t, reqs[0].Items, 1)
	for _, m := range rd.Messages {
		if m.To != n.held {
			require.NoError(t, n.cores[m.To].Step(2, m.Data))
		}
	}

	require.NoError(t, c.Propose([]byte("b")))
	require.NoError(t, c.Propose([]byte("c")))
	require.Empty(t, requestsIn(t, c, c.Ready().Messages), "sent while request 1 waits for a batch")
	n.settle()
	for id, app := range n.apps {
		if id != n.held {
			require.Equal(t, []string{"a", "b", "c"}, app.Entries, "member %d", id)
			require.Equal(t, uint64(3), app.Index, "member %d", id)
		}
	}
	require.Equal(t, uint64(3), c.nextReq, "b and c went as one request")
}

// TestAGatheredRequestKeepsToMaxRequestBytes: the outbox goes out as a
// request of its own before a proposal would take it past
// MaxRequestBytes.
func TestAGatheredRequestKeepsToMaxRequestBytes(t *testing.T) {
	cfg := testConfig(2, 4)
	cfg.MaxRequestBytes = 8 + 2*itemCost // two proposals of 8 bytes in all
	c, err := NewCore(cfg, nil)
	require.NoError(t, err)
	for _, d := range []string{"aaaaa", "bbb", "ccccc", "dddd"} {
		require.NoError(t, c.Propose([]byte(d)))
	}
	reqs := requestsIn(t, c, c.Ready().Messages)
	require.Len(t, reqs, 2, "aaaaa+bbb, then ccccc, sent as it did not fit; dddd waits")
	require.Equal(t, [][]byte{[]byte("aaaaa"), []byte("bbb")}, reqs[0].Items)
	require.Equal(t, [][]byte{[]byte("ccccc")}, reqs[1].Items)
	require.Equal(t, [][]byte{[]byte("dddd")}, c.outbox)
}

// TestProposalsWhileARequestWaitsGoWithTheCommit: a member whose request
// waits at the primary for the batch in flight sends the proposals made
// since with its commit of that batch. The primary starts the next batch
// once the one in flight is decided, which the commits do, so the
// second request is there in time: both requests go in the next batch.
// Held until the first was in a batch, the proposals waited for the batch
// after that, a round more.
func TestProposalsWhileARequestWaitsGoWithTheCommit(t *testing.T) {
	n := newQuietNet(t, 0) // no member held: settle runs them all
	deliver := func(from consensus.NodeID, msgs []Message) {
		for _, m := range msgs {
			require.NoError(t, n.cores[m.To].Step(from, m.Data))
		}
	}

	require.NoError(t, n.cores[3].Propose([]byte("x")))
	deliver(3, n.cores[3].Ready().Messages)
	prePrepare := n.cores[1].Ready().Messages // batch 1, x alone, not delivered yet
	require.NoError(t, n.cores[2].Propose([]byte("a")))
	deliver(2, n.cores[2].Ready().Messages) // the primary holds a: batch 1 is in flight
	require.NoError(t, n.cores[2].Propose([]byte("b")))
	require.Empty(t, requestsIn(t, n.cores[2], n.cores[2].Ready().Messages), "b waits: a is in no batch yet")
	deliver(1, prePrepare)
	n.settle()

	require.Equal(t, uint64(1), n.batchOf["x"])
	require.Equal(t, uint64(2), n.batchOf["a"])
	require.Equal(t, uint64(2), n.batchOf["b"], "b went out with member 2's commit of batch 1, in time for batch 2")
}
