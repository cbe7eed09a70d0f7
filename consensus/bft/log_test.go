package bft

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/logtest"
	"github.com/synodvm/synod/consensus/memnet"
)

// member is one running Log with its application: a History applied on a
// goroutine of its own, as a real user of the log would.
type member struct {
	log     *Log
	mu      sync.Mutex
	history logtest.History
	done    chan struct{}
}

func startMember(t *testing.T, net *memnet.Network, dir string, id consensus.NodeID, n int) *member {
	t.Helper()
	ep, err := net.Join(id)
	require.NoError(t, err)
	return startMemberOn(t, ep, dir, id, n)
}

func startMemberOn(t *testing.T, ep consensus.Transport, dir string, id consensus.NodeID, n int) *member {
	t.Helper()
	store, err := OpenFileStorage(filepath.Join(dir, "bft.records"))
	require.NoError(t, err)
	return startMemberWith(t, ep, store, id, n)
}

func startMemberWith(t *testing.T, ep consensus.Transport, store Storage, id consensus.NodeID, n int) *member {
	t.Helper()
	return startMemberGated(t, ep, store, id, n, nil)
}

// startMemberGated is startMemberWith for an application that gives its
// snapshots only once gate is closed (nil: at once).
func startMemberGated(t *testing.T, ep consensus.Transport, store Storage, id consensus.NodeID, n int, gate <-chan struct{}) *member {
	t.Helper()
	cfg := testConfig(id, n)
	// Ticks and timeouts long enough for a loaded machine under the race
	// detector, where checking a signature takes a millisecond.
	cfg.TickInterval = 10 * time.Millisecond
	cfg.RequestTimeoutTicks, cfg.ViewChangeTimeoutTicks = 100, 50
	m := &member{done: make(chan struct{})}
	var err error
	m.log, err = Start(cfg, store, ep, func() (consensus.Snapshot, error) {
		if gate != nil {
			<-gate
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.history.Snapshot()
	})
	require.NoError(t, err)
	t.Cleanup(func() { m.stop(t) })
	go func() {
		defer close(m.done)
		for a := range m.log.Applies() {
			m.mu.Lock()
			err := m.history.Apply(a)
			m.mu.Unlock()
			if err != nil {
				t.Errorf("node %d: %v", id, err)
			}
		}
	}()
	return m
}

func (m *member) stop(t *testing.T) {
	require.NoError(t, m.log.Stop())
	<-m.done
}

func (m *member) entries() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.history.Entries...)
}

// waitAgree waits until every member has executed exactly want, in one
// order, and returns that order.
func waitAgree(t *testing.T, members []*member, want []string) []string {
	t.Helper()
	var order []string
	require.Eventually(t, func() bool {
		order = members[0].entries()
		if len(order) != len(want) {
			return false
		}
		for _, m := range members[1:] {
			got := m.entries()
			if len(got) != len(order) {
				return false
			}
			for i := range got {
				if got[i] != order[i] {
					t.Fatalf("members disagree at entry %d: %q and %q", i, order[i], got[i])
				}
			}
		}
		return true
	}, 60*time.Second, 10*time.Millisecond)
	require.ElementsMatch(t, want, order)
	return order
}

// startMembers starts members first to last of a cluster of 4, each in
// a directory of its own.
func startMembers(t *testing.T, net *memnet.Network, first, last consensus.NodeID) []*member {
	var members []*member
	for id := first; id <= last; id++ {
		members = append(members, startMember(t, net, t.TempDir(), id, 4))
	}
	return members
}

// runNetwork starts an in-memory network whose clock follows wall time
// until the test ends.
func runNetwork(t *testing.T, seed uint64, faults memnet.Faults) *memnet.Network {
	net := memnet.New(seed)
	require.NoError(t, net.SetFaults(faults))
	stopClock := make(chan struct{})
	t.Cleanup(func() { close(stopClock) })
	go net.Run(time.Millisecond, stopClock)
	return net
}

func proposeAll(t *testing.T, members []*member, values []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, v := range values {
		if err := members[i%len(members)].log.Propose(ctx, []byte(v)); err != nil {
			for _, m := range members {
				t.Logf("%+v %+v", m.log.Status(), m.log.Stats())
			}
			t.Fatalf("propose %q at member %d: %v", v, i%len(members)+1, err)
		}
	}
}

func TestLogOverMemnet(t *testing.T) {
	net := runNetwork(t, 1, memnet.Faults{Drop: 0.02, Duplicate: 0.02, MinDelay: time.Millisecond, MaxDelay: 3 * time.Millisecond})
	members := startMembers(t, net, 1, 4)
	values := logtest.Values("v", 60)
	proposeAll(t, members, values)
	waitAgree(t, members, values)
	st := members[0].log.Status()
	require.Equal(t, consensus.NodeID(1), st.Leader, "the primary of view 0")
	require.Equal(t, uint64(60), st.Applied)
}

// TestLogAgreesWhileItsApplicationTakesASnapshot gives two of four
// members (the primary among them) an application that does not answer
// for its checkpoint's snapshot: they go on voting meanwhile, so the
// other two execute past the checkpoint, and once the snapshots come all
// four agree. A member whose loop waited for its application took no
// message until then, and with two such members no batch after the
// checkpoint could be decided.
func TestLogAgreesWhileItsApplicationTakesASnapshot(t *testing.T) {
	net := runNetwork(t, 3, memnet.Faults{MinDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond})
	gate := make(chan struct{})
	var members []*member
	for id := consensus.NodeID(1); id <= 4; id++ {
		ep, err := net.Join(id)
		require.NoError(t, err)
		store, err := OpenFileStorage(filepath.Join(t.TempDir(), "bft.records"))
		require.NoError(t, err)
		var g <-chan struct{}
		if id <= 2 {
			g = gate
		}
		members = append(members, startMemberGated(t, ep, store, id, 4, g))
	}
	released := false
	t.Cleanup(func() {
		if !released {
			close(gate)
		}
	})
	// One batch a value, past the checkpoint (interval 4) and inside the
	// window (8), which moves only once a quorum signs the checkpoint.
	values := logtest.Values("v", 7)
	for i := range values {
		proposeAll(t, members[2:3], values[i:i+1])
		waitAgree(t, members[2:], values[:i+1])
	}
	interval := members[0].log.core.cfg.CheckpointInterval
	for _, m := range members[:2] {
		require.LessOrEqual(t, uint64(len(m.entries())), interval, "a member whose application has not answered executed past its checkpoint")
	}
	close(gate)
	released = true
	waitAgree(t, members, values)
}

// TestLogRestarts stops members one at a time mid-run and starts them
// again from their storage: each comes back with what it had (snapshot
// and decided entries replayed) and catches up.
func TestLogRestarts(t *testing.T) {
	net := runNetwork(t, 2, memnet.Faults{MinDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond})
	dirs := make([]string, 4)
	var members []*member
	for i := range dirs {
		dirs[i] = t.TempDir()
		members = append(members, startMember(t, net, dirs[i], consensus.NodeID(i+1), 4))
	}
	var values []string
	for round := range 4 {
		batch := logtest.Values("round"+string(rune('a'+round)), 20)
		values = append(values, batch...)
		proposeAll(t, members, batch)
		waitAgree(t, members, values)
		victim := round % 4
		members[victim].stop(t)
		members[victim] = startMember(t, net, dirs[victim], consensus.NodeID(victim+1), 4)
		waitAgree(t, members, values)
	}
	waitAgree(t, members, values)
}

// mute is a transport that sends nothing: a primary gone silent while
// still receiving.
type mute struct{ consensus.Transport }

func (mute) Send(consensus.NodeID, []byte) error { return nil }

func TestLogSurvivesSilentPrimary(t *testing.T) {
	net := runNetwork(t, 3, memnet.Faults{MinDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond})
	ep, err := net.Join(1)
	require.NoError(t, err)
	startMemberOn(t, mute{ep}, t.TempDir(), 1, 4)
	members := startMembers(t, net, 2, 4)
	values := logtest.Values("v", 30)
	proposeAll(t, members, values)
	waitAgree(t, members, values)
	st := members[0].log.Status()
	require.Positive(t, st.Term, "the members left view 0")
	require.NotEqual(t, consensus.NodeID(1), st.Leader)
}

// slowStore is a Storage whose appends take a few milliseconds, so that
// the Log steps its core while a write is in progress; it remembers every
// record that was durable at some point.
type slowStore struct {
	Storage
	mu      sync.Mutex
	durable map[string]bool
}

func (s *slowStore) Append(records [][]byte, replace bool) error {
	time.Sleep(3 * time.Millisecond)
	if err := s.Storage.Append(records, replace); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range records {
		s.durable[string(r)] = true
	}
	return nil
}

func (s *slowStore) isDurable(record []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.durable[string(record)]
}

// durableSends is a transport that fails the test when a request,
// pre-prepare, prepare or commit its member signed leaves before its
// record is durable (a member also passes on others' requests).
type durableSends struct {
	consensus.Transport
	t     *testing.T
	id    consensus.NodeID
	store *slowStore
}

func (d durableSends) Send(to consensus.NodeID, data []byte) error {
	switch msgType(data[0]) {
	case msgRequest, msgPrePrepare, msgPrepare, msgCommit:
		signer := consensus.NodeID(binary.BigEndian.Uint64(data[1:9]))
		if signer == d.id && !d.store.isDurable(encodeSignedRecord(data)) {
			d.t.Errorf("a %s left before its record was durable", msgType(data[0]))
		}
	}
	return d.Transport.Send(to, data)
}

// TestLogSendsOnlyWhatIsDurable: Log writes on a goroutine of its own
// while its core goes on; nothing this member signed may leave before it
// is stored, or after a crash it could sign something else in its place.
func TestLogSendsOnlyWhatIsDurable(t *testing.T) {
	net := runNetwork(t, 4, memnet.Faults{MinDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond})
	var members []*member
	for id := consensus.NodeID(1); id <= 4; id++ {
		file, err := OpenFileStorage(filepath.Join(t.TempDir(), "bft.records"))
		require.NoError(t, err)
		store := &slowStore{Storage: file, durable: map[string]bool{}}
		ep, err := net.Join(id)
		require.NoError(t, err)
		members = append(members, startMemberWith(t, durableSends{Transport: ep, t: t, id: id, store: store}, store, id, 4))
	}
	values := logtest.Values("v", 60)
	proposeAll(t, members, values)
	waitAgree(t, members, values)
}
