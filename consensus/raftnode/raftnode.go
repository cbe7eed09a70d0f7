// Package raftnode starts one raft node of a real cluster: the cluster
// config names its peers and data directory, consensus/p2p carries its
// messages, a bbolt store in its data directory keeps its log. It is the
// wiring `synod node` and the multi-process tests share; the engine itself
// (consensus/raftlog) never imports libp2p.
package raftnode

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/cluster"
	"github.com/synodvm/synod/consensus/p2p"
	"github.com/synodvm/synod/consensus/raftlog"
)

// Options are what the caller adds to the cluster config.
type Options struct {
	// Engine is the engine configuration; ID, Peers and Logger are filled
	// in from the cluster config and Logger below. Its other zero fields
	// take raftlog's defaults.
	Engine raftlog.Config
	// Logger receives the transport's and the engine's logs (default
	// slog.Default()).
	Logger *slog.Logger
	// Metrics is the node's registry for the transport and engine metrics.
	Metrics prometheus.Registerer
}

// Start opens node self's store, starts its transport and its engine.
// The returned node owns both; its Stop closes them.
func Start(cfg *cluster.Config, self consensus.NodeID, opts Options) (*raftlog.Node, error) {
	if cfg.Engine != cluster.EngineRaft {
		return nil, fmt.Errorf("raftnode: the cluster runs engine %q, not %q", cfg.Engine, cluster.EngineRaft)
	}
	me, err := cfg.Node(self)
	if err != nil {
		return nil, fmt.Errorf("raftnode: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	store, err := raftlog.OpenBoltStore(cfg.Path(me.DataDir), raftlog.Identity{ClusterID: cfg.ClusterID, Node: self})
	if err != nil {
		return nil, fmt.Errorf("raftnode: node %d: %w", self, err)
	}
	net, err := p2p.New(p2p.Options{Cluster: cfg, Self: self, Logger: opts.Logger, Metrics: opts.Metrics})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("raftnode: node %d: %w", self, err), store.Close())
	}
	ecfg := opts.Engine
	ecfg.ID = self
	ecfg.Peers = nil
	for _, n := range cfg.Nodes {
		ecfg.Peers = append(ecfg.Peers, n.ID)
	}
	ecfg.Logger = opts.Logger
	ecfg.Metrics = opts.Metrics
	node, err := raftlog.StartNode(ecfg, store, net)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("raftnode: node %d: %w", self, err), net.Close(), store.Close())
	}
	return node, nil
}
