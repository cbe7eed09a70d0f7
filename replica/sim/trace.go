package sim

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/fnv"
	"io"
	"log/slog"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/synodvm/synod/consensus"
)

// trace records every event of a run: it folds each into a hash, which two
// runs of one seed must agree on bit for bit, keeps the last few for the
// report of a failing seed, and writes them all to an optional writer.
// Raft messages are kept raw and described only when printed: they are
// most of the events, and almost never read.
type trace struct {
	hash   hash.Hash64
	events uint64
	tail   []event // a ring of the last len(tail) events
	full   io.Writer
}

type event struct {
	at   time.Duration
	node consensus.NodeID // 0 for the cluster as a whole
	text string
	// from and msg are a raft message received by node, when text is "".
	from consensus.NodeID
	msg  []byte
}

func newTrace(keep int, full io.Writer) *trace {
	return &trace{hash: fnv.New64a(), tail: make([]event, max(keep, 1)), full: full}
}

func (t *trace) record(e event) {
	var head [24]byte
	binary.LittleEndian.PutUint64(head[0:], uint64(e.at))
	binary.LittleEndian.PutUint64(head[8:], uint64(e.node))
	binary.LittleEndian.PutUint64(head[16:], uint64(e.from))
	t.hash.Write(head[:])
	t.hash.Write([]byte(e.text))
	t.hash.Write(e.msg)
	t.tail[t.events%uint64(len(t.tail))] = e
	t.events++
	if t.full != nil {
		fmt.Fprintln(t.full, e)
	}
}

// note records a described event.
func (t *trace) note(at time.Duration, node consensus.NodeID, format string, args ...any) {
	t.record(event{at: at, node: node, text: fmt.Sprintf(format, args...)})
}

// message records a raft message node received. The trace keeps msg, so
// the caller must not modify it afterwards.
func (t *trace) message(at time.Duration, node, from consensus.NodeID, msg []byte) {
	t.record(event{at: at, node: node, from: from, msg: msg})
}

// last returns the described last events, oldest first.
func (t *trace) last() []string {
	n := min(t.events, uint64(len(t.tail)))
	out := make([]string, 0, n)
	for i := t.events - n; i < t.events; i++ {
		out = append(out, t.tail[i%uint64(len(t.tail))].String())
	}
	return out
}

func (e event) String() string {
	where := "cluster"
	if e.node != 0 {
		where = fmt.Sprintf("n%d", e.node)
	}
	text := e.text
	if text == "" {
		text = describeMessage(e.from, e.msg)
	}
	return fmt.Sprintf("%10.3fs %-7s %s", e.at.Seconds(), where, text)
}

// describeMessage says who sent which raft message, and what it carries;
// of a Byzantine member's message, its channel, type and size.
func describeMessage(from consensus.NodeID, data []byte) string {
	if len(data) > 1 && data[0] == channelEngine {
		return fmt.Sprintf("<- n%d: bft message of type %d, %d bytes", from, data[1], len(data)-1)
	}
	if len(data) > 0 && data[0] == channelOutputs {
		return fmt.Sprintf("<- n%d: output signatures, %d bytes", from, len(data)-1)
	}
	m := &pb.Message{}
	if err := proto.Unmarshal(data, m); err != nil {
		return fmt.Sprintf("<- n%d: %d bytes that are not a raft message: %v", from, len(data), err)
	}
	s := fmt.Sprintf("<- n%d: %v term %d", from, m.GetType(), m.GetTerm())
	switch m.GetType() {
	case pb.MsgApp:
		s += fmt.Sprintf(" after %d/%d, %d entries, commit %d", m.GetIndex(), m.GetLogTerm(), len(m.GetEntries()), m.GetCommit())
	case pb.MsgAppResp:
		s += fmt.Sprintf(" index %d reject %v", m.GetIndex(), m.GetReject())
	case pb.MsgSnap:
		s += fmt.Sprintf(" snapshot at %d, %d bytes", m.GetSnapshot().GetMetadata().GetIndex(), len(m.GetSnapshot().GetData()))
	case pb.MsgVoteResp, pb.MsgPreVoteResp:
		s += fmt.Sprintf(" reject %v", m.GetReject())
	case pb.MsgHeartbeat:
		s += fmt.Sprintf(" commit %d", m.GetCommit())
	}
	return s
}

// sum is the trace's digest so far.
func (t *trace) sum() uint64 { return t.hash.Sum64() }

// traceHandler makes a node's log lines events of the trace.
type traceHandler struct{ n *node }

func (traceHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h traceHandler) Handle(_ context.Context, r slog.Record) error {
	text := r.Message
	r.Attrs(func(a slog.Attr) bool {
		text += " " + a.String()
		return true
	})
	h.n.sim.trace.note(h.n.sim.now, h.n.id, "%s", text)
	return nil
}

func (h traceHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h traceHandler) WithGroup(string) slog.Handler      { return h }
