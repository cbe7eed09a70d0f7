package replica

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// preforkGuest is a server whose workers are forked processes
// (testdata/prefork.c).
const preforkGuest = "testdata/prefork"

// TestPreforkingServerReplicates: a guest of several processes (a parent
// and the workers it forked, accepting on one socket) serves clients
// through every node, and all replicas reach the same checkpoint with the
// same state, processes included.
func TestPreforkingServerReplicates(t *testing.T) {
	s := newSim(t, 3, readGuest(t, preforkGuest))
	s.listening(7000)
	for i, n := range s.nodes {
		reply := s.request(n, 7000, "hello\n", "(worker")
		require.Regexp(t, `^HELLO \(worker [01] of 2\)\n$`, reply, "through node %d (request %d)", n.id, i)
	}
	s.commonCheckpoint()
}

// TestBootEntryCarriesTheProcessLimit: the boot entry's process limit is
// the guest's: with room for the parent and one worker, the second fork
// fails and the one worker serves every client.
func TestBootEntryCarriesTheProcessLimit(t *testing.T) {
	s := newSim(t, 3, readGuest(t, preforkGuest))
	s.maxProcesses = 2
	s.listening(7000)
	for _, n := range s.nodes {
		require.Equal(t, "HELLO (worker 0 of 1)\n", s.request(n, 7000, "hello\n", "(worker"), "through node %d", n.id)
	}
}
