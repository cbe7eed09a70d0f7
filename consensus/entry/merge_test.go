package entry

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
)

// TestMergeInputsKeepsEveryInputInOrder: batches of several nodes joined
// into one decode as their inputs, each batch's in its order, under the
// latest of their times; an entry that is not a batch ends the merge.
func TestMergeInputsKeepsEveryInputInOrder(t *testing.T) {
	a := Inputs{Time: 50, Entries: []Entry{
		ConnOpen{Conn: ConnID{Node: 1, Serial: 4}, Port: 80},
		ConnData{Conn: ConnID{Node: 1, Serial: 4}, Offset: 0, Data: []byte("GET a")},
	}}
	b := Inputs{Time: 70, Entries: []Entry{
		ConnData{Conn: ConnID{Node: 2, Serial: 9}, Offset: 12, Data: []byte("SET b 1")},
		ConnClose{Conn: ConnID{Node: 2, Serial: 8}},
	}}
	c := Inputs{Time: 60, Entries: []Entry{ConnData{Conn: ConnID{Node: 3, Serial: 1}, Offset: 3, Data: []byte("x")}}}
	seal := Encode(Seal{Through: 4})
	merged, n := MergeInputs([][]byte{Encode(a), Encode(b), Encode(c), seal, Encode(a)})
	require.Equal(t, 3, n, "the three batches before the seal join")
	got, err := Decode(merged)
	require.NoError(t, err)
	want := Inputs{Time: 70, Entries: append(append(append([]Entry{}, a.Entries...), b.Entries...), c.Entries...)}
	assert.Equal(t, want, got)

	alone, n := MergeInputs([][]byte{seal, Encode(a)})
	assert.Equal(t, 1, n)
	assert.Equal(t, seal, alone, "an entry that is not a batch goes as it is")
	alone, n = MergeInputs([][]byte{Encode(a), seal})
	assert.Equal(t, 1, n)
	assert.Equal(t, Encode(a), alone)
}

// TestMergeInputsStaysWithinTheLimits: batches join only while the result
// still decodes, by count of inputs and by bytes.
func TestMergeInputsStaysWithinTheLimits(t *testing.T) {
	many := Inputs{}
	for i := range MaxInputs/2 + 1 {
		many.Entries = append(many.Entries, ConnClose{Conn: ConnID{Node: consensus.NodeID(1), Serial: uint64(i)}})
	}
	_, n := MergeInputs([][]byte{Encode(many), Encode(many)})
	assert.Equal(t, 1, n, "two batches of more than half MaxInputs each")

	big := Inputs{Entries: []Entry{ConnData{Conn: ConnID{Node: 2, Serial: 1}, Data: bytes.Repeat([]byte{'x'}, MaxInputsData/2)}}}
	_, n = MergeInputs([][]byte{Encode(big), Encode(big)})
	assert.Equal(t, 1, n, "two batches of half MaxInputsData each, with their encoding")

	small := Inputs{Entries: []Entry{ConnData{Conn: ConnID{Node: 2, Serial: 1}, Data: []byte("y")}}}
	merged, n := MergeInputs([][]byte{Encode(big), Encode(small), Encode(big)})
	require.Equal(t, 2, n)
	_, err := Decode(merged)
	assert.NoError(t, err)
}

func TestProposedTimeIsTheTimeTheEntryCarries(t *testing.T) {
	conn := ConnID{Node: 2, Serial: 1}
	in := Inputs{Time: 41, Entries: []Entry{ConnOpen{Conn: conn, Port: 80}, ConnData{Conn: conn, Data: []byte("hi")}}}
	for _, c := range []struct {
		e    Entry
		time int64
		has  bool
	}{
		{in, 41, true},
		{Seal{Through: 3, Time: 42}, 42, true},
		{Boot{Time: 43, EpochInstructions: 1}, 43, true},
		{ConnData{Conn: conn, Data: []byte("x")}, 0, false},
	} {
		got, ok := ProposedTime(Encode(c.e))
		require.Equal(t, c.has, ok, "%T", c.e)
		require.Equal(t, c.time, got, "%T", c.e)
	}
	_, ok := ProposedTime([]byte{byte(KindInputs), 0x80})
	require.False(t, ok, "an Inputs batch whose head does not decode")
	_, ok = ProposedTime(nil)
	require.False(t, ok)
}
