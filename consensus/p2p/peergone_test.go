package p2p

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
)

// A peer whose process ends (its transport closes its listener and
// connections, as a killed process's kernel does) is reported gone at
// once by the others; the peers still running are not.
func TestPeerWhoseProcessEndsIsReportedGone(t *testing.T) {
	c := newTestCluster(t, 3)
	one := start(t, c, 1, nil)
	two := start(t, c, 2, nil)
	three := start(t, c, 3, nil)
	waitConnected(t, one, 2, 3)
	waitConnected(t, three, 1, 2)

	require.NoError(t, two.Close())
	for _, tr := range []*Transport{one, three} {
		select {
		case id := <-tr.PeersGone():
			require.Equal(t, consensus.NodeID(2), id, "node %d", tr.opts.Self)
		case <-time.After(patience):
			t.Fatalf("node %d did not report node 2 gone", tr.opts.Self)
		}
	}
	select {
	case id := <-one.PeersGone():
		t.Fatalf("node 1 reported node %d gone as well", id)
	case <-time.After(300 * time.Millisecond):
	}
}
