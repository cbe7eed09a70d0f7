package replica

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/consensus/memnet"
	"github.com/synodvm/synod/consensus/raftlog"
	"github.com/synodvm/synod/machine"
	"github.com/synodvm/synod/outputs"
)

// The tests in this file drive whole clusters from one goroutine: each
// node is the raft engine's deterministic core on an in-memory store and
// network, and a Replica. Nothing here sleeps or starts a goroutine, which
// is what lets a deterministic simulator run the real runtime.

const kvdGuest = "../cmd/synod/guests/kvd/kvd"

type simNode struct {
	id       consensus.NodeID
	core     *raftlog.Core
	rep      *Replica
	inbound  <-chan consensus.Inbound
	sealer   Sealer
	booted   bool
	sent     map[entry.ConnID]*bytes.Buffer // bytes this node sent to its clients
	serial   uint64
	proposed int
	// given is every entry the node's log gave its replica, in order.
	given []consensus.Entry
}

type sim struct {
	t     testing.TB
	net   *memnet.Network
	nodes []*simNode
	now   time.Duration
	// hashEvery is the boot entry's HashEvery.
	hashEvery uint64
	// maxProcesses is the boot entry's MaxProcesses.
	maxProcesses uint64
}

// simBootTime is the wall clock at the start of a simulation: the boot
// entry's, and the origin of the time the seals carry.
const simBootTime = 1_700_000_000_000_000_000

func newSim(t testing.TB, n int, guest []byte) *sim {
	t.Helper()
	s := &sim{t: t, net: memnet.New(1), hashEvery: 2}
	var ids []consensus.NodeID
	for i := 1; i <= n; i++ {
		ids = append(ids, consensus.NodeID(i))
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, id := range ids {
		ep, err := s.net.Join(id)
		require.NoError(t, err)
		core, err := raftlog.NewCore(raftlog.Config{ID: id, Peers: ids, Logger: quiet,
			Clock: func() time.Time { return time.Unix(0, int64(s.now)) }}, raftlog.NewMemStore(), ep)
		require.NoError(t, err)
		s.nodes = append(s.nodes, &simNode{
			id: id, core: core, inbound: ep.Inbound(),
			rep:    New(Config{Self: id, Guest: guest, ExePath: "/kvd", Logger: quiet}),
			sealer: Sealer{Window: 8, Retry: int64(time.Second)},
			sent:   map[entry.ConnID]*bytes.Buffer{},
		})
	}
	return s
}

func (s *sim) propose(n *simNode, e entry.Entry) {
	if err := n.core.Propose(entry.Encode(e)); err == nil {
		n.proposed++
	}
}

// step runs every node once and moves the virtual clock by a millisecond.
func (s *sim) step() {
	s.now += time.Millisecond
	s.net.Advance(time.Millisecond)
	for _, n := range s.nodes {
		s.stepNode(n)
	}
}

func (s *sim) stepNode(n *simNode) {
	for drained := false; !drained; {
		select {
		case m := <-n.inbound:
			n.core.Step(m)
		default:
			drained = true
		}
	}
	if s.now%(10*time.Millisecond) == 0 {
		require.NoError(s.t, n.core.Tick())
	}
	applies, err := n.core.HandleReady()
	require.NoError(s.t, err)
	for _, a := range applies {
		for _, e := range a.Entries {
			n.rep.Commit(e.Index, e.Data)
			n.given = append(n.given, e)
		}
	}
	for range 4 {
		if n.rep.Step() != Ran {
			break
		}
	}
	for _, o := range n.rep.Outputs() {
		s.perform(n, o)
	}
	for _, e := range n.rep.Proposals() {
		s.propose(n, e)
	}
	status := n.core.Status()
	if !n.rep.Status().Booted && status.IsLeader && !n.booted {
		n.booted = true
		s.propose(n, entry.Boot{
			GuestDigest: GuestDigest(n.rep.cfg.Guest), Argv: []string{"kvd"}, Time: simBootTime,
			EpochInstructions: 100_000, NanosPerInstruction: 10, HashEvery: s.hashEvery,
			Members: status.Members, MaxProcesses: s.maxProcesses,
		})
	}
	if seal, ok := n.sealer.Next(n.rep.SealInfo(), status.IsLeader, simBootTime+int64(s.now)); ok && n.rep.Status().Booted {
		s.propose(n, seal)
	}
}

// perform is the node's devices: it keeps what it sends to clients and
// answers refills with deterministic bytes.
func (s *sim) perform(n *simNode, o outputs.Output) {
	if o.Node != n.id {
		return
	}
	switch a := o.Action.(type) {
	case outputs.Send:
		if n.sent[a.Conn] == nil {
			n.sent[a.Conn] = &bytes.Buffer{}
		}
		n.sent[a.Conn].Write(a.Data)
	case outputs.Refill:
		s.propose(n, entry.Random{Node: n.id, Data: bytes.Repeat([]byte{byte(o.Seq)}, a.Bytes)})
	}
}

// run steps until cond holds, failing after a bounded number of steps.
func (s *sim) run(what string, cond func() bool) {
	s.t.Helper()
	for i := 0; i < 200_000; i++ {
		if cond() {
			return
		}
		s.step()
	}
	s.t.Fatalf("simulation: %s never happened", what)
}

// request sends a client's bytes through node n as its netport would (a
// batch with a new connection and its data) and returns what the node sent
// back once it contains want.
func (s *sim) request(n *simNode, port uint16, data, want string) string {
	s.t.Helper()
	n.serial++
	conn := entry.ConnID{Node: n.id, Serial: n.serial}
	s.propose(n, entry.Inputs{Time: simBootTime + int64(s.now), Entries: []entry.Entry{
		entry.ConnOpen{Conn: conn, Port: port},
		entry.ConnData{Conn: conn, Data: []byte(data)},
	}})
	s.run(fmt.Sprintf("reply %q through node %d", want, n.id), func() bool {
		return n.sent[conn] != nil && bytes.Contains(n.sent[conn].Bytes(), []byte(want))
	})
	return n.sent[conn].String()
}

// listening waits until the guest listens (its Listen outputs came out).
func (s *sim) listening(port uint16) {
	s.run("the guest listening", func() bool {
		for _, n := range s.nodes {
			if len(n.rep.ListenPorts()) == 0 || n.rep.ListenPorts()[0] != port {
				return false
			}
		}
		return true
	})
}

func readGuest(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func TestSimulatedClusterAgrees(t *testing.T) {
	s := newSim(t, 3, readGuest(t, kvdGuest))
	s.listening(6379)
	require.Contains(t, s.request(s.nodes[0], 6379, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv1\r\n", "+OK"), "+OK")
	require.Contains(t, s.request(s.nodes[2], 6379, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "v1"), "$2\r\nv1")
	require.Contains(t, s.request(s.nodes[1], 6379, "PING\r\n", "PONG"), "+PONG")

	// Every node performed only its own clients' outputs.
	for _, n := range s.nodes {
		for conn := range n.sent {
			require.Equal(t, n.id, conn.Node)
		}
	}
	s.commonCheckpoint()
}

// commonCheckpoint waits until all replicas reach the same checkpoint, and
// checks they have the same state there.
func (s *sim) commonCheckpoint() {
	s.t.Helper()
	s.run("a common checkpoint", func() bool {
		first := s.nodes[0].rep.Status()
		for _, n := range s.nodes[1:] {
			st := n.rep.Status()
			if st.LastHashAt != first.LastHashAt || st.LastHashAt == 0 {
				return false
			}
			require.Equal(s.t, first.LastHash, st.LastHash, "node %d at epoch %d", n.id, st.LastHashAt)
		}
		return true
	})
}

// A quiet cluster still takes checkpoints: a non-empty epoch is one when
// hashAtLeastEvery of guest time passed since the last, whatever its
// number, so an operator sees recent, equal hashes.
func TestQuietClusterHashesEveryFewSeconds(t *testing.T) {
	s := newSim(t, 3, readGuest(t, kvdGuest))
	s.hashEvery = 1 << 40 // never by number
	s.listening(6379)
	set := func(value string) {
		s.request(s.nodes[0], 6379, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n"+value+"\r\n", "+OK")
	}
	common := func(what string) uint64 {
		var epoch uint64
		s.run(what, func() bool {
			first := s.nodes[0].rep.Status()
			for _, n := range s.nodes[1:] {
				st := n.rep.Status()
				if st.LastHashAt != first.LastHashAt {
					return false
				}
				require.Equal(t, first.LastHash, st.LastHash, "node %d at epoch %d", n.id, st.LastHashAt)
			}
			epoch = first.LastHashAt
			return epoch != 0
		})
		return epoch
	}
	set("1")
	first := common("a first checkpoint")
	set("2")
	require.Equal(t, first, common("the same checkpoint"), "less than hashAtLeastEvery later, no new checkpoint")
	start := s.now
	s.run("guest time passing", func() bool { return s.now-start > time.Duration(hashAtLeastEvery) })
	set("3")
	require.Greater(t, common("a later checkpoint"), first)
}

// A replica whose state silently differs from the others' (a bit flipped
// in its memory) is detected at the next checkpoint and stops itself; the
// others go on serving.
func TestSimulatedDivergenceStopsTheReplica(t *testing.T) {
	s := newSim(t, 3, readGuest(t, kvdGuest))
	s.listening(6379)
	bad := s.nodes[2]
	flipDataByte(t, bad.rep.proc.Memory())

	// Checkpoints come with activity: clients keep the guest busy.
	for i := 0; i < 20 && bad.rep.Status().Stopped == nil; i++ {
		s.request(s.nodes[i%2], 6379, "PING\r\n", "PONG")
	}
	require.True(t, errors.Is(bad.rep.Status().Stopped, ErrDiverged), "%v", bad.rep.Status().Stopped)
	require.Contains(t, bad.rep.Status().Stopped.Error(), "epoch")
	require.Contains(t, bad.rep.Status().Stopped.Error(), "differing: memory", "the report names the part of the state that differs")
	for _, n := range s.nodes[:2] {
		require.Nil(t, n.rep.Status().Stopped, "node %d", n.id)
	}
	require.Contains(t, s.request(s.nodes[0], 6379, "PING\r\n", "PONG"), "+PONG", "the majority serves on")
}

// flipDataByte changes one byte of the first writable page of a process:
// a fault no guest code caused.
func flipDataByte(t *testing.T, mem *machine.Memory) {
	t.Helper()
	for addr := uint32(machine.PageSize); addr < 0xf0000000; addr += machine.PageSize {
		if prot, ok := mem.Mapped(addr); ok && prot&machine.ProtWrite != 0 {
			b := make([]byte, 1)
			require.NoError(t, mem.ReadBytes(addr, b))
			b[0] ^= 0x40
			require.NoError(t, mem.WriteBytes(addr, b))
			return
		}
	}
	t.Fatal("no writable page")
}

// The seal proposer sees a client talking to the guest both ways: its
// committed input, and the guest's answer.
func TestSealInfoTrafficMovesWithInputAndAnswers(t *testing.T) {
	s := newSim(t, 3, readGuest(t, kvdGuest))
	s.listening(6379)
	n := s.nodes[0]
	traffic, inputs := n.rep.SealInfo().Traffic, n.rep.sched.inputs
	s.request(n, 6379, "PING\r\n", "PONG")
	require.Greater(t, n.rep.sched.inputs, inputs, "the request's input")
	require.Greater(t, n.rep.SealInfo().Traffic-n.rep.sched.inputs, traffic-inputs, "the guest's answer")
}
