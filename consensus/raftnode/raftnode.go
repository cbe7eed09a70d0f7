// Package raftnode starts one raft node of a real cluster: the cluster
// config names its peers and data directory, consensus/p2p carries its
// messages, a bbolt store in its data directory keeps its log. It is the
// wiring `synod node` and the multi-process tests share; the engine itself
// (consensus/raftlog) never imports libp2p.
package raftnode

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

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
	// Rejoin brings back a node whose store is lost or damaged: the
	// damaged files are set aside, a new store is made, and the node
	// catches up from the others without voting until it has (see
	// raftlog's rejoin.go). A node whose store is intact refuses it.
	Rejoin bool
}

// Node is a running raft node of a real cluster.
type Node struct {
	*raftlog.Node
	net  *p2p.Transport
	cfg  *cluster.Config
	self consensus.NodeID
	log  *slog.Logger
}

// Start opens node self's store, starts its transport and its engine.
// The returned node owns both; its Stop closes them. The node answers the
// other nodes' requests for a snapshot of its state (FetchSnapshot).
func Start(cfg *cluster.Config, self consensus.NodeID, opts Options) (*Node, error) {
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
	if opts.Rejoin {
		if err := replaceLostStore(cfg, self, me, opts.Logger); err != nil {
			return nil, err
		}
	}
	store, err := openStore(cfg, self, me)
	if err != nil {
		return nil, err
	}
	net, err := p2p.New(p2p.Options{Cluster: cfg, Self: self, Logger: opts.Logger, Metrics: opts.Metrics, MapSnapshots: true})
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
	engine, err := raftlog.StartNode(ecfg, store, net)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("raftnode: node %d: %w", self, err), net.Close(), store.Close())
	}
	n := &Node{Node: engine, net: net, cfg: cfg, self: self, log: opts.Logger.With("node", self)}
	net.HandleRequests(n.answer)
	return n, nil
}

func openStore(cfg *cluster.Config, self consensus.NodeID, me cluster.Node) (*raftlog.BoltStore, error) {
	store, err := raftlog.OpenBoltStore(cfg.Path(me.DataDir), identity(cfg, self))
	if err != nil {
		return nil, fmt.Errorf("raftnode: node %d: %w", self, err)
	}
	return store, nil
}

func identity(cfg *cluster.Config, self consensus.NodeID) raftlog.Identity {
	return raftlog.Identity{ClusterID: cfg.ClusterID, Node: self}
}

// snapshotRequest asks a node for a snapshot of its state; an 8-byte
// big-endian index follows, below which the snapshot must not be.
const snapshotRequest = "snapshot\n"

// answer serves the other nodes' requests.
func (n *Node) answer(ctx context.Context, from consensus.NodeID, req []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(req, []byte(snapshotRequest))
	if !ok || len(rest) != 8 {
		return nil, fmt.Errorf("unknown request of %d bytes", len(req))
	}
	atLeast := binary.BigEndian.Uint64(rest)
	snap, err := n.SnapshotNow(ctx)
	if err != nil {
		return nil, err
	}
	if index := snap.GetMetadata().GetIndex(); index < atLeast {
		return nil, fmt.Errorf("this node's state is at index %d, behind the %d asked for", index, atLeast)
	}
	n.log.Info("raftnode: sending a snapshot of this node's state", "to", from, "index", snap.GetMetadata().GetIndex())
	return proto.Marshal(snap)
}

// FetchSnapshot asks the other nodes, the leader first, for a snapshot of
// their state at an index no lower than atLeast, and returns the first
// one given. Install it with InstallSnapshot once the node is stopped.
func (n *Node) FetchSnapshot(ctx context.Context, atLeast uint64) (*pb.Snapshot, error) {
	req := binary.BigEndian.AppendUint64([]byte(snapshotRequest), atLeast)
	var errs []error
	for _, peer := range n.peersLeaderFirst() {
		b, err := n.net.Request(ctx, peer, req)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		snap := &pb.Snapshot{}
		if err := proto.Unmarshal(b, snap); err != nil {
			errs = append(errs, fmt.Errorf("snapshot from node %d: %w", peer, err))
			continue
		}
		if snap.GetMetadata().GetIndex() < atLeast {
			errs = append(errs, fmt.Errorf("snapshot from node %d is at index %d, below %d", peer, snap.GetMetadata().GetIndex(), atLeast))
			continue
		}
		return snap, nil
	}
	return nil, fmt.Errorf("raftnode: no node gave a snapshot: %w", errors.Join(errs...))
}

func (n *Node) peersLeaderFirst() []consensus.NodeID {
	var peers []consensus.NodeID
	if lead := n.Status().Leader; lead != 0 && lead != n.self {
		peers = append(peers, lead)
	}
	for _, m := range n.cfg.Nodes {
		if m.ID != n.self && !slices.Contains(peers, m.ID) {
			peers = append(peers, m.ID)
		}
	}
	return peers
}

// InstallSnapshot puts snap, fetched from another node, into the store of
// node self, which must not be running (see raftlog.BoltStore.InstallSnapshot).
func InstallSnapshot(cfg *cluster.Config, self consensus.NodeID, snap *pb.Snapshot) error {
	me, err := cfg.Node(self)
	if err != nil {
		return fmt.Errorf("raftnode: %w", err)
	}
	store, err := openStore(cfg, self, me)
	if err != nil {
		return err
	}
	return errors.Join(store.InstallSnapshot(snap), store.Close())
}
