package p2p

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
)

func TestMetricsCountTrafficAndDrops(t *testing.T) {
	c := newTestCluster(t, 3) // node 3 never starts
	reg1, reg2 := prometheus.NewRegistry(), prometheus.NewRegistry()
	n1 := start(t, c, 1, nil, func(o *Options) { o.Metrics = reg1 })
	n2 := start(t, c, 2, nil, func(o *Options) { o.Metrics = reg2 })
	waitConnected(t, n1, 2)

	for range 10 {
		require.NoError(t, n1.Send(2, []byte("12345")))
	}
	receive(t, n2, 10)
	require.ErrorIs(t, n1.Send(3, []byte("x")), consensus.ErrUnreachable)

	m1, m2 := n1.metrics, n2.metrics
	require.Eventually(t, func() bool { return testutil.ToFloat64(m1.sentMessages.WithLabelValues("2")) == 10 },
		patience, 5*time.Millisecond)
	require.Equal(t, 50.0, testutil.ToFloat64(m1.sentBytes.WithLabelValues("2")))
	require.Equal(t, 10.0, testutil.ToFloat64(m2.recvMessages.WithLabelValues("1")))
	require.Equal(t, 50.0, testutil.ToFloat64(m2.recvBytes.WithLabelValues("1")))
	require.Equal(t, 1.0, testutil.ToFloat64(m1.dropped.WithLabelValues("3", dropUnreachable)))
	require.Equal(t, 1.0, testutil.ToFloat64(m1.connected.WithLabelValues("2")))

	n, err := testutil.GatherAndCount(reg1, "synod_p2p_sent_messages_total")
	require.NoError(t, err)
	require.Equal(t, 1, n, "the counters are exported through the registerer given")

	_, err = New(Options{Cluster: c, Self: 3, Metrics: reg1})
	require.ErrorContains(t, err, "register p2p metrics", "two transports cannot share one registry")
}

func TestLargeMessageCrossesIntact(t *testing.T) {
	c := newTestCluster(t, 2)
	n1 := start(t, c, 1, nil)
	n2 := start(t, c, 2, nil)
	waitConnected(t, n1, 2)
	big := make([]byte, 16<<20)
	_, err := rand.Read(big)
	require.NoError(t, err)
	require.NoError(t, n1.Send(2, append([]byte(nil), big...)))
	got := receive(t, n2, 1)[0]
	require.Equal(t, consensus.NodeID(1), got.From)
	require.Equal(t, big, got.Data)
}
