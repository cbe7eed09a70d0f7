package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/synodvm/synod/consensus/bftnode"
	"github.com/synodvm/synod/consensus/cluster"
	"github.com/synodvm/synod/consensus/raftnode"
)

const initUsage = `usage: synod init [flags]

Writes DIR/cluster.toml, the pre-shared key DIR/psk and one private key
DIR/nodeI/node.key per node. Without --addrs the nodes run on this machine
on 127.0.0.1, on free ports or from --base-port (node i: libp2p port
P+10(i-1), status port one above). With --addrs each node listens on the
host:port given (status on port+1) for a cluster that spans hosts: copy
DIR/cluster.toml, DIR/psk and that node's key to each host.

flags:
`

// runInit is "synod init": it creates a cluster config and its keys.
func runInit(_ context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("init", initUsage)
	nodes := fs.Int("nodes", 3, "the number of `nodes` on this machine (with --byzantine, 4)")
	dir := fs.String("dir", "synod-cluster", "the `directory` to write the config and keys into")
	basePort := fs.Int("base-port", 0, "the first libp2p `port` on this machine (0: free ports)")
	serviceOffset := fs.Int("service-offset", 1000, "on this machine, node i serves guest port P at P+`offset`+1000(i-1)")
	addrs := fs.String("addrs", "", "each node's libp2p listener, for a multi-host cluster: a comma-separated list of `host:port`")
	engine := fs.String("engine", string(cluster.EngineRaft), "the ordering `protocol`: raft or bft")
	byzantine := fs.Bool("byzantine", false, byzantineUsage+" (the same as --engine bft)")
	name := fs.String("name", "synod", "the cluster's `name`, for logs and status pages")
	force := fs.Bool("force", false, "replace an existing config, its keys and its nodes' stores (old stores are moved aside in their data directories, never deleted)")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("init: unexpected arguments %q (synod init --help lists its flags)", fs.Args())
	}
	spec := cluster.Spec{
		Name:          *name,
		Engine:        cluster.Engine(*engine),
		Nodes:         *nodes,
		BasePort:      *basePort,
		ServiceOffset: *serviceOffset,
		Force:         *force,
	}
	if *byzantine {
		spec.Engine = cluster.EngineBFT
	}
	spec.Nodes = nodesFor(fs, spec)
	if *addrs != "" {
		spec.Addrs = strings.Split(*addrs, ",")
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if set["nodes"] && *nodes != len(spec.Addrs) {
			return fmt.Errorf("init: --nodes %d but --addrs lists %d addresses", *nodes, len(spec.Addrs))
		}
		if set["base-port"] {
			return errors.New("init: --base-port applies to a cluster on this machine; with --addrs give each port")
		}
	}
	if err := checkEngine(spec); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	c, err := createCluster(*dir, spec)
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}
	path := filepath.Join(c.Dir(), cluster.FileName)
	fmt.Fprintf(stdout, "wrote %s: %s cluster %q, %d nodes\n", path, c.Engine, c.Name, len(c.Nodes))
	for _, n := range c.Nodes {
		fmt.Fprintf(stdout, "  node %d  listen %s  status %s  service %s+%d  peer %s\n",
			n.ID, n.Listen, n.StatusAddr, n.ServiceHost, n.ServicePortOffset, n.PeerID)
	}
	fmt.Fprintf(stdout, "run one node with: synod node --config %s --id N\n", path)
	return nil
}

// createCluster makes a new cluster in dir: its config, keys and every
// node's store, those of its engine included. With spec.Force the stores
// of the cluster it replaces are moved aside (raftnode.CreateCluster).
func createCluster(dir string, spec cluster.Spec) (*cluster.Config, error) {
	cfg, err := raftnode.CreateCluster(dir, spec)
	if err != nil || cfg.Engine != cluster.EngineBFT {
		return cfg, err
	}
	return cfg, bftnode.CreateStores(cfg)
}

// byzantineUsage is the help of --byzantine, the same for init and up.
const byzantineUsage = "order inputs with the Byzantine engine, which keeps serving while up to f of 3f+1 nodes are malicious, not only crashed"

// byzantineNodes is the size of a Byzantine cluster when --nodes is not
// given: the fewest nodes that tolerate a faulty one.
const byzantineNodes = 4

// nodesFor is the node count of spec, whose Nodes is --nodes: its
// default, meant for raft, is too few for a Byzantine cluster.
func nodesFor(fs *flag.FlagSet, spec cluster.Spec) int {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "nodes" })
	if spec.Engine == cluster.EngineBFT && !given {
		return byzantineNodes
	}
	return spec.Nodes
}

// checkEngine refuses an engine synod does not run, and a Byzantine
// cluster too small to tolerate one faulty node.
func checkEngine(spec cluster.Spec) error {
	nodes := max(spec.Nodes, len(spec.Addrs))
	switch spec.Engine {
	case "", cluster.EngineRaft:
		return nil
	case cluster.EngineBFT:
		if nodes < 4 {
			return fmt.Errorf("a Byzantine cluster of %d nodes tolerates no faulty node: it needs 3f+1, at least 4", nodes)
		}
		return nil
	case cluster.EnginePrimaryBackup:
		return fmt.Errorf("engine %q is not implemented (raft and bft are)", spec.Engine)
	}
	return fmt.Errorf("unknown engine %q (raft or bft)", spec.Engine)
}
