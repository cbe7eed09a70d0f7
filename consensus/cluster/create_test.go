package cluster

import (
	"net"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCreateRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	first, err := Create(dir, Spec{Nodes: 3})
	require.NoError(t, err)

	_, err = Create(dir, Spec{Nodes: 3})
	require.ErrorContains(t, err, "--force")
	again, err := Load(filepath.Join(dir, FileName))
	require.NoError(t, err)
	require.Equal(t, first.ClusterID, again.ClusterID, "a refused create leaves the old cluster alone")

	forced, err := Create(dir, Spec{Nodes: 5, Force: true})
	require.NoError(t, err)
	require.NotEqual(t, first.ClusterID, forced.ClusterID)
	require.Len(t, forced.Nodes, 5)
	for _, n := range forced.Nodes {
		_, err := forced.LoadKey(n.ID)
		require.NoError(t, err)
	}
}

func TestCreatePlacesNodes(t *testing.T) {
	tests := []struct {
		name        string
		spec        Spec
		listens     []string
		statuses    []string
		offsets     []int
		serviceHost string
	}{
		{
			name:     "hosts given",
			spec:     Spec{Addrs: []string{"10.0.0.1:7000", "10.0.0.2:7000", "[fd00::3]:7000"}, Engine: EngineBFT},
			listens:  []string{"/ip4/10.0.0.1/tcp/7000", "/ip4/10.0.0.2/tcp/7000", "/ip6/fd00::3/tcp/7000"},
			statuses: []string{"10.0.0.1:7001", "10.0.0.2:7001", "[fd00::3]:7001"},
			offsets:  []int{0, 0, 0},
		},
		{
			name:     "two nodes share a host",
			spec:     Spec{Addrs: []string{"a.example:7000", "a.example:7100", "b.example:7000"}},
			listens:  []string{"/dns/a.example/tcp/7000", "/dns/a.example/tcp/7100", "/dns/b.example/tcp/7000"},
			statuses: []string{"a.example:7001", "a.example:7101", "b.example:7001"},
			offsets:  []int{1000, 2000, 0},
		},
		{
			name:     "base port",
			spec:     Spec{Nodes: 2, BasePort: 30000},
			listens:  []string{"/ip4/127.0.0.1/tcp/30000", "/ip4/127.0.0.1/tcp/30010"},
			statuses: []string{"127.0.0.1:30001", "127.0.0.1:30011"},
			offsets:  []int{1000, 2000},
		},
		{
			name:     "service offset",
			spec:     Spec{Nodes: 3, BasePort: 30000, ServiceOffset: 20000},
			listens:  []string{"/ip4/127.0.0.1/tcp/30000", "/ip4/127.0.0.1/tcp/30010", "/ip4/127.0.0.1/tcp/30020"},
			statuses: []string{"127.0.0.1:30001", "127.0.0.1:30011", "127.0.0.1:30021"},
			offsets:  []int{20000, 21000, 22000},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Create(t.TempDir(), tt.spec)
			require.NoError(t, err)
			require.Len(t, c.Nodes, len(tt.listens))
			for i, n := range c.Nodes {
				require.Equal(t, tt.listens[i], n.Listen.String())
				require.Equal(t, tt.statuses[i], n.StatusAddr)
				require.Equal(t, tt.offsets[i], n.ServicePortOffset)
			}
		})
	}
}

func TestCreateFreePortsAreDistinct(t *testing.T) {
	c, err := Create(t.TempDir(), Spec{Nodes: 5})
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, n := range c.Nodes {
		host, port, err := ListenHostPort(n.Listen)
		require.NoError(t, err)
		require.Equal(t, "127.0.0.1", host)
		_, statusPort, err := net.SplitHostPort(n.StatusAddr)
		require.NoError(t, err)
		for _, a := range []string{port, statusPort} {
			require.False(t, seen[a], "port %s used twice", a)
			seen[a] = true
		}
	}
}

func TestCreateRejects(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"no nodes", Spec{}, "need at least 1"},
		{"base port too high", Spec{Nodes: 3, BasePort: 65530}, "leaves no room"},
		{"address without port", Spec{Addrs: []string{"10.0.0.1"}}, "missing port"},
		{"address port too high", Spec{Addrs: []string{"10.0.0.1:65535"}}, "status endpoint takes port+1"},
		{"status clashes with a listener", Spec{Addrs: []string{"h:7000", "h:7001"}}, "both use h:7001"},
		{"unknown engine", Spec{Nodes: 1, Engine: "paxos"}, "unknown engine"},
		{"negative service offset", Spec{Nodes: 2, ServiceOffset: -1}, "service offset -1"},
		{"service offset too high", Spec{Nodes: 2, ServiceOffset: 65000}, "service offset 65000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Create(t.TempDir(), tt.spec)
			require.ErrorContains(t, err, tt.want)
		})
	}
}
