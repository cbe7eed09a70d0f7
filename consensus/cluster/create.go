package cluster

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/synodvm/synod/consensus"
)

// Spec says what cluster Create makes.
type Spec struct {
	// Name labels the cluster; empty means "synod".
	Name string
	// Engine is the ordering protocol; empty means raft.
	Engine Engine
	// Nodes is the member count when Addrs is empty (a cluster on this
	// machine, on 127.0.0.1).
	Nodes int
	// Addrs gives one host:port per node for the libp2p listener of a
	// cluster across hosts; the node's status endpoint takes port+1 on the
	// same host. When set, it decides the node count.
	Addrs []string
	// BasePort, for a cluster on this machine, puts node i (from 1) on
	// libp2p port BasePort+10(i-1) and status port one above; 0 picks
	// free ports.
	BasePort int
	// ServiceOffset is the service port offset of the first of several
	// nodes on one host; the next ones are serviceOffsetStep apart. Zero
	// means serviceOffsetStep. A second cluster on the same machine needs
	// another.
	ServiceOffset int
	// Force replaces an existing config and its key files. Data
	// directories are never touched: a node refuses a data directory from
	// another cluster id, which is what an old one now is.
	Force bool
	// Disks are the cluster's disks, as Config.Disks.
	Disks []Disk
}

// serviceOffsetStep separates the service ports of nodes that share a
// host: node k on a host serves guest port P at P + k·1000.
const serviceOffsetStep = 1000

// maxServiceOffset keeps the first node's service ports below 65536 for
// the usual guest ports.
const maxServiceOffset = 60000

// Create writes dir/cluster.toml, dir/psk and dir/nodeI/node.key for every
// node, and returns the config as Load reads it back.
func Create(dir string, spec Spec) (*Config, error) {
	if spec.ServiceOffset < 0 || spec.ServiceOffset > maxServiceOffset {
		return nil, fmt.Errorf("service offset %d: must be 0..%d", spec.ServiceOffset, maxServiceOffset)
	}
	nodes, err := placeNodes(spec)
	if err != nil {
		return nil, err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, fmt.Errorf("create cluster: %w", err)
	}
	c := &Config{
		Name:    spec.Name,
		Engine:  spec.Engine,
		PSKFile: "psk",
		Nodes:   nodes,
		Disks:   spec.Disks,
		dir:     dir,
	}
	if c.Name == "" {
		c.Name = "synod"
	}
	if c.Engine == "" {
		c.Engine = EngineRaft
	}
	clusterID := make([]byte, 16)
	if _, err := rand.Read(clusterID); err != nil {
		return nil, fmt.Errorf("cluster id: %w", err)
	}
	c.ClusterID = hex.EncodeToString(clusterID)
	keys := make([]crypto.PrivKey, len(c.Nodes))
	for i := range c.Nodes {
		if keys[i], _, err = crypto.GenerateEd25519Key(rand.Reader); err != nil {
			return nil, fmt.Errorf("node %d key: %w", c.Nodes[i].ID, err)
		}
		if c.Nodes[i].PeerID, err = peer.IDFromPrivateKey(keys[i]); err != nil {
			return nil, fmt.Errorf("node %d key: %w", c.Nodes[i].ID, err)
		}
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("create cluster: %w", err)
	}
	psk, err := NewPSK()
	if err != nil {
		return nil, err
	}

	path := filepath.Join(dir, FileName)
	if err := prepareDir(dir, path, len(nodes), spec.Force); err != nil {
		return nil, err
	}
	if err := WritePSKFile(c.Path(c.PSKFile), psk); err != nil {
		return nil, err
	}
	for i, n := range c.Nodes {
		if err := os.MkdirAll(filepath.Dir(c.Path(n.KeyFile)), 0o700); err != nil {
			return nil, fmt.Errorf("node %d: %w", n.ID, err)
		}
		if err := WriteKeyFile(c.Path(n.KeyFile), keys[i]); err != nil {
			return nil, err
		}
	}
	if err := Write(path, c); err != nil {
		return nil, err
	}
	return Load(path)
}

// prepareDir refuses to overwrite an existing config or key unless forced,
// and when forced removes the files Create is about to write.
func prepareDir(dir, configPath string, nodes int, force bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create cluster: %w", err)
	}
	files := []string{configPath, filepath.Join(dir, "psk")}
	for i := 1; i <= nodes; i++ {
		files = append(files, filepath.Join(dir, keyFile(consensus.NodeID(i))))
	}
	for _, p := range files {
		_, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return fmt.Errorf("create cluster: %w", err)
		case !force:
			return fmt.Errorf("create cluster: %s exists (use --force to replace the config and its keys)", p)
		default:
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("create cluster: %w", err)
			}
		}
	}
	return nil
}

func keyFile(id consensus.NodeID) string {
	return filepath.Join("node"+strconv.FormatUint(uint64(id), 10), "node.key")
}

// placeNodes decides every node's addresses (keys come later).
func placeNodes(spec Spec) ([]Node, error) {
	type endpoint struct{ host, listenPort, statusPort string }
	var eps []endpoint
	switch {
	case len(spec.Addrs) > 0:
		for _, a := range spec.Addrs {
			host, port, err := net.SplitHostPort(a)
			if err != nil {
				return nil, fmt.Errorf("address %q: %w", a, err)
			}
			p, err := strconv.Atoi(port)
			if err != nil || p < 1 || p > 65534 {
				return nil, fmt.Errorf("address %q: port must be 1..65534 (the status endpoint takes port+1)", a)
			}
			eps = append(eps, endpoint{host, port, strconv.Itoa(p + 1)})
		}
	case spec.Nodes < 1:
		return nil, fmt.Errorf("node count %d: need at least 1", spec.Nodes)
	case spec.BasePort != 0:
		if spec.BasePort < 1 || spec.BasePort+10*(spec.Nodes-1)+1 > 65535 {
			return nil, fmt.Errorf("base port %d leaves no room for %d nodes below 65536", spec.BasePort, spec.Nodes)
		}
		for i := range spec.Nodes {
			p := spec.BasePort + 10*i
			eps = append(eps, endpoint{"127.0.0.1", strconv.Itoa(p), strconv.Itoa(p + 1)})
		}
	default:
		ports, err := FreePorts(2 * spec.Nodes)
		if err != nil {
			return nil, err
		}
		for i := range spec.Nodes {
			eps = append(eps, endpoint{"127.0.0.1", strconv.Itoa(ports[2*i]), strconv.Itoa(ports[2*i+1])})
		}
	}
	perHost := map[string]int{}
	for _, e := range eps {
		perHost[e.host]++
	}
	rank := map[string]int{}
	nodes := make([]Node, len(eps))
	for i, e := range eps {
		id := consensus.NodeID(i + 1)
		listen, err := listenAddr(e.host, e.listenPort)
		if err != nil {
			return nil, err
		}
		offset := 0
		if perHost[e.host] > 1 {
			first := cmp.Or(spec.ServiceOffset, serviceOffsetStep)
			offset = first + rank[e.host]*serviceOffsetStep
			rank[e.host]++
		}
		nodes[i] = Node{
			ID:                id,
			Listen:            listen,
			KeyFile:           keyFile(id),
			ServiceHost:       e.host,
			ServicePortOffset: offset,
			StatusAddr:        net.JoinHostPort(e.host, e.statusPort),
			DataDir:           filepath.Join(filepath.Dir(keyFile(id)), "data"),
		}
	}
	return nodes, nil
}

// listenAddr turns host and port into the multiaddr libp2p listens on.
func listenAddr(host, port string) (ma.Multiaddr, error) {
	proto := "dns"
	if ip := net.ParseIP(host); ip != nil {
		proto = "ip4"
		if ip.To4() == nil {
			proto = "ip6"
		}
	}
	a, err := ma.NewMultiaddr("/" + proto + "/" + host + "/tcp/" + port)
	if err != nil {
		return nil, fmt.Errorf("address %s:%s: %w", host, port, err)
	}
	return a, nil
}

// FreePorts finds n distinct loopback ports nothing listens on, below the
// kernel's range of ephemeral ports: a node that restarts must bind its
// port again, and a port from that range may meanwhile be the local end
// of some outbound connection. They are free when asked; another process
// could take one before the node starts, which the node then reports as a
// listen error.
func FreePorts(n int) ([]int, error) {
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	low := firstEphemeralPort()
	ports := make([]int, 0, n)
	for attempts := 0; len(ports) < n; attempts++ {
		if attempts == 100*n {
			return nil, fmt.Errorf("find %d free ports between %d and %d: only %d found", n, minFreePort, low, len(ports))
		}
		p := minFreePort + mrand.IntN(low-minFreePort)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		listeners = append(listeners, l)
		ports = append(ports, p)
	}
	return ports, nil
}

// minFreePort is the lowest port FreePorts hands out: well clear of the
// ports services register below it.
const minFreePort = 10000

// firstEphemeralPort is the bottom of the kernel's ephemeral port range
// (Linux's default when it cannot be read).
func firstEphemeralPort() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return 32768
	}
	p, err := strconv.Atoi(fields[0])
	if err != nil || p <= minFreePort+1000 {
		return 32768
	}
	return p
}

// configHeader opens every written config: the file is meant to be read.
const configHeader = `# synod cluster config (TOML), written by synod init.
# Relative paths are relative to this file's directory. Each node needs this
# file, the psk file and its own key_file; keep both secrets mode 0600.
# Guest port P is served at service_host:P+service_port_offset.

`

// Write saves c at path (mode 0644: it holds no secret unless the psk is
// inline, and then 0600).
func Write(path string, c *Config) error {
	var buf bytes.Buffer
	buf.WriteString(configHeader)
	if err := toml.NewEncoder(&buf).Encode(c); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	mode := os.FileMode(0o644)
	if c.PSK != "" {
		mode = 0o600
	}
	if err := os.WriteFile(path, buf.Bytes(), mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
