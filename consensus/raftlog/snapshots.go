package raftlog

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/synodvm/synod/consensus"
)

// Snapshots are the one thing in the engine that can be large: a machine
// snapshot reached 140 MB in the field, and everything done with it on
// the event loop (asking the user for it, writing it, marshalling it, or
// holding the stream that heartbeats travel on while it crosses) stalls
// the heartbeats: followers depose the leader, and a follower that needs
// the snapshot never gets it. So each step happens elsewhere:
//
//   - taking: the Core asks for a snapshot with a snapshotJob that its
//     driver runs on a goroutine of its own (Node does); the job asks the
//     user and writes the data file (snapshotStager); the Core records
//     the result in one small transaction (finishSnapshot);
//   - sending: a MsgSnap goes through Transport.SendSnapshot, on a channel
//     of its own in chunks, without being marshalled whole; raft hears
//     SnapshotFinish only once the follower confirms it holds it, and
//     SnapshotFailure after a back-off when it fails, because each retry
//     makes raft read the whole snapshot from the store again.

// snapshotJob is the slow part of taking a snapshot: asking the user for
// its state and writing it to disk. Run it once, on any goroutine, then
// hand it back to finishSnapshot on the loop.
type snapshotJob struct {
	source consensus.SnapshotSource
	stager snapshotStager // nil: the Core stores the snapshot whole, on the loop
	// above is the stored snapshot's index when the job was made: a
	// snapshot no newer is not worth writing.
	above   uint64
	started time.Time
	// startTick is the Core's tick when the job was made.
	startTick uint64

	snap   consensus.Snapshot
	staged *stagedSnapshot
	err    error
}

func (j *snapshotJob) run() {
	j.snap, j.err = j.source()
	if j.err != nil {
		j.err = fmt.Errorf("raftlog: snapshot source: %w", j.err)
		return
	}
	if j.stager == nil || j.snap.Index <= j.above {
		return
	}
	staged, err := j.stager.stageSnapshot(j.snap.Index, j.snap.Data)
	if err != nil {
		j.err = err
		return
	}
	j.staged = &staged
	j.snap.Data = nil // on disk now; the job may wait for the loop a while
}

// snapshotRestFactor spaces snapshots by how long the last one took: the
// next is asked for no sooner than this many times that after it ended,
// so that taking snapshots costs at most a fifth of the node's time. A
// machine snapshot of 500 MiB takes seconds of CPU and disk; taken every
// few seconds (a small SnapshotEntries, a busy log) it kept the node that
// served clients busy most of the time.
const snapshotRestFactor = 4

// restAfter spaces the next snapshot from one that began at startTick
// and is stored now: this node's own, or a leader's it installed. A
// follower that installed a leader's snapshot has as good a snapshot as
// it could take itself, and the log behind it grows quickly as it
// catches up; taking its own at once cost the catching-up node another
// whole serialisation of the machine, while the service shared its CPU.
func (c *Core) restAfter(startTick uint64) {
	c.snapshotAfter = max(c.snapshotAfter, c.ticks+snapshotRestFactor*(c.ticks-startTick))
}

// snapshotRetryTicks is how long after a snapshot that came to nothing
// (an error, or the user not yet past the stored one) the next is asked
// for: each attempt serialises the whole user state.
func (c *Core) snapshotRetryTicks() uint64 { return uint64(c.cfg.ElectionTicks) }

// newSnapshotJob makes the job for the snapshot maybeSnapshot decided to
// take.
func (c *Core) newSnapshotJob() *snapshotJob {
	j := &snapshotJob{source: c.cfg.SnapshotSource, above: c.snapIndex, started: c.cfg.Clock(), startTick: c.ticks}
	if s, ok := c.store.(snapshotStager); ok && c.asyncSnapshots {
		j.stager = s
	}
	return j
}

// takeSnapshotJob hands the driver the job waiting to be run, if any. A
// driver that takes jobs must run each and give it back through
// finishSnapshot; the Core makes no other until then.
func (c *Core) takeSnapshotJob() *snapshotJob {
	if c.job == nil || c.jobTaken {
		return nil
	}
	c.jobTaken = true
	return c.job
}

// finishSnapshot records the snapshot a job took, if it is still worth
// keeping, and compacts the log. A failure is logged, not fatal: the log
// merely grows until the next attempt.
func (c *Core) finishSnapshot(j *snapshotJob) {
	if c.job == j {
		c.job, c.jobTaken = nil, false
	}
	kept := false
	defer func() {
		if !kept {
			c.snapshotAfter = c.ticks + c.snapshotRetryTicks()
			if j.staged != nil {
				j.stager.discardStaged(*j.staged)
			}
		}
	}()
	if c.failed != nil {
		return
	}
	if j.err != nil {
		c.log.Warn("raftlog: snapshot failed; will retry", "err", j.err)
		return
	}
	if j.snap.Index <= c.snapIndex {
		return // the user has not applied past the last snapshot yet
	}
	ps, err := c.withMetadata(j.snap)
	if err != nil {
		c.log.Warn("raftlog: snapshot failed; will retry", "err", err)
		return
	}
	index := j.snap.Index
	compactTo := min(index-min(c.cfg.CompactKeepEntries, index), c.compactionFloor())
	if err := c.saveHardState(); err != nil {
		c.log.Warn("raftlog: snapshot: saving the hard state failed", "err", err)
		return
	}
	start := c.cfg.Clock()
	size := len(ps.GetData())
	if j.staged != nil {
		size = int(j.staged.file.size)
		err = j.stager.saveStagedSnapshot(*j.staged, ps.GetMetadata(), compactTo)
	} else {
		err = c.store.SaveSnapshot(ps, compactTo)
	}
	if err != nil {
		c.log.Warn("raftlog: snapshot: store failed", "index", index, "err", err)
		return
	}
	kept = true
	c.m.fsync.Observe(c.cfg.Clock().Sub(start).Seconds())
	c.restAfter(j.startTick)
	c.snapIndex = index
	i := 0
	for i+1 < len(c.confs) && c.confs[i+1].index <= index {
		i++
	}
	c.confs = slices.Clone(c.confs[i:])
	c.m.snapshotsCreated.Inc()
	c.log.Info("raftlog: snapshot taken, log compacted", "index", index, "compacted_to", compactTo, "bytes", size,
		"took", c.cfg.Clock().Sub(j.started), "written_off_loop", j.staged != nil)
}

// withMetadata adds to the user's snapshot what raft needs to restore it
// anywhere: the term of its index and the configuration in force there.
func (c *Core) withMetadata(snap consensus.Snapshot) (*pb.Snapshot, error) {
	if snap.Index > c.delivered || snap.Index < c.snapIndex {
		return nil, fmt.Errorf("raftlog: snapshot source returned index %d, outside the delivered range [%d, %d]", snap.Index, c.snapIndex, c.delivered)
	}
	term, err := c.store.Term(snap.Index)
	if err != nil {
		return nil, fmt.Errorf("raftlog: snapshot: term of %d: %w", snap.Index, err)
	}
	conf := c.confs[0].conf
	for _, ca := range c.confs {
		if ca.index <= snap.Index {
			conf = ca.conf
		}
	}
	return &pb.Snapshot{Data: snap.Data, Metadata: &pb.SnapshotMetadata{
		Index: new(snap.Index), Term: new(term), ConfState: conf,
	}}, nil
}

// Field numbers of the MsgSnap parts snapshotParts writes by hand, and of
// the type that dropsWhileReceiving reads.
var (
	messageSnapshotField = (&pb.Message{}).ProtoReflect().Descriptor().Fields().ByName("snapshot").Number()
	messageTypeField     = (&pb.Message{}).ProtoReflect().Descriptor().Fields().ByName("type").Number()
	snapshotDataField    = (&pb.Snapshot{}).ProtoReflect().Descriptor().Fields().ByName("data").Number()
)

// snapshotParts splits a MsgSnap into SendSnapshot's head and body without
// copying its data: head is the message without the snapshot's data,
// followed by the opening of a second occurrence of the snapshot field
// that holds only the data; body is the data. Protobuf merges the two
// occurrences of a message field when it decodes head+body, so the
// receiver steps the whole MsgSnap, and marshalling hundreds of megabytes
// on the event loop is avoided.
func snapshotParts(m *pb.Message) (head, body []byte, err error) {
	snap := m.Snapshot
	body = snap.GetData()
	m.Snapshot = &pb.Snapshot{Metadata: snap.GetMetadata()}
	head, err = proto.Marshal(m)
	m.Snapshot = snap
	if err != nil {
		return nil, nil, err
	}
	data := protowire.AppendTag(nil, snapshotDataField, protowire.BytesType)
	data = protowire.AppendVarint(data, uint64(len(body)))
	head = protowire.AppendTag(head, messageSnapshotField, protowire.BytesType)
	head = protowire.AppendVarint(head, uint64(len(data)+len(body)))
	return append(head, data...), body, nil
}

// sendSnapshot hands a MsgSnap to the transport's snapshot channel. The
// outcome comes back through SnapshotSent.
func (c *Core) sendSnapshot(m *pb.Message) {
	to := m.GetTo()
	index := m.GetSnapshot().GetMetadata().GetIndex()
	head, body, err := snapshotParts(m)
	if err == nil {
		err = c.net.SendSnapshot(consensus.NodeID(to), head, body)
	}
	if err != nil {
		c.releaseSnapshotData(body)
	}
	switch {
	case errors.Is(err, consensus.ErrSnapshotInFlight):
		// Raft asked again (a new term, a probe that raced the transfer)
		// while the last one is still on its way. Its outcome will end
		// this one too: raft takes the follower's answer to whichever
		// snapshot it installs.
		c.log.Debug("raftlog: a snapshot to this peer is still in flight", "to", to, "index", index)
	case err != nil:
		c.m.sendFailures.Inc()
		if errors.Is(err, consensus.ErrUnreachable) {
			c.rn.ReportUnreachable(to)
		}
		c.snapshotFailed(to, index, err)
	default:
		if c.snapshotsOut == nil {
			c.snapshotsOut = map[uint64]uint64{}
			c.snapshotData = map[uint64][]byte{}
		}
		c.snapshotsOut[to] = index
		c.snapshotData[to] = body
		c.log.Info("raftlog: sending snapshot", "to", to, "index", index, "bytes", len(body))
	}
}

// SnapshotSent tells the Core the outcome of one of its snapshots, as the
// transport reports it on SnapshotsSent. Only a snapshot the follower
// confirmed is reported to raft as finished.
func (c *Core) SnapshotSent(r consensus.SnapshotSent) error {
	return c.guard("snapshot sent", func() error {
		to := uint64(r.To)
		index, ok := c.snapshotsOut[to]
		delete(c.snapshotsOut, to)
		if !ok {
			return nil // sent before a restart of this Core
		}
		c.releaseSnapshotData(c.snapshotData[to])
		delete(c.snapshotData, to)
		if r.Err != nil {
			c.snapshotFailed(to, index, r.Err)
			return nil
		}
		delete(c.snapshotRetries, to)
		if c.snapshotsDelivered == nil {
			c.snapshotsDelivered = map[uint64]deliveredSnapshot{}
		}
		c.snapshotsDelivered[to] = deliveredSnapshot{index, c.ticks}
		c.m.snapshotsSent.Inc()
		c.log.Info("raftlog: sent snapshot", "to", to, "index", index)
		c.rn.ReportSnapshot(to, raft.SnapshotFinish)
		return nil
	})
}

// releaseSnapshotData tells the store that data, a snapshot's data raft
// read from it to send, is no longer used: a mapped file is unmapped
// (readAhead.release).
func (c *Core) releaseSnapshotData(data []byte) {
	if r, ok := c.store.(interface{ release([]byte) }); ok {
		r.release(data)
	}
}

// deliveredSnapshot is a snapshot a follower confirmed, and when.
type deliveredSnapshot struct{ index, tick uint64 }

// snapshotCatchUpTimeouts is how many election timeouts a follower that
// received a snapshot has to store it, restore from it and ask for the
// entries after it, before the log after it may be compacted away.
const snapshotCatchUpTimeouts = 30

// compactionFloor is the highest index the log may be compacted to
// without discarding entries a follower being caught up through a
// snapshot will ask for next: the log after a snapshot in flight or just
// delivered stays until the follower has it. Otherwise a busy leader
// snapshots again while the last snapshot crosses, and the follower,
// once it installed that one, finds the entries after it gone and needs
// another: with a large snapshot it never catches up.
func (c *Core) compactionFloor() uint64 {
	floor := uint64(math.MaxUint64)
	for _, index := range c.snapshotsOut {
		floor = min(floor, index)
	}
	progress := c.rn.Status().Progress
	for to, d := range c.snapshotsDelivered {
		pr, ok := progress[to]
		if !ok || pr.Match >= d.index || c.ticks > d.tick+snapshotCatchUpTimeouts*uint64(c.cfg.ElectionTicks) {
			delete(c.snapshotsDelivered, to)
			continue
		}
		floor = min(floor, d.index)
	}
	return floor
}

// snapshotRetry is a failed snapshot whose failure raft has not heard of
// yet.
type snapshotRetry struct {
	failures int
	reportAt uint64 // tick; 0 once reported
}

// maxSnapshotBackoff bounds the back-off between snapshots to one peer,
// in election timeouts.
const maxSnapshotBackoff = 8

// snapshotFailed holds back raft's SnapshotFailure for a back-off that
// doubles with each consecutive failure: raft answers a failure by
// sending the snapshot again, which reads all of it from the store on
// the event loop.
func (c *Core) snapshotFailed(to, index uint64, err error) {
	if c.snapshotRetries == nil {
		c.snapshotRetries = map[uint64]*snapshotRetry{}
	}
	r := c.snapshotRetries[to]
	if r == nil {
		r = &snapshotRetry{}
		c.snapshotRetries[to] = r
	}
	r.failures++
	wait := uint64(c.cfg.ElectionTicks) << min(r.failures-1, 3)
	wait = min(wait, maxSnapshotBackoff*uint64(c.cfg.ElectionTicks))
	r.reportAt = c.ticks + wait
	c.log.Warn("raftlog: sending a snapshot failed; raft sends it again after a back-off",
		"to", to, "index", index, "failures", r.failures, "retry_in_ticks", wait, "err", err)
}

// reportSnapshotFailures tells raft of the failures whose back-off is
// over.
func (c *Core) reportSnapshotFailures() {
	for to, r := range c.snapshotRetries {
		if r.reportAt != 0 && r.reportAt <= c.ticks {
			r.reportAt = 0
			c.rn.ReportSnapshot(to, raft.SnapshotFailure)
		}
	}
}
