package sim

import (
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/bft"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/outputs"
	"github.com/synodvm/synod/replica"
)

// engine is a node's consensus core as its simulated process drives it:
// raftlog.Core, or a bftEngine. Step's error is only for a core that
// failed; a message it refuses is its own business.
type engine interface {
	Tick() error
	Step(in consensus.Inbound) error
	SnapshotSent(r consensus.SnapshotSent) error
	HandleReady() ([]consensus.Apply, error)
	Propose(data []byte) error
	Status() consensus.Status
}

// Two channels share the members' connections in a Byzantine cluster, as
// consensus/bftnode marks them: the engine's messages and the output
// certifiers' signatures.
const (
	channelEngine  byte = 0
	channelOutputs byte = 1
)

func tagged(channel byte, msg []byte) []byte { return append([]byte{channel}, msg...) }

// bftEngine is a node's Byzantine engine as bft.Log and bftnode drive it
// (records persisted before messages go out, the snapshot taken once the
// replica has applied everything before the checkpoint and is at rest),
// and the node's output certifier on the second channel. A faulty
// member's misbehaviour is done here, to what it sends.
type bftEngine struct {
	n    *node
	core *bft.Core
	// twin is the second core under the faulty member's identity, in a
	// twins run; nil otherwise.
	twin *bft.Core
	cert *outputs.Certifier
	// due is the checkpoint whose snapshot the core waits for.
	due *bft.SnapshotDue
	// heard keeps messages of other members this one received, and own
	// messages it sent, for a member that forges and replays.
	heard, own [][]byte
	// late holds a slow member's messages until their time.
	late []lateMessage
}

type lateMessage struct {
	at   time.Duration
	to   consensus.NodeID
	data []byte
}

// maxKept bounds the messages a forging member keeps to replay.
const maxKept = 256

// bftConfig is member id's engine configuration in the run. The view
// change timeout backs off at most 8-fold, so that a silent primary's
// view is left within the liveness bound at every tick the plans draw.
func (s *Sim) bftConfig(n *node) bft.Config {
	return bft.Config{
		ID: n.id, PublicKeys: s.publicKeys, PrivateKey: memberKey(s.opts.Seed, n.id), Cluster: s.clusterID(),
		CheckpointInterval:     s.byz.checkpointInterval,
		RequestTimeoutTicks:    20,
		ViewChangeTimeoutTicks: 20, MaxViewChangeTimeoutTicks: 160,
		RetransmitTicks: 4,
		CheckRequest:    replica.CheckProposedTime(func() time.Time { return time.Unix(0, n.clock()) }, replica.MaxClockAhead),
		// The engine's view changes, state transfers and refusals are
		// what a liveness failure is usually made of: they go into the
		// trace (its last events print with a violation).
		Logger: slog.New(traceHandler{n}),
	}
}

// startBFT starts n's engine from the records its earlier lives
// persisted, and its certifier.
func (n *node) startBFT(p *process) (*bftEngine, error) {
	s := n.sim
	core, err := bft.NewCore(s.bftConfig(n), n.records)
	if err != nil {
		return nil, fmt.Errorf("node %d: %w", n.id, err)
	}
	e := &bftEngine{n: n, core: core}
	if s.faulty(n) && s.byz.behaviour == Twins {
		if e.twin, err = bft.NewCore(s.bftConfig(n), n.twinRecords); err != nil {
			return nil, fmt.Errorf("node %d's twin: %w", n.id, err)
		}
	}
	e.cert, err = outputs.NewCertifier(outputs.CertifierConfig{
		Self: n.id, ClusterID: s.clusterID(), Key: memberKey(s.opts.Seed, n.id), Members: s.publicKeys,
		Send:             func(to consensus.NodeID, msg []byte) error { return e.sendOutputs(to, msg) },
		SignWrongDigests: s.faulty(n) && s.byz.behaviour == WrongOutputs,
		Logger:           quiet,
		Now:              func() time.Time { return time.Unix(0, s.wallStart+int64(s.now)) },
	})
	if err != nil {
		return nil, fmt.Errorf("node %d: %w", n.id, err)
	}
	p.router.Certify = e.cert
	return e, nil
}

func (e *bftEngine) Tick() error {
	e.core.Tick()
	if e.twin != nil {
		e.twin.Tick()
	}
	e.cert.Tick(time.Unix(0, e.n.sim.wallStart+int64(e.n.sim.now)))
	return nil
}

// Step hands a received message to the engine (to one of the twins at
// random, in a twins run) or to the certifier.
func (e *bftEngine) Step(in consensus.Inbound) error {
	if len(in.Data) == 0 {
		return nil
	}
	msg := in.Data[1:]
	switch in.Data[0] {
	case channelEngine:
		if e.twin != nil && e.n.sim.rng.IntN(2) == 0 {
			_ = e.twin.Step(in.From, msg)
			return nil
		}
		if err := e.core.Step(in.From, msg); err == nil && e.forging() {
			e.heard = keep(e.heard, msg)
		}
	case channelOutputs:
		e.cert.Receive(in.From, msg)
	}
	return nil // a refused message is counted by the core
}

func (e *bftEngine) SnapshotSent(consensus.SnapshotSent) error { return nil } // the peer asks again

// HandleReady does what the cores have ready: persist, send, and collect
// what the replica must apply. The twin's applies are dropped and its
// checkpoints taken over a made-up state: it is faulty anyway.
func (e *bftEngine) HandleReady() ([]consensus.Apply, error) {
	var applies []consensus.Apply
	for e.core.HasReady() {
		rd := e.core.Ready()
		if !e.n.persistRecords(rd) {
			return applies, nil
		}
		e.sendAll(rd)
		for _, a := range rd.Applies {
			if a.Snapshot != nil {
				e.due = nil // the state was replaced: what was due no longer is
			}
		}
		applies = append(applies, rd.Applies...)
		if rd.SnapshotDue != nil {
			e.due = rd.SnapshotDue
		}
	}
	for e.twin != nil && e.twin.HasReady() {
		rd := e.twin.Ready()
		e.n.twinRecords = persist(e.n.twinRecords, rd)
		e.sendAll(rd)
		if rd.SnapshotDue != nil {
			_ = e.twin.SnapshotTaken(rd.SnapshotDue.Seq, fmt.Appendf(nil, "twin state at %d", rd.SnapshotDue.Index))
		}
	}
	e.sendLate()
	if e.n.disk.rejoining && !e.core.Status().Rejoining {
		e.n.disk.rejoining = false // another store may be lost now
	}
	return applies, nil
}

// persist stores a Ready's records: each Ready's are one atomic write
// that survives the process.
func persist(records [][]byte, rd bft.Ready) [][]byte {
	if rd.Compact {
		records = nil
	}
	return append(records, rd.Persist...)
}

func (e *bftEngine) sendAll(rd bft.Ready) {
	for _, m := range rd.Messages {
		e.send(m.To, m.Data)
	}
	for _, sn := range rd.Snapshots {
		if e.n.p.failed == "" && !e.silent() {
			_ = e.n.p.ep.SendSnapshot(sn.To, tagged(channelEngine, sn.Head), sn.Body)
		}
	}
}

// takeSnapshotAtRest answers the checkpoint that is due once the replica
// has applied every entry before it and run as far as they let it: the
// state every correct member digests alike (replica.Node's
// SnapshotsAtRest). A member faulty with wrong-state digests another.
func (e *bftEngine) takeSnapshotAtRest(atRest bool) {
	if e.due == nil || !atRest {
		return
	}
	snap, err := e.n.snapshot()
	if err != nil || snap.Index != e.due.Index {
		return // still applying
	}
	data := snap.Data
	if e.n.sim.faulty(e.n) && e.n.sim.byz.behaviour == WrongState {
		data = append(slices.Clip(data), "and a state of its own"...)
		e.n.sim.byzCounts.Tampered++
	}
	if err := e.core.SnapshotTaken(e.due.Seq, data); err != nil {
		e.n.sim.violate(invRaftRuns, "node %d: the engine refused the snapshot due at %d: %v", e.n.id, e.due.Index, err)
	}
	e.due = nil
}

// Propose proposes data; a member faulty with wrong-state proposes a
// wrong hash for every state hash of its own.
func (e *bftEngine) Propose(data []byte) error {
	if e.n.sim.faulty(e.n) && e.n.sim.byz.behaviour == WrongState {
		if h, err := entry.Decode(data); err == nil {
			if h, ok := h.(entry.StateHash); ok {
				h.Hash[0] ^= 0xff
				data = entry.Encode(h)
				e.n.sim.byzCounts.Tampered++
			}
		}
	}
	return e.core.Propose(data)
}

// Status is the engine's status with what bftnode adds: on the primary
// the members its transport reaches.
func (e *bftEngine) Status() consensus.Status {
	st := e.core.Status()
	if st.IsLeader {
		st.Reachable = e.n.sim.reachable(e.n)
	}
	return st
}

func (e *bftEngine) silent() bool {
	return e.n.sim.faulty(e.n) && e.n.sim.byz.behaviour == Silent
}

func (e *bftEngine) forging() bool {
	return e.n.sim.faulty(e.n) && e.n.sim.byz.behaviour == ForgedMessages
}

// send sends an engine message, as the faulty member's behaviour
// rewrites it.
func (e *bftEngine) send(to consensus.NodeID, data []byte) {
	for _, d := range e.misbehave(to, data) {
		e.transmit(to, tagged(channelEngine, d))
	}
}

func (e *bftEngine) transmit(to consensus.NodeID, msg []byte) {
	if e.n.p.failed == "" {
		_ = e.n.p.ep.Send(to, msg) // lost messages are resent by the core
	}
}

func (e *bftEngine) sendOutputs(to consensus.NodeID, msg []byte) error {
	if e.silent() {
		return nil
	}
	e.transmit(to, tagged(channelOutputs, msg))
	return nil
}

// misbehave is what goes out for one engine message of this member.
func (e *bftEngine) misbehave(to consensus.NodeID, data []byte) [][]byte {
	s := e.n.sim
	if !s.faulty(e.n) {
		return [][]byte{data}
	}
	key := memberKey(s.opts.Seed, e.n.id)
	switch s.byz.behaviour {
	case Equivocate:
		if forged, ok := bft.Equivocation(s.clusterID(), key, e.n.id, data); ok && to >= 3 {
			s.byzCounts.Tampered++
			return [][]byte{forged}
		}
	case Silent:
		return nil
	case Slow:
		e.late = append(e.late, lateMessage{at: s.now + slowDelay, to: to, data: data})
		return nil
	case ForgedMessages:
		flipped := slices.Clone(data)
		flipped[len(flipped)-1] ^= 1
		out := [][]byte{data, flipped, data[:s.rng.IntN(len(data))]}
		if len(e.heard) > 0 {
			out = append(out, e.heard[s.rng.IntN(len(e.heard))]) // another's message as its own
		}
		if len(e.own) > 0 {
			out = append(out, e.own[s.rng.IntN(len(e.own))]) // replayed
		}
		e.own = keep(e.own, data)
		s.byzCounts.Tampered += uint64(len(out) - 1)
		return out
	case GarbageFlood:
		out := [][]byte{data}
		for range 4 {
			junk := make([]byte, s.rng.IntN(200))
			for i := range junk {
				junk[i] = byte(s.rng.Uint32())
			}
			out = append(out, junk, bft.SignedGarbage(s.clusterID(), key, e.n.id, byte(s.rng.Uint32()), junk))
		}
		s.byzCounts.Tampered += uint64(len(out) - 1)
		return out
	}
	return [][]byte{data}
}

// sendLate sends a slow member's messages whose time has come.
func (e *bftEngine) sendLate() {
	now := e.n.sim.now
	i := 0
	for ; i < len(e.late) && e.late[i].at <= now; i++ {
		e.transmit(e.late[i].to, tagged(channelEngine, e.late[i].data))
	}
	e.late = e.late[i:]
}

func keep(kept [][]byte, msg []byte) [][]byte {
	if len(kept) >= maxKept {
		kept = kept[1:]
	}
	return append(kept, msg)
}
