package raftlog

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/synodvm/synod/consensus"
)

// joinAll merges every proposal into one entry, their data joined by "+".
func joinAll(batches [][]byte) ([]byte, int) {
	return bytes.Join(batches, []byte("+")), len(batches)
}

func mergeAll(cfg *Config) { cfg.Merge = joinAll }

// TestLeaderMergesProposals: the proposals of every node in one round
// commit as fewer entries, each proposal once, the same on every node, and
// each proposer recognises its own inside a merged entry (its slots come
// back at once, not when they expire).
func TestLeaderMergesProposals(t *testing.T) {
	c := newSimCluster(t, 3, mergeAll)
	c.waitLeader()
	var want []string
	for round := range 3 {
		for _, id := range c.ids {
			v := string(rune('a'+round)) + string(rune('0'+id))
			require.NoError(t, c.nodes[id].core.Propose([]byte(v)))
			want = append(want, v)
		}
		c.settle()
	}
	entries := c.converged()
	var got []string
	for _, e := range entries {
		got = append(got, strings.Split(e, "+")...)
	}
	assert.ElementsMatch(t, want, got, "every proposal committed exactly once")
	assert.Less(t, len(entries), len(want), "the leader merged proposals: %q", entries)
	for _, id := range c.ids {
		assert.Zero(t, c.nodes[id].core.InflightProposals(), "node %d's proposals came back committed", id)
	}
}

// TestHeldProposalDroppedGivesBackItsSlot: a proposal the leader holds for
// merging and raft then drops (leadership is being handed over) is lost
// like any proposal in flight at a leader change: its slot is free at once
// and proposing it again commits it once.
func TestHeldProposalDroppedGivesBackItsSlot(t *testing.T) {
	c := newSimCluster(t, 3, mergeAll)
	lead := c.waitLeader()
	to, _ := c.followerAndOthers(lead)
	n := c.nodes[lead]
	require.NoError(t, n.core.TransferLeadership(to))
	require.NoError(t, n.core.Propose([]byte("held")))
	c.settle()
	assert.Zero(t, n.core.InflightProposals(), "the dropped proposal's slot")
	newLead := c.waitLeader()
	require.Equal(t, to, newLead)
	c.proposeAll([]consensus.NodeID{lead}, []string{"held"})
	entries := c.converged()
	count := 0
	for _, e := range entries {
		count += strings.Count("+"+e+"+", "+held+")
	}
	assert.Equal(t, 1, count, "committed once: %q", entries)
}

// TestEnvelopeRoundTrip: a lone proposal keeps the envelope every node has
// always read; a merged one names every proposal in it.
func TestEnvelopeRoundTrip(t *testing.T) {
	lone := envelope{[]proposalID{{2, 300}}, []byte("data")}
	b := lone.marshal()
	require.Equal(t, byte(envelopeVersion), b[0])
	got, err := unmarshalEnvelope(b)
	require.NoError(t, err)
	assert.Equal(t, lone, got)

	merged := envelope{[]proposalID{{1, 5}, {3, 1 << 40}, {1, 6}}, []byte("a+b+c")}
	got, err = unmarshalEnvelope(merged.marshal())
	require.NoError(t, err)
	assert.Equal(t, merged, got)

	for _, bad := range [][]byte{nil, {9}, {mergedEnvelopeVersion}, {mergedEnvelopeVersion, 0}, {mergedEnvelopeVersion, 200, 1, 1}, {mergedEnvelopeVersion, 2, 1, 1, 1}} {
		_, err := unmarshalEnvelope(bad)
		assert.ErrorIs(t, err, errBadEnvelope, "%v", bad)
	}
}

// TestLeaderHoldsWhileItsEntriesCommit: while the leader's last entries
// are uncommitted, what it gets is held and goes out merged once they
// commit, not as an entry per Ready; with nothing in flight a proposal
// goes out at once.
func TestLeaderHoldsWhileItsEntriesCommit(t *testing.T) {
	c := newSimCluster(t, 3, mergeAll)
	lead := c.waitLeader()
	n := c.nodes[lead]
	handle := func() {
		applies, err := n.core.HandleReady()
		require.NoError(t, err)
		require.NoError(t, n.app.Apply(applies...))
	}
	for _, v := range []string{"a", "b", "c"} {
		require.NoError(t, n.core.Propose([]byte(v)))
		handle()
	}
	assert.False(t, n.core.HasReady(), "nothing to do while the held proposals wait for the log to commit")
	entries := c.converged()
	assert.Equal(t, []string{"a", "b+c"}, entries[len(entries)-2:])
	require.NoError(t, n.core.Propose([]byte("d")))
	handle()
	c.settle()
	assert.Equal(t, "d", c.nodes[lead].app.Entries[len(c.nodes[lead].app.Entries)-1], "proposed alone, at once")
}

// heldEntryAfterACommit brings a 3-node merging cluster to where its
// leader has heard the followers accept "a" and holds "b": its next Ready
// delivers "a" and writes "b". It returns the leader and the followers.
func heldEntryAfterACommit(t *testing.T) (c *simCluster, lead consensus.NodeID, followers []consensus.NodeID) {
	c = newSimCluster(t, 3, mergeAll)
	lead = c.waitLeader()
	c.settle()
	n := c.nodes[lead]
	require.NoError(t, n.core.Propose([]byte("a")))
	_, err := n.core.HandleReady()
	require.NoError(t, err)
	require.NoError(t, n.core.Propose([]byte("b")), "held: a is in flight")
	for _, id := range c.ids {
		if id != lead {
			followers = append(followers, id)
		}
	}
	for _, id := range followers {
		f := c.nodes[id]
		for len(f.ep.Inbound()) > 0 {
			require.NoError(t, f.core.Step(<-f.ep.Inbound()))
		}
		_, err := f.core.HandleReady()
		require.NoError(t, err)
	}
	for len(n.ep.Inbound()) > 0 {
		require.NoError(t, n.core.Step(<-n.ep.Inbound()))
	}
	return c, lead, followers
}

// TestACommitRidesOnTheNextHeldEntry: when a round commits while the
// leader holds a proposal, each follower hears of the commit in the
// append of the held entry, one message, not in an empty append of its
// own as well, which would cost it a Ready and an answer.
func TestACommitRidesOnTheNextHeldEntry(t *testing.T) {
	c, lead, followers := heldEntryAfterACommit(t)
	n := c.nodes[lead]
	committedA := n.core.rn.BasicStatus().HardState.GetCommit()
	_, err := n.core.HandleReady()
	require.NoError(t, err)

	for _, id := range followers {
		f := c.nodes[id]
		require.Len(t, f.ep.Inbound(), 1, "node %d: one message after the round", id)
		var m pb.Message
		require.NoError(t, proto.Unmarshal((<-f.ep.Inbound()).Data, &m))
		assert.Equal(t, pb.MsgApp, m.GetType(), "node %d", id)
		require.Len(t, m.GetEntries(), 1, "node %d: the held entry", id)
		env, err := unmarshalEnvelope(m.GetEntries()[0].GetData())
		require.NoError(t, err)
		assert.Equal(t, "b", string(env.data), "node %d", id)
		assert.Equal(t, committedA, m.GetCommit(), "node %d: the commit of a, in the same append", id)
	}
}

// TestACommittedEntryIsHandedOutBeforeTheNextIsWritten: the leader, and
// then each follower, hands "a" to the user before it writes "b", which
// came in the same Ready, so the user applies a round while the next
// one's fdatasync goes on.
func TestACommittedEntryIsHandedOutBeforeTheNextIsWritten(t *testing.T) {
	c, lead, followers := heldEntryAfterACommit(t)
	for _, id := range append([]consensus.NodeID{lead}, followers...) {
		n := c.nodes[id]
		var events []string
		n.disk.saved = func(entries []*pb.Entry) {
			for _, e := range entries {
				if env, err := unmarshalEnvelope(e.GetData()); err == nil {
					events = append(events, "write "+string(env.data))
				}
			}
		}
		for len(n.ep.Inbound()) > 0 {
			require.NoError(t, n.core.Step(<-n.ep.Inbound()))
		}
		after, err := n.core.HandleReadyHandingOut(func(applies []consensus.Apply) {
			for _, a := range applies {
				for _, e := range a.Entries {
					events = append(events, "hand out "+string(e.Data))
				}
			}
		})
		require.NoError(t, err)
		for _, a := range after {
			for _, e := range a.Entries {
				events = append(events, "return "+string(e.Data))
			}
		}
		assert.Equal(t, []string{"hand out a", "write b"}, events, "node %d", id)
	}
}

// TestFoldAppendsKeepsWhatNoLaterAppendSays: an empty append is left out
// only when a later one to the same follower, from the same place in the
// log, carries at least its commit index.
func TestFoldAppendsKeepsWhatNoLaterAppendSays(t *testing.T) {
	app := func(to, index, commit uint64, entries int) *pb.Message {
		m := &pb.Message{Type: pb.MsgApp.Enum(), To: new(to), Index: new(index), LogTerm: new(uint64(2)), Commit: new(commit)}
		for i := range entries {
			m.Entries = append(m.Entries, &pb.Entry{Index: new(index + 1 + uint64(i))})
		}
		return m
	}
	for _, tc := range []struct {
		name string
		msgs []*pb.Message
		kept []int
	}{
		{"covered", []*pb.Message{app(1, 5, 5, 0), app(1, 5, 5, 1)}, []int{1}},
		{"alone", []*pb.Message{app(1, 5, 5, 0)}, []int{0}},
		{"another follower", []*pb.Message{app(1, 5, 5, 0), app(3, 5, 5, 1)}, []int{0, 1}},
		{"from elsewhere in the log", []*pb.Message{app(1, 5, 5, 0), app(1, 6, 5, 1)}, []int{0, 1}},
		{"an older commit later", []*pb.Message{app(1, 5, 6, 0), app(1, 5, 5, 1)}, []int{0, 1}},
		{"the later one first", []*pb.Message{app(1, 5, 5, 1), app(1, 5, 5, 0)}, []int{0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []*pb.Message
			for _, i := range tc.kept {
				want = append(want, tc.msgs[i])
			}
			c := newSimCluster(t, 1, nil)
			assert.Equal(t, want, c.nodes[1].core.foldAppends(slices.Clone(tc.msgs)))
		})
	}
}
