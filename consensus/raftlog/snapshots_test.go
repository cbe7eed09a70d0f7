package raftlog

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/logtest"
	"github.com/synodvm/synod/consensus/memnet"
)

// machineSnapshotMessage is a MsgSnap carrying 14 kB of data.
func machineSnapshotMessage() *pb.Message {
	return &pb.Message{
		Type: pb.MsgSnap.Enum(), To: new(uint64(2)), From: new(uint64(1)), Term: new(uint64(7)),
		Snapshot: &pb.Snapshot{
			Data: bytes.Repeat([]byte("machine state "), 1000),
			Metadata: &pb.SnapshotMetadata{Index: new(uint64(42)), Term: new(uint64(6)),
				ConfState: &pb.ConfState{Voters: []uint64{1, 2, 3}}},
		},
	}
}

func TestSnapshotPartsMakeTheWholeMessage(t *testing.T) {
	m := machineSnapshotMessage()
	head, body, err := snapshotParts(m)
	require.NoError(t, err)
	assert.Less(t, len(head), 100, "the data is not in the head")
	assert.Same(t, &m.Snapshot.Data[0], &body[0], "the data is not copied")
	got := &pb.Message{}
	require.NoError(t, proto.Unmarshal(append(head, body...), got))
	assert.True(t, proto.Equal(m, got), "head+body decodes to the message: %v", got)
}

// TestSnapshotLargerThanMessageLimitCatchesUpFollower: a follower that
// fell behind a compacted log gets a snapshot far larger than any message
// the network carries, slowly, while the leader keeps heartbeating and
// committing with the other follower, and no election happens.
func TestSnapshotLargerThanMessageLimitCatchesUpFollower(t *testing.T) {
	storeKinds(t, testSnapshotLargerThanMessageLimit)
}

func testSnapshotLargerThanMessageLimit(t *testing.T, inMemory bool) {
	const messageLimit = 8 << 10
	c := newSimClusterOn(t, 3, inMemory, func(cfg *Config) {
		snapshotEvery20(cfg)
		cfg.MaxSizePerMsg = 2 << 10 // appends stay under the limit
	})
	c.net.SetMaxMessageSize(messageLimit)
	lead := c.waitLeader()
	lagging, live := c.followerAndOthers(lead)
	c.crash(lagging)
	pad := strings.Repeat("x", 200)
	c.proposeAll(live, logtest.Values("big"+pad, 120))
	snap, err := c.nodes[lead].store.Snapshot()
	require.NoError(t, err)
	require.Greater(t, len(snap.GetData()), 2*messageLimit, "the snapshot is far over the message limit")

	// The transfer takes 80 ticks of virtual time.
	c.net.SetSnapshotRate(len(snap.GetData()) * int(time.Second/testTick) / 80)
	term := c.nodes[lead].core.Status().Term
	c.restart(lagging)
	during := 0
	// The snapshots the leader stores while one is on its way.
	var stored []uint64
	c.waitFor("the lagging node installs the snapshot", 500, func() bool {
		if c.nodes[lagging].app.Snapshots > 0 {
			return true
		}
		if idx := c.nodes[lead].core.snapIndex; len(c.nodes[lead].core.snapshotsOut) > 0 && !slices.Contains(stored, idx) {
			stored = append(stored, idx)
		}
		if c.nodes[lead].core.Propose(fmt.Appendf(nil, "during-%d", during)) == nil {
			during++
		}
		return false
	})
	require.Greater(t, during, 60, "the leader kept accepting proposals during the transfer")
	// One new snapshot compacts the log up to the one on its way; more
	// could compact no further, and are not taken.
	require.NotEmpty(t, stored, "the transfer was seen")
	assert.LessOrEqual(t, len(stored), 2, "snapshots stored during the transfer: %v", stored)
	got := c.converged()
	for i := range during {
		assert.Contains(t, got, fmt.Sprintf("during-%d", i), "proposals made during the transfer committed")
	}
	assert.Equal(t, lead, c.leader(), "the leader kept its place")
	assert.Equal(t, term, c.nodes[lead].core.Status().Term, "no election happened")
	// The leader snapshots every 20 entries and keeps only 2 more; it
	// kept the log after the snapshot it was sending all the same, so one
	// snapshot was enough.
	assert.Equal(t, 1, c.nodes[lagging].app.Snapshots)
	assert.GreaterOrEqual(t, c.net.Stats().Snapshots, uint64(1))
}

// TestSnapshotTransferFailureIsRetried: a snapshot lost on its way is
// reported to raft (after a back-off) and sent again.
func TestSnapshotTransferFailureIsRetried(t *testing.T) {
	c, lead, lagging, live := crashedFollower(t, true)
	c.proposeAll(live, logtest.Values("v", 60))
	c.net.SetSnapshotRate(1000) // bytes a second: long enough to cut
	c.restart(lagging)
	c.waitFor("a snapshot is on its way", 200, func() bool { return len(c.nodes[lead].core.snapshotsOut) > 0 })
	c.net.Partition([]consensus.NodeID{lagging})
	c.waitFor("its loss is reported", 500, func() bool { return c.net.Stats().SnapshotsLost > 0 && len(c.nodes[lead].core.snapshotsOut) == 0 })
	assert.Equal(t, 1, c.nodes[lead].core.snapshotRetries[uint64(lagging)].failures)
	c.net.Heal()
	c.net.SetSnapshotRate(0)
	got := c.converged()
	assert.Equal(t, logtest.Values("v", 60), got)
	assert.Equal(t, 1, c.nodes[lagging].app.Snapshots)
	assert.NotContains(t, c.nodes[lead].core.snapshotRetries, uint64(lagging), "a success ends the back-off")
}

// TestSlowSnapshotSourceKeepsTheLeader: the user takes much longer than an
// election timeout to produce each snapshot; the leader keeps
// heartbeating and committing meanwhile, and stays leader.
func TestSlowSnapshotSourceKeepsTheLeader(t *testing.T) {
	const slow = 600 * time.Millisecond // election timeout: 10-20 ticks of 10 ms
	net := memnet.New(1)
	peers := []consensus.NodeID{1, 2, 3}
	var nodes []*liveNode
	var inSource atomic.Int32
	for _, id := range peers {
		cfg := Config{ID: id, Peers: peers, SnapshotEntries: 20, CompactKeepEntries: 5}
		nodes = append(nodes, startBoltNode(t, net, t.TempDir(), cfg, func() {
			inSource.Add(1)
			defer inSource.Add(-1)
			time.Sleep(slow)
		}))
	}
	lead := waitLiveLeader(t, nodes)
	leader := nodes[lead-1]
	term := leader.Status().Term
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()

	committedDuringSnapshot := 0
	for i := range 150 {
		v := fmt.Sprintf("v%d", i)
		require.NoError(t, leader.Propose(ctx, []byte(v)))
		busy := inSource.Load() > 0
		eventually(t, v+" delivered", func() bool { return slices.Contains(leader.entries(), v) })
		if busy && inSource.Load() > 0 {
			committedDuringSnapshot++
		}
	}
	eventually(t, "a snapshot stored and the log compacted", func() bool {
		first, err := leader.core.store.FirstIndex()
		return err == nil && leader.Status().Snapshot > 0 && first > 1
	})
	assert.Greater(t, committedDuringSnapshot, 0, "proposals committed while a snapshot was being taken")
	st := leader.Status()
	assert.True(t, st.IsLeader, "the leader kept its place")
	assert.Equal(t, term, st.Term, "no election happened")
}

// startBoltNode is startLiveNode on a bbolt store the Node uses directly
// (so it writes snapshots off its loop), with hook run inside every call
// of the snapshot source.
func startBoltNode(t *testing.T, net *memnet.Network, dir string, cfg Config, hook func()) *liveNode {
	t.Helper()
	ep, err := net.Join(cfg.ID)
	require.NoError(t, err)
	return startBoltNodeOn(t, ep, dir, cfg, hook, func(consensus.Apply) {})
}

// startBoltNodeOn is startBoltNode on the transport tr, with beforeApply
// run on each Apply the user takes before it applies it.
func startBoltNodeOn(t *testing.T, tr consensus.Transport, dir string, cfg Config, hook func(), beforeApply func(consensus.Apply)) *liveNode {
	t.Helper()
	store, err := openStore(dir, Identity{ClusterID: testCluster, Node: cfg.ID})
	require.NoError(t, err)
	ln := &liveNode{done: make(chan struct{})}
	cfg.Logger = quietLogger()
	cfg.TickInterval = 10 * time.Millisecond
	cfg.SnapshotSource = func() (consensus.Snapshot, error) {
		hook()
		ln.mu.Lock()
		defer ln.mu.Unlock()
		return ln.hist.Snapshot()
	}
	node, err := StartNode(cfg, store, tr)
	require.NoError(t, err)
	ln.Node = node
	go func() {
		defer close(ln.done)
		for a := range node.Applies() {
			beforeApply(a)
			ln.mu.Lock()
			err := ln.hist.Apply(a)
			ln.mu.Unlock()
			assert.NoError(t, err)
		}
	}()
	t.Cleanup(func() { _ = ln.Stop(); <-ln.done })
	return ln
}

// TestNodeCatchesUpFollowerThroughSnapshot: the goroutine-driven Node on
// bbolt, as in production: snapshots written off the loop, the stored one
// read ahead for raft, and sent over the message size limit to a follower
// that restarted behind a compacted log.
func TestNodeCatchesUpFollowerThroughSnapshot(t *testing.T) {
	c := compactPastAFollower(t)
	back := startBoltNode(t, c.net, c.dir, c.cfg, func() {})
	eventually(t, "the restarted follower has every entry", func() bool { return slices.Equal(c.want, back.entries()) })
	eventually(t, "the leader unmapped the snapshot it sent", func() bool {
		reads := c.leader.reads
		reads.mu.Lock()
		defer reads.mu.Unlock()
		return len(reads.handedOut) == 0
	})
	back.mu.Lock()
	defer back.mu.Unlock()
	assert.Equal(t, 1, back.hist.Snapshots, "it caught up through a snapshot")
	assert.GreaterOrEqual(t, c.net.Stats().Snapshots, uint64(1))
}

// compactedPast is a cluster of three bolt Nodes whose leader compacted
// its log past a follower it stopped.
type compactedPast struct {
	net    *memnet.Network
	leader *liveNode
	// dir and cfg are the stopped follower's; want is every entry
	// committed.
	dir  string
	cfg  Config
	want []string
}

// compactPastAFollower starts three bolt Nodes, stops a follower, and
// commits entries until the leader has compacted its log past it.
func compactPastAFollower(t *testing.T) compactedPast {
	net := memnet.New(1)
	net.SetMaxMessageSize(4 << 10)
	peers := []consensus.NodeID{1, 2, 3}
	dirs := map[consensus.NodeID]string{}
	config := func(id consensus.NodeID) Config {
		return Config{ID: id, Peers: peers, SnapshotEntries: 20, CompactKeepEntries: 2, MaxSizePerMsg: 1 << 10}
	}
	nodes := map[consensus.NodeID]*liveNode{}
	var all []*liveNode
	for _, id := range peers {
		dirs[id] = t.TempDir()
		nodes[id] = startBoltNode(t, net, dirs[id], config(id), func() {})
		all = append(all, nodes[id])
	}
	lead := waitLiveLeader(t, all)
	lagging := peers[(int(lead))%3] // not the leader
	require.NoError(t, nodes[lagging].Stop())
	<-nodes[lagging].done

	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	pad := strings.Repeat("p", 100)
	want := logtest.Values("v"+pad, 100)
	for _, v := range want {
		require.NoError(t, nodes[lead].Propose(ctx, []byte(v)))
	}
	eventually(t, "the leader compacted its log", func() bool {
		first, err := nodes[lead].core.store.FirstIndex()
		return err == nil && first > 50 && slices.Equal(want, nodes[lead].entries())
	})
	return compactedPast{net: net, leader: nodes[lead], dir: dirs[lagging], cfg: config(lagging), want: want}
}

// decodeMessage decodes a snapshot sent as head and body without copying
// its data, and any other message as protobuf does.
func TestDecodeMessageLeavesSnapshotDataInPlace(t *testing.T) {
	m := machineSnapshotMessage()
	head, body, err := snapshotParts(m)
	require.NoError(t, err)
	wire := append(head, body...)
	got, err := decodeMessage(wire)
	require.NoError(t, err)
	assert.True(t, proto.Equal(m, got), "decodes to the message: %v", got)
	assert.Same(t, &wire[len(head)], &got.Snapshot.Data[0], "the data is not copied")

	app := &pb.Message{Type: pb.MsgApp.Enum(), To: new(uint64(2)), From: new(uint64(1)), Term: new(uint64(7)),
		Entries: []*pb.Entry{{Index: new(uint64(5)), Term: new(uint64(7)), Data: []byte("entry")}}}
	b, err := proto.Marshal(app)
	require.NoError(t, err)
	got, err = decodeMessage(b)
	require.NoError(t, err)
	assert.True(t, proto.Equal(app, got))

	_, err = decodeMessage(wire[:len(head)+10])
	assert.Error(t, err, "a message cut short")
}

// paddedSnapshotTag is b, an encoded message, with the tag of its
// snapshot field in two bytes where one would do.
func paddedSnapshotTag(tb testing.TB, b []byte) []byte {
	for off := 0; off < len(b); {
		num, _, tagLen, field, err := nextField(b, off, "message")
		require.NoError(tb, err)
		if num == messageSnapshotField {
			require.Equal(tb, 1, tagLen)
			padded := append(slices.Clone(b[:off]), b[off]|0x80, 0)
			return append(padded, b[off+1:]...)
		}
		off += len(field)
	}
	tb.Fatal("no snapshot field")
	return nil
}

// FuzzDecodeMessage: decodeMessage agrees with protobuf on any input, and
// never panics.
func FuzzDecodeMessage(f *testing.F) {
	m := &pb.Message{Type: pb.MsgSnap.Enum(), To: new(uint64(2)), From: new(uint64(1)),
		Snapshot: &pb.Snapshot{Data: []byte("state"), Metadata: &pb.SnapshotMetadata{Index: new(uint64(3)), Term: new(uint64(1))}}}
	head, body, err := snapshotParts(m)
	require.NoError(f, err)
	f.Add(append(head, body...))
	whole, err := proto.Marshal(m)
	require.NoError(f, err)
	f.Add(whole)
	f.Add(paddedSnapshotTag(f, whole))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		want := &pb.Message{}
		wantErr := proto.Unmarshal(b, want)
		got, err := decodeMessage(b)
		if wantErr != nil {
			assert.Error(t, err, "protobuf refuses it: %v", wantErr)
			return
		}
		require.NoError(t, err)
		assert.True(t, proto.Equal(want, got), "want %v, got %v", want, got)
	})
}

// A snapshot that took a while to take is followed by a rest of
// snapshotRestFactor times as long before the next is asked for.
// TestAppendsAreDroppedUndecodedWhileASnapshotIsStored: while a
// leader's snapshot is being stored, appends are told by their encoded
// type and dropped; every other message, and appends at other times,
// go on to raft.
func TestAppendsAreDroppedUndecodedWhileASnapshotIsStored(t *testing.T) {
	encode := func(typ pb.MessageType) []byte {
		m := &pb.Message{Type: typ.Enum(), To: new(uint64(2)), From: new(uint64(1)), Term: new(uint64(7)), Commit: new(uint64(4)),
			Entries: []*pb.Entry{{Index: new(uint64(5)), Term: new(uint64(7)), Data: []byte("entry")}}}
		b, err := proto.Marshal(m)
		require.NoError(t, err)
		return b
	}
	c := &Core{}
	assert.False(t, c.dropsWhileReceiving(encode(pb.MsgApp)), "no snapshot is being stored")
	c.receiving = &receiveJob{}
	assert.True(t, c.dropsWhileReceiving(encode(pb.MsgApp)))
	for _, typ := range []pb.MessageType{pb.MsgHeartbeat, pb.MsgVote, pb.MsgPreVote, pb.MsgTimeoutNow} {
		assert.False(t, c.dropsWhileReceiving(encode(typ)), "%v", typ)
	}
	// Protobuf takes the last of repeated scalar fields.
	twice := append(encode(pb.MsgApp), protowire.AppendVarint(protowire.AppendTag(nil, messageTypeField, protowire.VarintType), uint64(pb.MsgHeartbeat))...)
	assert.False(t, c.dropsWhileReceiving(twice))
	assert.False(t, c.dropsWhileReceiving([]byte{0xff}), "garbage is left for decodeMessage to refuse")
}

func TestSnapshotsAreSpacedByHowLongTheyTake(t *testing.T) {
	c := newSimClusterOn(t, 1, true, func(cfg *Config) {
		cfg.SnapshotEntries = 10
		cfg.CompactKeepEntries = 2
	})
	lead := c.waitLeader()
	core := c.nodes[lead].core
	core.asyncSnapshots = true // jobs are run by hand below, as Node runs them off its loop
	c.proposeAll([]consensus.NodeID{lead}, logtest.Values("a", 12))
	job := core.takeSnapshotJob()
	require.NotNil(t, job, "a snapshot is due")
	const took = 7
	for range took {
		c.tick()
	}
	job.run()
	core.finishSnapshot(job)
	require.NoError(t, job.err)
	rested := core.ticks + snapshotRestFactor*took
	assert.Equal(t, rested, core.snapshotAfter)

	c.proposeAll([]consensus.NodeID{lead}, logtest.Values("b", 12))
	for core.ticks < rested {
		require.Nil(t, core.takeSnapshotJob(), "no snapshot during the rest, at tick %d", core.ticks)
		c.tick()
	}
	c.proposeAll([]consensus.NodeID{lead}, []string{"after the rest"})
	assert.NotNil(t, core.takeSnapshotJob(), "a snapshot once the rest is over")
}

// A follower handed two snapshots before raft's Ready for the first (the
// second one older here) keeps the data of the one raft holds: the
// second is dropped, and the first is stored and delivered whole.
func TestSecondSnapshotBeforeTheFirstIsStoredIsDropped(t *testing.T) {
	c, lead, lagging, live := crashedFollower(t, true)
	c.proposeAll(live, logtest.Values("a", 30))
	older, err := c.nodes[lead].store.Snapshot()
	require.NoError(t, err)
	c.proposeAll(live, logtest.Values("b", 30))
	newer, err := c.nodes[lead].store.Snapshot()
	require.NoError(t, err)
	require.Greater(t, newer.GetMetadata().GetIndex(), older.GetMetadata().GetIndex())

	c.restart(lagging)
	follower := c.nodes[lagging].core
	term := c.nodes[lead].core.Status().Term
	for _, snap := range []*pb.Snapshot{newer, older} {
		m := &pb.Message{Type: pb.MsgSnap.Enum(), From: new(uint64(lead)), To: new(uint64(lagging)), Term: new(term),
			Snapshot: proto.CloneOf(snap)}
		b, err := proto.Marshal(m)
		require.NoError(t, err)
		require.NoError(t, follower.Step(consensus.Inbound{From: lead, Data: b}))
	}
	applies, err := follower.HandleReady()
	require.NoError(t, err)
	require.NotEmpty(t, applies)
	require.NotNil(t, applies[0].Snapshot)
	assert.Equal(t, newer.GetMetadata().GetIndex(), applies[0].Snapshot.Index)
	assert.Equal(t, newer.GetData(), applies[0].Snapshot.Data)
	require.NoError(t, c.nodes[lagging].app.Apply(applies...))
	assert.Equal(t, append(logtest.Values("a", 30), logtest.Values("b", 30)...), c.converged())
}

// A follower that installed a leader's snapshot rests before it takes one
// of its own, as after taking one: snapshotRestFactor times as long as
// the snapshot took from its arrival to its storing. The entries the
// leader committed meanwhile arrive at once after it; they used to make
// the follower serialise its whole state again the moment it caught up.
func TestInstalledSnapshotIsFollowedByARest(t *testing.T) {
	c, lead, lagging, live := crashedFollower(t, true)
	c.proposeAll(live, logtest.Values("a", 30))
	snap, err := c.nodes[lead].store.Snapshot()
	require.NoError(t, err)

	c.restart(lagging)
	follower := c.nodes[lagging].core
	m := &pb.Message{Type: pb.MsgSnap.Enum(), From: new(uint64(lead)), To: new(uint64(lagging)),
		Term: new(c.nodes[lead].core.Status().Term), Snapshot: snap}
	b, err := proto.Marshal(m)
	require.NoError(t, err)
	require.NoError(t, follower.Step(consensus.Inbound{From: lead, Data: b}))
	const took = 7 // ticks between its arrival and the Ready that stores it
	for range took {
		require.NoError(t, follower.Tick())
	}
	applies, err := follower.HandleReady()
	require.NoError(t, err)
	require.NotEmpty(t, applies)
	require.NotNil(t, applies[0].Snapshot, "the leader's snapshot is installed")
	require.NoError(t, c.nodes[lagging].app.Apply(applies...))
	rested := follower.ticks + snapshotRestFactor*took
	assert.Equal(t, rested, follower.snapshotAfter)

	follower.asyncSnapshots = true // jobs are taken by hand, as Node takes them
	c.proposeAll(live, logtest.Values("b", 30))
	for follower.ticks < rested {
		require.Nil(t, follower.takeSnapshotJob(), "no snapshot of its own during the rest, at tick %d", follower.ticks)
		c.tick()
	}
	c.proposeAll(live, []string{"after the rest"})
	assert.NotNil(t, follower.takeSnapshotJob(), "a snapshot of its own once the rest is over")
}
