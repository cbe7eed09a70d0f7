package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
)

// newCluster makes a valid 3-node cluster in a temp dir.
func newCluster(t *testing.T) *Config {
	t.Helper()
	c, err := Create(t.TempDir(), Spec{Nodes: 3, BasePort: 17000})
	require.NoError(t, err)
	return c
}

func TestCreateLoadsBack(t *testing.T) {
	c := newCluster(t)
	require.Equal(t, EngineRaft, c.Engine)
	require.Len(t, c.Nodes, 3)
	require.Len(t, c.PreSharedKey(), 32)
	for i, n := range c.Nodes {
		require.Equal(t, consensus.NodeID(i+1), n.ID)
		key, err := c.LoadKey(n.ID)
		require.NoError(t, err)
		id, err := peer.IDFromPrivateKey(key)
		require.NoError(t, err)
		require.Equal(t, n.PeerID, id)
		for _, secret := range []string{c.Path(n.KeyFile), c.Path(c.PSKFile)} {
			st, err := os.Stat(secret)
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), secret)
		}
	}
	require.Equal(t, "/ip4/127.0.0.1/tcp/17010", c.Nodes[1].Listen.String())
	require.Equal(t, "127.0.0.1:17011", c.Nodes[1].StatusAddr)
	addr, err := c.Nodes[1].ServiceAddr(6379)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:8379", addr)
}

// disk is a disk of 1 MiB with a path through each of nodes.
func disk(name string, nodes ...consensus.NodeID) Disk {
	d := Disk{Name: name, Size: 1 << 20}
	for _, n := range nodes {
		d.Paths = append(d.Paths, DiskPath{Node: n, Addr: "127.0.0.1:17100"})
	}
	return d
}

func TestDisksLoadBack(t *testing.T) {
	disks := []Disk{disk("journal", 1, 2, 3), disk("local-1", 1)}
	c, err := Create(t.TempDir(), Spec{Nodes: 3, BasePort: 17200, Disks: disks})
	require.NoError(t, err)
	require.Equal(t, disks, c.Disks)
}

// TestLoadRejects edits a valid config one way at a time and checks that
// Load names what is wrong.
func TestLoadRejects(t *testing.T) {
	otherKey, _, err := crypto.GenerateEd25519Key(nil)
	require.NoError(t, err)
	otherPeer, err := peer.IDFromPrivateKey(otherKey)
	require.NoError(t, err)
	secpKey, _, err := crypto.GenerateSecp256k1Key(nil)
	require.NoError(t, err)
	secpPeer, err := peer.IDFromPrivateKey(secpKey)
	require.NoError(t, err)

	tests := []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"empty name", func(c *Config) { c.Name = " " }, "name is empty"},
		{"bad cluster id", func(c *Config) { c.ClusterID = "abc" }, "cluster_id"},
		{"unknown engine", func(c *Config) { c.Engine = "paxos" }, `unknown engine "paxos"`},
		{"no psk", func(c *Config) { c.PSKFile = "" }, "exactly one of psk_file and psk"},
		{"two psks", func(c *Config) { c.PSK = strings.Repeat("ab", 32) }, "exactly one of psk_file and psk"},
		{"no nodes", func(c *Config) { c.Nodes = nil }, "no [[node]] entries"},
		{"zero id", func(c *Config) { c.Nodes[1].ID = 0 }, "id must be non-zero"},
		{"duplicate id", func(c *Config) { c.Nodes[2].ID = 1 }, "node id 1 appears twice"},
		{"duplicate peer", func(c *Config) { c.Nodes[2].PeerID = c.Nodes[0].PeerID }, "same peer_id"},
		{"secp256k1 peer", func(c *Config) { c.Nodes[0].PeerID = secpPeer }, "synod uses ed25519"},
		{"duplicate listen", func(c *Config) { c.Nodes[1].Listen = c.Nodes[0].Listen }, "both use 127.0.0.1:17000"},
		{"listen on status port", func(c *Config) { c.Nodes[1].StatusAddr = "127.0.0.1:17000" }, "both use 127.0.0.1:17000"},
		{"quic", func(c *Config) { c.Nodes[0].Listen = ma.StringCast("/ip4/127.0.0.1/udp/1/quic-v1") }, "QUIC/UDP cannot carry"},
		{"port zero", func(c *Config) { c.Nodes[0].Listen = ma.StringCast("/ip4/127.0.0.1/tcp/0") }, "port 0"},
		{"p2p suffix", func(c *Config) {
			c.Nodes[0].Listen = ma.StringCast("/ip4/127.0.0.1/tcp/1/p2p/" + otherPeer.String())
		}, "want /ip4|ip6|dns/HOST/tcp/PORT"},
		{"status without port", func(c *Config) { c.Nodes[0].StatusAddr = "127.0.0.1" }, "status_addr"},
		{"shared data dir", func(c *Config) { c.Nodes[2].DataDir = c.Nodes[0].DataDir }, "share data_dir"},
		{"same service ports", func(c *Config) { c.Nodes[2].ServicePortOffset = c.Nodes[0].ServicePortOffset }, "same service_port_offset"},
		{"no key file", func(c *Config) { c.Nodes[0].KeyFile = "" }, "key_file is empty"},
		{"missing psk file", func(c *Config) { c.PSKFile = "nope" }, "no such file"},
		{"disk name", func(c *Config) { c.Disks = []Disk{disk("a/b", 1)} }, `name "a/b"`},
		{"disk size", func(c *Config) { c.Disks = []Disk{{Name: "d", Paths: disk("d", 1).Paths}} }, "size 0 must be positive"},
		{"disk without path", func(c *Config) { c.Disks = []Disk{{Name: "d", Size: 1}} }, "no [[disk.path]]"},
		{"disk path via a stranger", func(c *Config) { c.Disks = []Disk{disk("d", 4)} }, "node 4, which is not a member"},
		{"two paths via one node", func(c *Config) { c.Disks = []Disk{disk("d", 1, 1)} }, "two paths through node 1"},
		{"disk addr", func(c *Config) { c.Disks = []Disk{disk("d", 1)}; c.Disks[0].Paths[0].Addr = "nowhere" }, `addr "nowhere"`},
		{"disk twice", func(c *Config) { c.Disks = []Disk{disk("d", 1), disk("d", 2)} }, "disk d appears twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t)
			tt.edit(c)
			path := filepath.Join(c.Dir(), FileName)
			require.NoError(t, Write(path, c))
			_, err := Load(path)
			require.ErrorContains(t, err, tt.want)
			require.ErrorContains(t, err, path, "the error names the file")
		})
	}
}

func TestLoadRejectsFileProblems(t *testing.T) {
	tests := []struct {
		name string
		edit func(t *testing.T, c *Config, path string)
		want string
	}{
		{"unknown key", func(t *testing.T, c *Config, path string) {
			replaceIn(t, path, "name = ", "colour = \"blue\"\nname = ")
		}, "unknown keys: colour"},
		{"bad multiaddr names the line", func(t *testing.T, c *Config, path string) {
			replaceIn(t, path, "/ip4/127.0.0.1/tcp/17010", "/ip4/127.0.0/tcp/17010")
		}, "line"},
		{"psk readable by others", func(t *testing.T, c *Config, path string) {
			require.NoError(t, os.Chmod(c.Path(c.PSKFile), 0o644))
		}, "chmod 600"},
		{"psk garbage", func(t *testing.T, c *Config, path string) {
			require.NoError(t, os.WriteFile(c.Path(c.PSKFile), []byte("hello"), 0o600))
		}, "not a libp2p pre-shared key file"},
		{"inline psk in a public file", func(t *testing.T, c *Config, path string) {
			c.PSKFile, c.PSK = "", strings.Repeat("ab", 32)
			require.NoError(t, Write(path, c))
			require.NoError(t, os.Chmod(path, 0o644))
		}, "inline psk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t)
			path := filepath.Join(c.Dir(), FileName)
			tt.edit(t, c, path)
			_, err := Load(path)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestInlinePSK(t *testing.T) {
	c := newCluster(t)
	c.PSKFile, c.PSK = "", strings.Repeat("0f", 32)
	path := filepath.Join(c.Dir(), FileName)
	require.NoError(t, os.Remove(path))
	require.NoError(t, Write(path, c))
	got, err := Load(path)
	require.NoError(t, err)
	require.Equal(t, []byte(strings.Repeat("\x0f", 32)), []byte(got.PreSharedKey()))
}

func TestLoadKeyRejects(t *testing.T) {
	tests := []struct {
		name string
		edit func(t *testing.T, c *Config)
		want string
	}{
		{"missing", func(t *testing.T, c *Config) { require.NoError(t, os.Remove(c.Path(c.Nodes[0].KeyFile))) }, "no such file"},
		{"readable by group", func(t *testing.T, c *Config) { require.NoError(t, os.Chmod(c.Path(c.Nodes[0].KeyFile), 0o640)) }, "chmod 600"},
		{"another node's key", func(t *testing.T, c *Config) {
			raw, err := os.ReadFile(c.Path(c.Nodes[1].KeyFile))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(c.Path(c.Nodes[0].KeyFile), raw, 0o600))
		}, "is the key of peer " + "12D3"},
		{"garbage", func(t *testing.T, c *Config) {
			require.NoError(t, os.WriteFile(c.Path(c.Nodes[0].KeyFile), []byte("not a key"), 0o600))
		}, "not a libp2p private key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t)
			tt.edit(t, c)
			_, err := c.LoadKey(1)
			require.ErrorContains(t, err, tt.want)
		})
	}
	c := newCluster(t)
	_, err := c.LoadKey(9)
	require.ErrorContains(t, err, "node 9 is not in cluster")
}

func TestServiceAddrRange(t *testing.T) {
	n := Node{ID: 1, ServiceHost: "h", ServicePortOffset: 1000}
	_, err := n.ServiceAddr(65000)
	require.ErrorContains(t, err, "outside 1..65535")
	_, err = n.ServiceAddr(0)
	require.Error(t, err)
}

func replaceIn(t *testing.T, path, old, new string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(raw), old)
	require.NoError(t, os.WriteFile(path, []byte(strings.Replace(string(raw), old, new, 1)), 0o644))
}
