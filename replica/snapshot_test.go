package replica

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A snapshot restores into a fresh replica that has exactly the state of
// the original; bad snapshots are refused with an error.
func TestSnapshotRoundTrip(t *testing.T) {
	guest := readGuest(t, kvdGuest)
	s := newSim(t, 3, guest)
	s.listening(6379)
	s.request(s.nodes[0], 6379, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", "+OK")

	orig := s.nodes[1].rep
	orig.Outputs()
	snap, index, err := orig.Snapshot()
	require.NoError(t, err)
	require.Equal(t, orig.Status().Delivered, index)

	restored := New(Config{Self: 2, Guest: guest, ExePath: "/kvd"})
	require.NoError(t, restored.Restore(snap))
	want, err := orig.stateHash()
	require.NoError(t, err)
	got, err := restored.stateHash()
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Equal(t, orig.Status().Epoch, restored.Status().Epoch)
	require.Equal(t, orig.ListenPorts(), restored.ListenPorts())

	for name, bad := range map[string][]byte{
		"empty":     nil,
		"garbage":   []byte("not a snapshot at all"),
		"truncated": snap[:len(snap)/2],
	} {
		require.Error(t, New(Config{Self: 2, Guest: guest}).Restore(bad), name)
	}
	require.ErrorContains(t, New(Config{Self: 2, Guest: []byte("another guest")}).Restore(snap), "guest")
}

// A frozen replica encodes the state it had when frozen, though the
// cluster went on serving requests and the guest wrote its memory since.
func TestFrozenSnapshotIsTheInstantItWasTaken(t *testing.T) {
	guest := readGuest(t, kvdGuest)
	s := newSim(t, 3, guest)
	s.listening(6379)
	s.request(s.nodes[0], 6379, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", "+OK")

	orig := s.nodes[1].rep
	orig.Outputs()
	want, err := orig.stateHash()
	require.NoError(t, err)
	frozen, err := orig.Freeze()
	require.NoError(t, err)
	require.Equal(t, orig.Status().Delivered, frozen.Index)

	s.request(s.nodes[0], 6379, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nlater\r\n", "+OK")
	now, err := orig.stateHash()
	require.NoError(t, err)
	require.NotEqual(t, want.Hash, now.Hash, "the replica moved on")

	restored := New(Config{Self: 2, Guest: guest, ExePath: "/kvd"})
	require.NoError(t, restored.Restore(frozen.Encode()))
	got, err := restored.stateHash()
	require.NoError(t, err)
	require.Equal(t, want.Parts, got.Parts)
}

// servingReplica is a replica of a three-node cluster whose kvd guest has
// served a SET.
func servingReplica(tb testing.TB) *Replica {
	tb.Helper()
	s := newSim(tb, 3, readGuest(tb, kvdGuest))
	s.listening(6379)
	s.request(s.nodes[0], 6379, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", "+OK")
	rep := s.nodes[1].rep
	rep.Outputs()
	return rep
}

func BenchmarkWorldEncode(b *testing.B) {
	w := servingReplica(b).world
	for b.Loop() {
		if _, err := w.encode(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWorldDecode(b *testing.B) {
	enc, err := servingReplica(b).world.encode()
	require.NoError(b, err)
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := decodeWorld(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStateHash is the whole state hash a replica computes at every
// checkpoint: threads and kernel, memory (its page hashes cached), world.
func BenchmarkStateHash(b *testing.B) {
	r := servingReplica(b)
	for b.Loop() {
		if _, err := r.stateHash(); err != nil {
			b.Fatal(err)
		}
	}
}
