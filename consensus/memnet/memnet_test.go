package memnet

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
)

// join attaches nodes 1..n.
func join(t *testing.T, net *Network, n int) []*Endpoint {
	t.Helper()
	eps := make([]*Endpoint, n)
	for i := range eps {
		e, err := net.Join(consensus.NodeID(i + 1))
		require.NoError(t, err)
		eps[i] = e
	}
	return eps
}

// drain returns every message waiting in e's Inbound as "from:data".
func drain(e *Endpoint) []string {
	var got []string
	for {
		select {
		case in, ok := <-e.Inbound():
			if !ok {
				return got
			}
			got = append(got, fmt.Sprintf("%d:%s", in.From, in.Data))
		default:
			return got
		}
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name   string
		faults Faults
		// before runs after SetFaults, before 1 sends "a","b","c" to 2.
		before func(*Network)
		// advance is how far the clock moves after the sends.
		advance  time.Duration
		want     []string
		wantErr  error
		wantStat func(Stats) bool
	}{
		{name: "no faults delivers during send", want: []string{"1:a", "1:b", "1:c"}},
		{name: "drop all", faults: Faults{Drop: 1}, wantStat: func(s Stats) bool { return s.Dropped == 3 }},
		{name: "duplicate all", faults: Faults{Duplicate: 1},
			want: []string{"1:a", "1:a", "1:b", "1:b", "1:c", "1:c"}},
		{name: "delay holds messages until the clock passes", faults: Faults{MinDelay: time.Second, MaxDelay: time.Second},
			advance: 999 * time.Millisecond},
		{name: "delayed messages arrive in order", faults: Faults{MinDelay: time.Millisecond, MaxDelay: time.Second},
			advance: time.Second, want: []string{"1:a", "1:b", "1:c"}},
		{name: "partition refuses sends", before: func(n *Network) { n.Partition([]consensus.NodeID{1}) },
			wantErr: consensus.ErrUnreachable, wantStat: func(s Stats) bool { return s.Cut == 3 }},
		{name: "healed partition delivers", before: func(n *Network) { n.Partition([]consensus.NodeID{1}); n.Heal() },
			want: []string{"1:a", "1:b", "1:c"}},
		{name: "nodes in the same group talk", before: func(n *Network) { n.Partition([]consensus.NodeID{1, 2}) },
			want: []string{"1:a", "1:b", "1:c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			net := New(1)
			eps := join(t, net, 3)
			require.NoError(t, net.SetFaults(tt.faults))
			if tt.before != nil {
				tt.before(net)
			}
			for _, m := range []string{"a", "b", "c"} {
				err := eps[0].Send(2, []byte(m))
				if tt.wantErr != nil {
					require.ErrorIs(t, err, tt.wantErr)
				} else {
					require.NoError(t, err)
				}
			}
			net.Advance(tt.advance)
			assert.Equal(t, tt.want, drain(eps[1]))
			assert.Empty(t, drain(eps[2]), "node 3 was not addressed")
			if tt.wantStat != nil {
				assert.True(t, tt.wantStat(net.Stats()), "stats %+v", net.Stats())
			}
		})
	}
}

func TestCutLosesMessagesInFlight(t *testing.T) {
	net := New(1)
	eps := join(t, net, 2)
	require.NoError(t, net.SetFaults(Faults{MinDelay: time.Second, MaxDelay: time.Second}))
	require.NoError(t, eps[0].Send(2, []byte("x")))
	net.Partition([]consensus.NodeID{1})
	net.Advance(time.Second)
	net.Heal()
	assert.Empty(t, drain(eps[1]))
}

// TestSameSeedSameRun checks determinism: a random fault model driven the
// same way twice makes the same choices; another seed makes others.
func TestSameSeedSameRun(t *testing.T) {
	run := func(seed uint64) []string {
		net := New(seed)
		eps := join(t, net, 2)
		require.NoError(t, net.SetFaults(Faults{Drop: 0.3, Duplicate: 0.3, MaxDelay: 50 * time.Millisecond}))
		var got []string
		for i := range 200 {
			require.NoError(t, eps[0].Send(2, fmt.Appendf(nil, "%d", i)))
			net.Advance(time.Millisecond)
			got = append(got, drain(eps[1])...)
		}
		net.Advance(time.Second)
		return append(got, drain(eps[1])...)
	}
	a, b, c := run(7), run(7), run(8)
	assert.Equal(t, a, b)
	assert.NotEqual(t, a, c)
	assert.Less(t, len(a), 260, "some messages were dropped")
	assert.Greater(t, len(a), 140, "some messages were delivered")
}

func TestEndpointLifecycle(t *testing.T) {
	net := New(1)
	eps := join(t, net, 2)
	_, err := net.Join(1)
	require.Error(t, err, "a node joins once")
	_, err = net.Join(0)
	require.Error(t, err)
	require.NoError(t, eps[1].Close())
	require.NoError(t, eps[1].Close())
	require.ErrorIs(t, eps[0].Send(2, []byte("x")), consensus.ErrUnreachable)
	_, open := <-eps[1].Inbound()
	assert.False(t, open)
	again, err := net.Join(2)
	require.NoError(t, err, "a restarted node joins again")
	require.NoError(t, eps[0].Send(2, []byte("y")))
	assert.Equal(t, []string{"1:y"}, drain(again))
}

func TestBadFaults(t *testing.T) {
	net := New(1)
	for _, f := range []Faults{{Drop: -0.1}, {Duplicate: 1.5}, {MinDelay: 2, MaxDelay: 1}, {MinDelay: -1}} {
		assert.Error(t, net.SetFaults(f), "%+v", f)
	}
}

func TestFullInboxDrops(t *testing.T) {
	net := New(1)
	eps := join(t, net, 2)
	for range DefaultInboundBuffer + 10 {
		require.NoError(t, eps[0].Send(2, []byte("m")))
	}
	assert.Len(t, drain(eps[1]), DefaultInboundBuffer)
	assert.Equal(t, uint64(10), net.Stats().Overflowed)
}

// TestRunAdvancesWithWallTime: for tests whose nodes run on goroutines,
// Run delivers delayed messages as wall time passes.
func TestRunAdvancesWithWallTime(t *testing.T) {
	net := New(1)
	eps := join(t, net, 2)
	require.NoError(t, net.SetFaults(Faults{MinDelay: 20 * time.Millisecond, MaxDelay: 20 * time.Millisecond}))
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { net.Run(5*time.Millisecond, stop); close(done) }()
	defer func() { close(stop); <-done }()
	require.NoError(t, eps[0].Send(2, []byte("late")))
	select {
	case in := <-eps[1].Inbound():
		assert.Equal(t, "late", string(in.Data))
		assert.GreaterOrEqual(t, net.Now(), 20*time.Millisecond)
	case <-time.After(time.Minute):
		t.Fatal("the delayed message never arrived")
	}
}

// sent returns every snapshot outcome waiting for e.
func sent(e *Endpoint) []consensus.SnapshotSent {
	var got []consensus.SnapshotSent
	for {
		select {
		case s := <-e.SnapshotsSent():
			got = append(got, s)
		default:
			return got
		}
	}
}

func TestSnapshotBypassesTheMessageLimitAndTakesItsTime(t *testing.T) {
	net := New(1)
	eps := join(t, net, 2)
	net.SetMaxMessageSize(10)
	net.SetSnapshotRate(1000) // bytes per second
	require.ErrorIs(t, eps[0].Send(2, []byte("too large for a message")), ErrMessageTooLarge)

	body := bytes.Repeat([]byte("s"), 990)
	require.NoError(t, eps[0].SendSnapshot(2, []byte("head:"), body))
	require.ErrorIs(t, eps[0].SendSnapshot(2, []byte("again"), nil), consensus.ErrSnapshotInFlight, "one snapshot per link at a time")
	require.NoError(t, eps[1].SendSnapshot(1, []byte("other way"), nil), "the reverse link is another link")

	net.Advance(500 * time.Millisecond)
	require.NoError(t, eps[0].Send(2, []byte("msg")))
	assert.Equal(t, []string{"1:msg"}, drain(eps[1]), "messages overtake a snapshot in transfer")
	assert.Empty(t, sent(eps[0]))

	net.Advance(500 * time.Millisecond)
	got := drain(eps[1])
	require.Len(t, got, 1)
	assert.Equal(t, "1:head:"+string(body), got[0], "head and body arrive as one message")
	assert.Equal(t, []consensus.SnapshotSent{{To: 2}}, sent(eps[0]))
	assert.Equal(t, []string{"2:other way"}, drain(eps[0]))
	require.NoError(t, eps[0].SendSnapshot(2, []byte("next"), nil), "the link is free again")
	assert.Equal(t, uint64(2), net.Stats().Snapshots)
}

func TestSnapshotLostAcrossACutIsReported(t *testing.T) {
	net := New(1)
	eps := join(t, net, 2)
	net.SetSnapshotRate(100)
	require.NoError(t, eps[0].SendSnapshot(2, []byte("h"), make([]byte, 99)))
	net.Partition([]consensus.NodeID{1})
	require.ErrorIs(t, eps[1].SendSnapshot(1, nil, nil), consensus.ErrUnreachable, "none starts across a cut")
	net.Advance(time.Second)
	net.Heal()
	assert.Empty(t, drain(eps[1]))
	outcome := sent(eps[0])
	require.Len(t, outcome, 1)
	assert.ErrorIs(t, outcome[0].Err, consensus.ErrUnreachable)
	assert.Equal(t, uint64(1), net.Stats().SnapshotsLost)

	require.NoError(t, net.SetFaults(Faults{Drop: 1}))
	require.NoError(t, eps[0].SendSnapshot(2, []byte("h"), nil))
	net.Advance(time.Second)
	outcome = sent(eps[0])
	require.Len(t, outcome, 1)
	assert.Error(t, outcome[0].Err, "a dropped snapshot is reported, unlike a dropped message")
}
