package replica

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus/entry"
)

func TestAMemberSpeaksOnlyForItself(t *testing.T) {
	own, other := entry.ConnID{Node: 2, Serial: 1}, entry.ConnID{Node: 3, Serial: 1}
	for _, tc := range []struct {
		name    string
		in      entry.Entry
		want    entry.Entry
		dropped int
	}{
		{"its own client's bytes", entry.ConnData{Conn: own, Data: []byte("x")}, entry.ConnData{Conn: own, Data: []byte("x")}, 0},
		{"another node's client's bytes", entry.ConnData{Conn: other, Data: []byte("x")}, nil, 1},
		{"another node's connection opened", entry.ConnOpen{Conn: other}, nil, 1},
		{"another node's connection closed", entry.ConnClose{Conn: other}, nil, 1},
		{"a batch of both", entry.Inputs{Time: 5, Entries: []entry.Entry{entry.ConnOpen{Conn: own}, entry.ConnData{Conn: other}, entry.ConnClose{Conn: own}}},
			entry.Inputs{Time: 5, Entries: []entry.Entry{entry.ConnOpen{Conn: own}, entry.ConnClose{Conn: own}}}, 1},
		{"another's state hash", entry.StateHash{Node: 3, Epoch: 9}, nil, 1},
		{"its own state hash", entry.StateHash{Node: 2, Epoch: 9}, entry.StateHash{Node: 2, Epoch: 9}, 0},
		{"another's completion", entry.Completion{Node: 1, Seq: 4}, nil, 1},
		{"another's random bytes", entry.Random{Node: 1}, nil, 1},
		{"another's random commitment", entry.RandomCommit{Node: 1, Round: 4}, nil, 1},
		{"another's console acknowledgement", entry.ConsoleDone{Node: 1}, nil, 1},
		{"another's console input", entry.ConsoleIn{Node: 1}, nil, 1},
		{"a seal", entry.Seal{Through: 3}, entry.Seal{Through: 3}, 0},
		{"a node declared down", entry.NodeDown{Node: 3}, entry.NodeDown{Node: 3}, 0},
	} {
		got, dropped := FromProposer(tc.in, 2)
		require.Equal(t, tc.want, got, tc.name)
		require.Equal(t, tc.dropped, dropped, tc.name)
		unauthenticated, none := FromProposer(tc.in, 0)
		require.Equal(t, tc.in, unauthenticated, "%s: an engine that names no proposer trusts every member", tc.name)
		require.Zero(t, none)
	}
}
