package raftnode

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/cluster"
	"github.com/synodvm/synod/consensus/raftlog"
)

// CreateStores makes the raft store of every node of a new cluster, in
// the data directories its config names. A node never makes its own store
// when it starts: finding none means its history was lost (see Start's
// Rejoin), so it must exist from the start.
func CreateStores(cfg *cluster.Config) error {
	for _, n := range cfg.Nodes {
		if err := raftlog.CreateBoltStore(cfg.Path(n.DataDir), identity(cfg, n.ID), raftlog.StoreLife{Incarnation: 1}); err != nil {
			return fmt.Errorf("raftnode: node %d: %w", n.ID, err)
		}
	}
	return nil
}

// replaceLostStore sets aside what is left of a lost or damaged store of
// node self and makes an empty one that rejoins. Nothing is deleted: the
// old files move to a directory named after the time, for the operator
// to inspect. An intact store, another cluster's or node's, or one a
// running node holds, is left alone with an error.
func replaceLostStore(cfg *cluster.Config, self consensus.NodeID, me cluster.Node, logger *slog.Logger) error {
	dir := cfg.Path(me.DataDir)
	store, err := raftlog.OpenBoltStore(dir, identity(cfg, self))
	switch {
	case err == nil:
		return errors.Join(fmt.Errorf("raftnode: node %d: --rejoin is for a lost or damaged store, and %s is intact: start the node without it",
			self, store.Path()), store.Close())
	case errors.Is(err, raftlog.ErrMissingStore):
	case errors.Is(err, raftlog.ErrCorruptStore):
		aside, err := cluster.SetAside(dir, "lost")
		if err != nil {
			return fmt.Errorf("raftnode: node %d: set the damaged store aside: %w", self, err)
		}
		logger.Warn("raftnode: moved the damaged store aside", "node", self, "to", aside, "damage", err)
	default:
		return fmt.Errorf("raftnode: node %d: %w", self, err)
	}
	// The incarnation only has to grow from one life to the next, and a
	// lost store cannot say which life it was: the time of the rejoin does.
	life := raftlog.StoreLife{Incarnation: uint64(time.Now().Unix()), Rejoining: true}
	if err := raftlog.CreateBoltStore(dir, identity(cfg, self), life); err != nil {
		return fmt.Errorf("raftnode: node %d: %w", self, err)
	}
	logger.Warn("raftnode: rejoining with a new store; this node does not vote until it has caught up",
		"node", self, "incarnation", life.Incarnation)
	return nil
}

// CreateCluster makes a new cluster: its config, keys and every node's
// store (cluster.Create, then CreateStores). With spec.Force the stores of
// the cluster it replaces are moved aside in their data directories, not
// deleted: they belong to another cluster id, which no node would accept.
func CreateCluster(dir string, spec cluster.Spec) (*cluster.Config, error) {
	cfg, err := cluster.Create(dir, spec)
	if err != nil {
		return nil, err
	}
	if spec.Force {
		for _, n := range cfg.Nodes {
			dataDir := cfg.Path(n.DataDir)
			if _, err := os.Stat(filepath.Join(dataDir, raftlog.StoreFileName)); err == nil {
				if _, err := cluster.SetAside(dataDir, "replaced"); err != nil {
					return nil, fmt.Errorf("raftnode: node %d: set the replaced cluster's store aside: %w", n.ID, err)
				}
			}
		}
	}
	if err := CreateStores(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}
