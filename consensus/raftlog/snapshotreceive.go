package raftlog

import (
	"fmt"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// A follower receiving a leader's machine snapshot used to spend most of
// a minute on it on its event loop. Decoding the message copied the
// snapshot's data twice (protobuf copies a bytes field, and copies it
// again when it merges the second occurrence of the snapshot field that
// snapshotParts writes); raft copied it once more as it restored from it
// and again each time it looked for a Ready (proto.Clone of its unstable
// snapshot); every copy went to fresh memory, which the kernel hands out
// a page at a time (3–6 s for 500 MiB on the development machine); and
// the Ready then had the store write the data file, at the disk's pace,
// before the loop could go on. Meanwhile the follower answered nothing:
// the leader declared it down, and the log after the snapshot, which the
// leader keeps only for a while, was compacted before the follower asked
// for it, so that it needed a second snapshot. Now:
//
//   - decodeMessage leaves the snapshot's data where it arrived;
//   - raft is stepped with the snapshot's metadata alone, and the Core
//     puts the data back into the Ready that stores and delivers it
//     (receivedSnapshot);
//   - Node has the data file written off the loop (a receiveJob) before
//     the snapshot is stepped, and the Ready then stores it in one small
//     transaction (saveReceivedSnapshot). Until then the follower drops
//     the leader's appends: it would refuse them for a gap the snapshot
//     fills, and the refusal would make the leader send the snapshot
//     again; raft repeats an unanswered append at the next heartbeat.

// decodeMessage decodes a raft message. The data of a snapshot it carries
// is not copied: it stays a part of b, which the caller must not reuse.
func decodeMessage(b []byte) (*pb.Message, error) {
	rest, data, found, err := cutSnapshotData(b)
	if err != nil {
		return nil, err
	}
	m := &pb.Message{}
	if err := proto.Unmarshal(rest, m); err != nil {
		return nil, err
	}
	if found {
		if m.Snapshot == nil {
			m.Snapshot = &pb.Snapshot{}
		}
		m.Snapshot.Data = data
	}
	return m, nil
}

// cutSnapshotData finds the data of the snapshot in the encoded message
// b: the last data field of any occurrence of its snapshot field, which
// is what protobuf's merge rules make it. It returns b without those data
// fields (b itself when there are none) and the data, as a part of b.
func cutSnapshotData(b []byte) (rest, data []byte, found bool, err error) {
	for off := 0; off < len(b); {
		num, typ, _, field, err := nextField(b, off, "message")
		if err != nil {
			return nil, nil, false, err
		}
		found = found || num == messageSnapshotField && typ == protowire.BytesType
		off += len(field)
	}
	if !found {
		return b, nil, false, nil
	}
	found = false
	rest = make([]byte, 0, 1024)
	for off := 0; off < len(b); {
		num, typ, tagLen, field, _ := nextField(b, off, "message") // the first pass found each well formed
		off += len(field)
		if num != messageSnapshotField || typ != protowire.BytesType {
			rest = append(rest, field...)
			continue
		}
		snap, _ := protowire.ConsumeBytes(field[tagLen:])
		kept, snapData, hasData, err := cutDataField(snap)
		if err != nil {
			return nil, nil, false, err
		}
		if hasData {
			data, found = snapData, true
		}
		rest = protowire.AppendTag(rest, messageSnapshotField, protowire.BytesType)
		rest = protowire.AppendBytes(rest, kept)
	}
	return rest, data, found, nil
}

// cutDataField returns the encoded snapshot s without its data fields,
// and the last of them.
func cutDataField(s []byte) (kept, data []byte, found bool, err error) {
	for off := 0; off < len(s); {
		num, typ, tagLen, field, err := nextField(s, off, "snapshot")
		if err != nil {
			return nil, nil, false, err
		}
		off += len(field)
		if num == snapshotDataField && typ == protowire.BytesType {
			data, _ = protowire.ConsumeBytes(field[tagLen:])
			found = true
			continue
		}
		kept = append(kept, field...)
	}
	return kept, data, found, nil
}

// nextField parses the field at b[off:] of an encoded message (what names
// the message in errors) and returns its number, its wire type, the
// length of its tag, and the whole field, tag and value.
func nextField(b []byte, off int, what string) (num protowire.Number, typ protowire.Type, tagLen int, field []byte, err error) {
	num, typ, tagLen = protowire.ConsumeTag(b[off:])
	if tagLen < 0 {
		return 0, 0, 0, nil, fmt.Errorf("raftlog: %s field at byte %d: %w", what, off, protowire.ParseError(tagLen))
	}
	n := protowire.ConsumeFieldValue(num, typ, b[off+tagLen:])
	if n < 0 {
		return 0, 0, 0, nil, fmt.Errorf("raftlog: %s field %d at byte %d: %w", what, num, off, protowire.ParseError(n))
	}
	return num, typ, tagLen, b[off : off+tagLen+n], nil
}

// receivedSnapshot is the data of the snapshot last stepped into raft,
// which raft holds without it, and the file a receiveJob wrote it to, if
// any.
type receivedSnapshot struct {
	index, term uint64
	data        []byte
	// release frees data when the transport mapped it (nil otherwise).
	release func()
	stager  snapshotStager
	staged  *stagedSnapshot
	// arrivedTick is when it reached the Core, for the rest after it.
	arrivedTick uint64
}

// A leader's snapshot may arrive in memory the transport mapped for it
// (consensus.Inbound.Release), which must be released once, when nothing
// uses it any more. The release travels with the data: in the receiveJob
// that writes its file, then in the receivedSnapshot stepped into raft,
// then with the Apply that delivers it (takeDeliveredRelease), and the
// Node releases it once the user has taken a later Apply. Wherever the
// data is dropped instead, it is released there.

// release calls f unless it is nil.
func release(f func()) {
	if f != nil {
		f()
	}
}

// takeDeliveredRelease hands the driver the release of the snapshot data
// that the last HandleReady delivered, if the transport mapped it.
func (c *Core) takeDeliveredRelease() func() {
	f := c.deliveredRelease
	c.deliveredRelease = nil
	return f
}

// releaseReceived releases the data of leader's snapshots the Core still
// holds, when its driver stops: none of it reaches the user any more.
func (c *Core) releaseReceived() {
	if c.receiving != nil {
		release(c.receiving.release)
		c.receiving = nil
	}
	if c.received != nil {
		release(c.received.release)
		c.received = nil
	}
	release(c.takeDeliveredRelease())
}

// stepSnapshot steps m, a leader's snapshot, into raft without its data
// (it takes the data out of m), which the Core keeps until the Ready that
// stores it (fillSnapshot). staged is the file a receiveJob wrote the
// data to, or nil. A snapshot that arrives before the Ready of the one
// stepped last is dropped, so that the data kept is always that of the
// snapshot raft holds; the leader sends it again if it is still needed.
func (c *Core) stepSnapshot(m *pb.Message, dataRelease func(), stager snapshotStager, staged *stagedSnapshot, arrivedTick uint64) error {
	meta := m.GetSnapshot().GetMetadata()
	if c.received != nil {
		release(dataRelease)
		if staged != nil {
			stager.discardStaged(*staged)
		}
		c.log.Info("raftlog: a leader's snapshot arrived before the last one was stored; dropped",
			"from", m.GetFrom(), "index", meta.GetIndex(), "stored_index", c.received.index)
		return nil
	}
	c.received = &receivedSnapshot{index: meta.GetIndex(), term: meta.GetTerm(), data: m.GetSnapshot().GetData(),
		release: dataRelease, stager: stager, staged: staged, arrivedTick: arrivedTick}
	m.Snapshot = &pb.Snapshot{Metadata: meta}
	if err := c.rn.Step(m); err != nil {
		c.m.invalidMessages.Inc()
		return fmt.Errorf("raftlog: snapshot from node %d: %w", m.GetFrom(), err)
	}
	return nil
}

// fillSnapshot puts the data of the snapshot raft restored from back into
// rd, which carries its metadata only.
func (c *Core) fillSnapshot(rd *raft.Ready) error {
	if raft.IsEmptySnap(rd.Snapshot) {
		return nil
	}
	r, meta := c.received, rd.Snapshot.GetMetadata()
	if r == nil || r.index != meta.GetIndex() || r.term != meta.GetTerm() {
		return fmt.Errorf("raft restored a snapshot (index %d, term %d) whose data this node does not hold", meta.GetIndex(), meta.GetTerm())
	}
	rd.Snapshot.Data = r.data
	return nil
}

// saveReady persists a Ready's state: a leader's snapshot whose file a
// receiveJob wrote is saved from that file.
func (c *Core) saveReady(rd raft.Ready, hs *pb.HardState) error {
	r := c.received
	if raft.IsEmptySnap(rd.Snapshot) || r == nil {
		return c.store.Save(hs, rd.Entries, rd.Snapshot)
	}
	c.received = nil
	c.deliveredRelease = r.release
	c.restAfter(r.arrivedTick)
	if r.staged == nil {
		return c.store.Save(hs, rd.Entries, rd.Snapshot)
	}
	return r.stager.saveReceivedSnapshot(*r.staged, hs, rd.Entries, rd.Snapshot)
}

// discardUnusedReceived forgets a received snapshot that raft did not put
// in the Ready after it (it was no newer than what this node holds), and
// removes its file.
func (c *Core) discardUnusedReceived() {
	if c.received == nil {
		return
	}
	if c.received.staged != nil {
		c.received.stager.discardStaged(*c.received.staged)
	}
	release(c.received.release)
	c.received = nil
}

// receiveJob writes the data file of a snapshot a leader sent, off the
// event loop, before raft sees it. Run it once, on any goroutine, then
// hand it back to finishReceive on the loop.
type receiveJob struct {
	msg *pb.Message
	// release frees the message's data when the transport mapped it.
	release     func()
	stager      snapshotStager
	started     time.Time
	arrivedTick uint64

	staged *stagedSnapshot
	err    error
}

func (j *receiveJob) run() {
	meta := j.msg.GetSnapshot().GetMetadata()
	staged, err := j.stager.stageSnapshotAt(meta.GetIndex(), meta.GetTerm(), j.msg.GetSnapshot().GetData())
	if err != nil {
		j.err = err
		return
	}
	j.staged = &staged
}

// receiveOffLoop takes m, a leader's snapshot, and the release of its
// data from the loop if the driver stores received snapshots off it
// (Node), and reports whether it did. A snapshot that arrives while
// another is being stored is dropped: the leader sends it again if it is
// still needed once the first is in.
func (c *Core) receiveOffLoop(m *pb.Message, dataRelease func()) bool {
	stager, ok := c.store.(snapshotStager)
	if !c.asyncSnapshots || !ok || len(m.GetSnapshot().GetData()) == 0 {
		return false
	}
	if c.receiving != nil {
		c.log.Info("raftlog: a leader's snapshot arrived while another is being stored; dropped",
			"from", m.GetFrom(), "index", m.GetSnapshot().GetMetadata().GetIndex())
		release(dataRelease)
		return true
	}
	c.receiving = &receiveJob{msg: m, release: dataRelease, stager: stager, started: c.cfg.Clock(), arrivedTick: c.ticks}
	return true
}

// dropsWhileReceiving reports whether the encoded message b must be
// dropped because a snapshot is being stored: an append (see above). It
// reads the type field alone: while a follower wrote a 500 MiB
// snapshot's file (10 s), the leader repeated its append at every
// heartbeat, up to a megabyte of entries each time, and decoding them
// only to drop them took the follower 0.8 s of CPU.
func (c *Core) dropsWhileReceiving(b []byte) bool {
	if c.receiving == nil {
		return false
	}
	var t uint64 // the last type field counts, as in protobuf's decoding
	for off := 0; off < len(b); {
		num, typ, tagLen, field, err := nextField(b, off, "message")
		if err != nil {
			return false // decodeMessage reports it
		}
		if num == messageTypeField && typ == protowire.VarintType {
			t, _ = protowire.ConsumeVarint(field[tagLen:])
		}
		off += len(field)
	}
	return pb.MessageType(t) == pb.MsgApp
}

// takeReceiveJob hands the driver the received snapshot waiting to be
// stored, if any. A driver that takes it must run it and give it back
// through finishReceive; the Core takes no other snapshot until then.
func (c *Core) takeReceiveJob() *receiveJob {
	if c.receiving == nil || c.receivingTaken {
		return nil
	}
	c.receivingTaken = true
	return c.receiving
}

// finishReceive steps into raft the snapshot a receiveJob stored. Raft
// puts it in the next Ready if it is newer than what this node holds.
func (c *Core) finishReceive(j *receiveJob) error {
	if c.receiving == j {
		c.receiving, c.receivingTaken = nil, false
	}
	meta := j.msg.GetSnapshot().GetMetadata()
	if j.err != nil {
		release(j.release)
		c.log.Warn("raftlog: storing a leader's snapshot failed; the leader will send it again",
			"from", j.msg.GetFrom(), "index", meta.GetIndex(), "err", j.err)
		return nil
	}
	c.log.Info("raftlog: wrote a leader's snapshot off the loop", "from", j.msg.GetFrom(), "index", meta.GetIndex(),
		"bytes", len(j.msg.GetSnapshot().GetData()), "took", c.cfg.Clock().Sub(j.started))
	return c.guard("step snapshot", func() error { return c.stepSnapshot(j.msg, j.release, j.stager, j.staged, j.arrivedTick) })
}
