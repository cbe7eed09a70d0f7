// Package cluster reads, checks and creates the cluster config: which nodes
// form a synod cluster, where each one listens, which libp2p identity each
// must prove, and the pre-shared key that makes the network private.
//
// The file is TOML (cluster.toml). An operator edits it by hand when a
// cluster spans hosts, so the format must allow comments and read without
// JSON's quoting noise; the decoder names the line of a bad value, and
// unknown keys are refused so that a typo never falls back to a default
// silently. Machine-written state (synod up's cluster.json) stays JSON.
//
// Secrets stay out of the shared file: each node's ed25519 private key lives
// in its own key file (mode 0600) that only that node needs, and the
// pre-shared key is a file of its own unless the operator chooses to inline
// it (then the config file itself must be private).
//
// This package uses libp2p's key, peer-id and multiaddr types but never its
// network stack; only consensus/p2p does.
package cluster

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/synodvm/synod/consensus"
)

// FileName is the name synod init gives the config inside its directory.
const FileName = "cluster.toml"

// Engine names the ordering protocol a cluster runs.
type Engine string

const (
	// EngineRaft tolerates crashes of a minority (n = 2f+1). The default.
	EngineRaft Engine = "raft"
	// EngineBFT tolerates Byzantine nodes (n = 3f+1). Reserved name.
	EngineBFT Engine = "bft"
	// EnginePrimaryBackup is the 1995 Bressoud–Schneider baseline. Reserved name.
	EnginePrimaryBackup Engine = "primary-backup"
)

// Engines lists every engine name a config may carry.
var Engines = []Engine{EngineRaft, EngineBFT, EnginePrimaryBackup}

// Config is one cluster as its config file describes it. Relative paths in
// it are relative to the directory of the file, so that a copied directory
// works unchanged on another host.
type Config struct {
	// Name labels the cluster in logs and status pages.
	Name string `toml:"name"`
	// ClusterID is 32 random hex digits chosen by synod init. Data
	// directories record it, so a node refuses another cluster's data
	// instead of silently joining two histories.
	ClusterID string `toml:"cluster_id"`
	// Engine is the ordering protocol; empty means raft.
	Engine Engine `toml:"engine"`
	// PSKFile names the pre-shared key file (libp2p's "/key/swarm/psk/1.0.0/"
	// format, mode 0600). Every host needs the same file. Exactly one of
	// PSKFile and PSK is set.
	PSKFile string `toml:"psk_file,omitempty"`
	// PSK is the pre-shared key inline, as 64 hex digits. Simpler to ship
	// (one file per host) but it makes the whole config a secret: Load then
	// insists the config file is private.
	PSK string `toml:"psk,omitempty"`
	// Nodes are the members, in the order the file lists them.
	Nodes []Node `toml:"node"`
	// Disks are the block devices the guest reaches, each through one or
	// more nodes (docs/disks.md).
	Disks []Disk `toml:"disk"`

	dir string // directory relative paths are resolved against
	psk []byte // the decoded pre-shared key, set by Load
}

// Node is one member of the cluster.
type Node struct {
	// ID is the consensus identity: non-zero, unique, never reused for
	// another machine (raft remembers votes by id).
	ID consensus.NodeID `toml:"id"`
	// Listen is the libp2p address, /ip4|ip6|dns/HOST/tcp/PORT. TCP only:
	// libp2p's private networks (the pre-shared key) cannot run over QUIC.
	Listen ma.Multiaddr `toml:"listen"`
	// PeerID is the libp2p identity the node must prove with its key; an
	// ed25519 peer id embeds the public key, so it is the public key too.
	PeerID peer.ID `toml:"peer_id"`
	// KeyFile holds the node's private key (libp2p-marshalled ed25519, mode
	// 0600). Only the node itself reads it, so other hosts may lack it.
	KeyFile string `toml:"key_file"`
	// ServiceHost is where the node serves the guest's ports to clients.
	ServiceHost string `toml:"service_host"`
	// ServicePortOffset shifts the guest's ports: guest port P is served at
	// ServiceHost:P+offset. Nodes sharing a host need different offsets;
	// a node alone on its host uses 0 so clients see the guest's own ports.
	ServicePortOffset int `toml:"service_port_offset"`
	// StatusAddr is host:port of the HTTP status and metrics endpoint.
	StatusAddr string `toml:"status_addr"`
	// DataDir holds the node's durable state (raft log, snapshots).
	DataDir string `toml:"data_dir"`
}

// Disk is a block device served by `synod disk serve`. The guest sees one
// device file per path, /dev/synod/<name>.<node>: a disk that several
// nodes reach is a multipath disk; one that a single node reaches is
// that node's local disk.
type Disk struct {
	// Name is letters, digits, '-' and '_': it names the device files.
	Name string `toml:"name"`
	// Size is the disk's size in bytes, as the guest sees it; the server
	// must serve an image of at least this size.
	Size  int64      `toml:"size"`
	Paths []DiskPath `toml:"path"`
}

// DiskPath is one node's way to a disk: the address of the disk server
// that node talks to.
type DiskPath struct {
	Node consensus.NodeID `toml:"node"`
	Addr string           `toml:"addr"`
}

func (d Disk) validate(members map[consensus.NodeID]bool) error {
	if d.Name == "" || strings.TrimFunc(d.Name, isDiskNameRune) != "" || len(d.Name) > 48 {
		return fmt.Errorf("name %q: use 1 to 48 letters, digits, '-' or '_'", d.Name)
	}
	if d.Size <= 0 {
		return fmt.Errorf("disk %s: size %d must be positive", d.Name, d.Size)
	}
	if len(d.Paths) == 0 {
		return fmt.Errorf("disk %s: no [[disk.path]]", d.Name)
	}
	seen := map[consensus.NodeID]bool{}
	for _, p := range d.Paths {
		switch {
		case !members[p.Node]:
			return fmt.Errorf("disk %s: path through node %d, which is not a member", d.Name, p.Node)
		case seen[p.Node]:
			return fmt.Errorf("disk %s: two paths through node %d", d.Name, p.Node)
		case p.Addr == "":
			return fmt.Errorf("disk %s: the path through node %d has no addr", d.Name, p.Node)
		}
		if _, _, err := net.SplitHostPort(p.Addr); err != nil {
			return fmt.Errorf("disk %s: the path through node %d: addr %q: %w", d.Name, p.Node, p.Addr, err)
		}
		seen[p.Node] = true
	}
	return nil
}

func isDiskNameRune(r rune) bool {
	return r == '-' || r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')
}

// Load reads the config file at path and checks it whole: structure, the
// pre-shared key (present, private, well formed). Node key files are checked
// by LoadKey, on the host that runs that node.
func Load(path string) (*Config, error) {
	var c Config
	md, err := toml.DecodeFile(path, &c)
	if err != nil {
		return nil, fmt.Errorf("load cluster config %s: %w", path, err)
	}
	if extra := md.Undecoded(); len(extra) > 0 {
		keys := make([]string, len(extra))
		for i, k := range extra {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("load cluster config %s: unknown keys: %s", path, strings.Join(keys, ", "))
	}
	abs, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("load cluster config %s: %w", path, err)
	}
	c.dir = abs
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("load cluster config %s: %w", path, err)
	}
	if c.psk, err = c.loadPSK(path); err != nil {
		return nil, fmt.Errorf("load cluster config %s: %w", path, err)
	}
	return &c, nil
}

// Validate checks everything that does not need a file: names, ids, the
// engine, addresses and that no two nodes clash.
func (c *Config) Validate() error {
	if strings.TrimSpace(c.Name) == "" {
		return errors.New("name is empty")
	}
	if id, err := hex.DecodeString(c.ClusterID); err != nil || len(id) != 16 {
		return fmt.Errorf("cluster_id %q is not 32 hex digits", c.ClusterID)
	}
	if c.Engine == "" {
		c.Engine = EngineRaft
	}
	if !slices.Contains(Engines, c.Engine) {
		return fmt.Errorf("unknown engine %q (known: %v)", c.Engine, Engines)
	}
	if (c.PSKFile == "") == (c.PSK == "") {
		return errors.New("set exactly one of psk_file and psk")
	}
	if len(c.Nodes) == 0 {
		return errors.New("no [[node]] entries")
	}
	ids := map[consensus.NodeID]bool{}
	peers := map[peer.ID]consensus.NodeID{}
	ports := map[string]string{} // host:port → which node's which address uses it
	dataDirs := map[string]consensus.NodeID{}
	services := map[string]consensus.NodeID{}
	for i, n := range c.Nodes {
		if err := n.validate(); err != nil {
			return fmt.Errorf("node #%d (id %d): %w", i+1, n.ID, err)
		}
		if ids[n.ID] {
			return fmt.Errorf("node id %d appears twice", n.ID)
		}
		ids[n.ID] = true
		if other, dup := peers[n.PeerID]; dup {
			return fmt.Errorf("nodes %d and %d have the same peer_id %s", other, n.ID, n.PeerID)
		}
		peers[n.PeerID] = n.ID
		listenHost, listenPort, _ := ListenHostPort(n.Listen)
		for _, use := range []struct{ addr, what string }{
			{net.JoinHostPort(listenHost, listenPort), fmt.Sprintf("node %d listen", n.ID)},
			{n.StatusAddr, fmt.Sprintf("node %d status_addr", n.ID)},
		} {
			if other, dup := ports[use.addr]; dup {
				return fmt.Errorf("%s and %s both use %s", other, use.what, use.addr)
			}
			ports[use.addr] = use.what
		}
		dir := c.Path(n.DataDir)
		if other, dup := dataDirs[dir]; dup {
			return fmt.Errorf("nodes %d and %d share data_dir %s", other, n.ID, n.DataDir)
		}
		dataDirs[dir] = n.ID
		service := n.ServiceHost + "+" + strconv.Itoa(n.ServicePortOffset)
		if other, dup := services[service]; dup {
			return fmt.Errorf("nodes %d and %d serve on %s with the same service_port_offset %d",
				other, n.ID, n.ServiceHost, n.ServicePortOffset)
		}
		services[service] = n.ID
	}
	disks := map[string]bool{}
	for _, d := range c.Disks {
		if err := d.validate(ids); err != nil {
			return fmt.Errorf("disk: %w", err)
		}
		if disks[d.Name] {
			return fmt.Errorf("disk %s appears twice", d.Name)
		}
		disks[d.Name] = true
	}
	return nil
}

func (n Node) validate() error {
	if n.ID == 0 {
		return errors.New("id must be non-zero")
	}
	if _, _, err := ListenHostPort(n.Listen); err != nil {
		return err
	}
	if n.PeerID == "" {
		return errors.New("peer_id is empty")
	}
	pub, err := n.PeerID.ExtractPublicKey()
	if err != nil {
		return fmt.Errorf("peer_id %s does not embed a public key: %w", n.PeerID, err)
	}
	if pub.Type() != crypto.Ed25519 {
		return fmt.Errorf("peer_id %s is a %s key; synod uses ed25519", n.PeerID, pub.Type())
	}
	if n.KeyFile == "" {
		return errors.New("key_file is empty")
	}
	if n.ServiceHost == "" {
		return errors.New("service_host is empty")
	}
	if n.ServicePortOffset < 0 || n.ServicePortOffset > 65535 {
		return fmt.Errorf("service_port_offset %d is outside 0..65535", n.ServicePortOffset)
	}
	if err := checkHostPort(n.StatusAddr); err != nil {
		return fmt.Errorf("status_addr: %w", err)
	}
	if n.DataDir == "" {
		return errors.New("data_dir is empty")
	}
	return nil
}

// ListenHostPort splits a listen address of the only shape synod accepts,
// /ip4|ip6|dns|dns4|dns6/HOST/tcp/PORT, and explains any other.
func ListenHostPort(a ma.Multiaddr) (host, port string, err error) {
	if len(a) == 0 {
		return "", "", errors.New("listen address is empty")
	}
	for _, c := range a {
		if c.Code() == ma.P_QUIC || c.Code() == ma.P_QUIC_V1 || c.Code() == ma.P_UDP {
			return "", "", fmt.Errorf("listen %s: QUIC/UDP cannot carry a libp2p private network (pre-shared key); use /tcp", a)
		}
	}
	if len(a) != 2 {
		return "", "", fmt.Errorf("listen %s: want /ip4|ip6|dns/HOST/tcp/PORT", a)
	}
	switch a[0].Code() {
	case ma.P_IP4, ma.P_IP6, ma.P_DNS, ma.P_DNS4, ma.P_DNS6:
	default:
		return "", "", fmt.Errorf("listen %s: want /ip4|ip6|dns/HOST/tcp/PORT", a)
	}
	if a[1].Code() != ma.P_TCP {
		return "", "", fmt.Errorf("listen %s: want /ip4|ip6|dns/HOST/tcp/PORT", a)
	}
	if a[1].Value() == "0" {
		return "", "", fmt.Errorf("listen %s: port 0 cannot be dialled by the other nodes", a)
	}
	return a[0].Value(), a[1].Value(), nil
}

func checkHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "" {
		return fmt.Errorf("%q has no host", addr)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("%q: port must be 1..65535", addr)
	}
	return nil
}

// Dir is the directory relative paths in the config are resolved against.
func (c *Config) Dir() string { return c.dir }

// Path resolves a path from the config against the config's directory.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

// Node returns the member with the given id.
func (c *Config) Node(id consensus.NodeID) (Node, error) {
	for _, n := range c.Nodes {
		if n.ID == id {
			return n, nil
		}
	}
	ids := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		ids[i] = strconv.FormatUint(uint64(n.ID), 10)
	}
	return Node{}, fmt.Errorf("node %d is not in cluster %q (members: %s)", id, c.Name, strings.Join(ids, ", "))
}

// PreSharedKey is the 32-byte private-network key loaded by Load.
func (c *Config) PreSharedKey() []byte { return c.psk }

// ServiceAddr is the host:port at which the node serves guest port
// guestPort to clients.
func (n Node) ServiceAddr(guestPort int) (string, error) {
	p := guestPort + n.ServicePortOffset
	if guestPort < 1 || p > 65535 {
		return "", fmt.Errorf("guest port %d with node %d's offset %d is outside 1..65535", guestPort, n.ID, n.ServicePortOffset)
	}
	return net.JoinHostPort(n.ServiceHost, strconv.Itoa(p)), nil
}

// privateMode reports whether a secret file is readable only by its owner,
// and says how to fix it when not.
func privateMode(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s has mode %04o; a secret must not be readable by group or others (chmod 600 %s)", path, perm, path)
	}
	return nil
}
