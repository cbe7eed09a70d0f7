// Package bftnode starts one node of a Byzantine cluster (engine "bft"):
// the cluster config names its peers, their keys and its data directory,
// consensus/p2p carries its messages, a bbolt file in its data directory
// keeps the engine's records. It is to consensus/bft what raftnode is to
// raftlog; the engine itself never imports libp2p.
package bftnode

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/bft"
	"github.com/synodvm/synod/consensus/cluster"
	"github.com/synodvm/synod/consensus/p2p"
)

// StoreFileName is the engine's record file inside a node's data
// directory.
const StoreFileName = "bft.records"

// earlierStoreFileName is where synod kept the records in a bbolt file
// before StoreFileName, whose appends cost one sync instead of two.
const earlierStoreFileName = "bft.db"

// Options are what the caller adds to the cluster config.
type Options struct {
	// TickInterval is the engine's tick (bft.Config.TickInterval).
	TickInterval time.Duration
	// Logger receives the transport's and the engine's logs (default
	// slog.Default()).
	Logger *slog.Logger
	// Metrics is the node's registry for the transport metrics.
	Metrics prometheus.Registerer
	// CheckRequest is bft.Config.CheckRequest: what another member's
	// request must pass to be ordered.
	CheckRequest func(data []byte) error
	// Rejoin replaces a lost or damaged record store: what is left of it
	// is set aside, and the node starts from a new store that rejoins the
	// cluster without signing anything its lost store may have signed
	// (see consensus/bft's rejoin.go) until it has caught up. An intact
	// store is left alone with an error.
	Rejoin bool
	// Wire, when set, is the engine's transport as a node that is faulty
	// on purpose uses it (`synod node --faulty`, for fault-injection
	// tests): it is given the real one and returns what the engine sends
	// and receives through. Nil for a correct node.
	Wire func(consensus.Transport) consensus.Transport
}

// Node is a running node of a Byzantine cluster.
type Node struct {
	*bft.Log
	net      *p2p.Transport
	channels *channels
}

// Start opens node self's records, starts its transport and its engine;
// source gives the application's state at each checkpoint. Every member
// signs with the ed25519 key behind its libp2p peer id, so the cluster
// config already holds every public key the engine checks.
func Start(cfg *cluster.Config, self consensus.NodeID, opts Options, source consensus.SnapshotSource) (*Node, error) {
	if cfg.Engine != cluster.EngineBFT {
		return nil, fmt.Errorf("bftnode: the cluster runs engine %q, not %q", cfg.Engine, cluster.EngineBFT)
	}
	me, err := cfg.Node(self)
	if err != nil {
		return nil, fmt.Errorf("bftnode: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ecfg := bft.Config{ID: self, Cluster: cfg.ClusterID, TickInterval: opts.TickInterval, Logger: opts.Logger, CheckRequest: opts.CheckRequest}
	if ecfg.PrivateKey, ecfg.PublicKeys, err = Keys(cfg, self); err != nil {
		return nil, err
	}
	path := filepath.Join(cfg.Path(me.DataDir), StoreFileName)
	if _, err := os.Stat(filepath.Join(cfg.Path(me.DataDir), earlierStoreFileName)); err == nil {
		return nil, fmt.Errorf("bftnode: node %d: its records are in %s, the bbolt store of an earlier synod, which this one does not read; create the cluster again (synod init --byzantine)",
			self, earlierStoreFileName)
	}
	if opts.Rejoin {
		if err := replaceLostStore(cfg.Path(me.DataDir), self, opts.Logger); err != nil {
			return nil, err
		}
	} else if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("bftnode: node %d: its store %s: %w; a Byzantine node that lost its records could contradict what it signed before, so it does not start with new ones: start it with --rejoin to bring it back from the others",
			self, path, err)
	}
	store, err := bft.OpenFileStorage(path)
	if err != nil {
		return nil, fmt.Errorf("bftnode: node %d: %w", self, err)
	}
	net, err := p2p.New(p2p.Options{Cluster: cfg, Self: self, Logger: opts.Logger, Metrics: opts.Metrics})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("bftnode: node %d: %w", self, err), store.Close())
	}
	ch := newChannels(net)
	var wire consensus.Transport = engineTransport{ch}
	if opts.Wire != nil {
		wire = opts.Wire(wire)
	}
	engine, err := bft.Start(ecfg, store, wire, source)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("bftnode: node %d: %w", self, err), net.Close(), store.Close())
	}
	if opts.Metrics != nil {
		rejoining := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "synod_bft_rejoining",
			Help: "1 while this node replaces a lost store: it signs no agreement until it holds a stable checkpoint past anything its lost store may have signed.",
		}, func() float64 {
			if engine.Status().Rejoining {
				return 1
			}
			return 0
		})
		if err := opts.Metrics.Register(rejoining); err != nil {
			return nil, errors.Join(fmt.Errorf("bftnode: node %d: register metrics: %w", self, err), engine.Stop())
		}
	}
	return &Node{Log: engine, net: net, channels: ch}, nil
}

// replaceLostStore sets aside what is left of node self's lost or damaged
// record store in dir and makes a new one marked rejoining. An intact
// store is left alone with an error.
func replaceLostStore(dir string, self consensus.NodeID, logger *slog.Logger) error {
	path := filepath.Join(dir, StoreFileName)
	if _, err := os.Stat(path); err == nil {
		old, err := bft.OpenFileStorage(path)
		switch {
		case err == nil:
			return errors.Join(fmt.Errorf("bftnode: node %d: --rejoin is for a lost or damaged store, and %s is intact: start the node without it", self, path),
				old.Close())
		case !errors.Is(err, bft.ErrCorruptStorage):
			return fmt.Errorf("bftnode: node %d: %w", self, err)
		}
		aside, err := cluster.SetAside(dir, "lost")
		if err != nil {
			return fmt.Errorf("bftnode: node %d: set the damaged store aside: %w", self, err)
		}
		logger.Warn("bftnode: moved the damaged store aside", "node", self, "to", aside)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("bftnode: node %d: %w", self, err)
	}
	// The incarnation only has to differ from an earlier rejoin's, and a
	// lost store cannot say which life it was: the time of the rejoin
	// does.
	incarnation := uint64(time.Now().UnixNano())
	store, err := bft.OpenFileStorage(path)
	if err != nil {
		return fmt.Errorf("bftnode: node %d: %w", self, err)
	}
	if err := errors.Join(store.Append([][]byte{bft.RejoinRecord(incarnation)}, true), store.Close()); err != nil {
		return fmt.Errorf("bftnode: node %d: mark the new store rejoining: %w", self, err)
	}
	logger.Warn("bftnode: rejoining with a new store; this node signs no agreement until it holds a stable checkpoint past anything its lost store may have signed",
		"node", self, "incarnation", incarnation)
	return nil
}

// Keys returns node self's private key and every member's public key:
// each member signs with the ed25519 key behind its libp2p peer id.
func Keys(cfg *cluster.Config, self consensus.NodeID) (ed25519.PrivateKey, map[consensus.NodeID]ed25519.PublicKey, error) {
	private, err := privateKey(cfg, self)
	if err != nil {
		return nil, nil, err
	}
	public, err := PublicKeys(cfg)
	return private, public, err
}

// PublicKeys returns every member's public key, from its peer id in the
// cluster config.
func PublicKeys(cfg *cluster.Config) (map[consensus.NodeID]ed25519.PublicKey, error) {
	public := map[consensus.NodeID]ed25519.PublicKey{}
	for _, n := range cfg.Nodes {
		key, err := publicKey(n)
		if err != nil {
			return nil, err
		}
		public[n.ID] = key
	}
	return public, nil
}

// SendOutputs sends a message of the output certifiers to member to, on
// the members' connections beside the engine's messages.
func (n *Node) SendOutputs(to consensus.NodeID, msg []byte) error {
	return n.net.Send(to, tagged(channelOutputs, msg))
}

// OutputMessages delivers the output certifiers' messages from the other
// members. A message that finds its reader behind is dropped.
func (n *Node) OutputMessages() <-chan consensus.Inbound { return n.channels.outputs }

// CreateStores makes the empty record store of every node of a new
// Byzantine cluster, in the data directories its config names. A node
// never makes its own when it starts: finding none means its records were
// lost.
func CreateStores(cfg *cluster.Config) error {
	for _, n := range cfg.Nodes {
		dir := cfg.Path(n.DataDir)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("bftnode: node %d: %w", n.ID, err)
		}
		store, err := bft.OpenFileStorage(filepath.Join(dir, StoreFileName))
		if err != nil {
			return fmt.Errorf("bftnode: node %d: %w", n.ID, err)
		}
		if err := store.Close(); err != nil {
			return fmt.Errorf("bftnode: node %d: %w", n.ID, err)
		}
	}
	return nil
}

// Status adds to the engine's status what the replica runtime needs of
// any engine. Reachable, on the primary, is the members the transport is
// connected to: the runtime declares the others down.
func (n *Node) Status() consensus.Status {
	st := n.Log.Status()
	if st.IsLeader {
		st.Reachable = append(n.net.Connected(), st.ID)
		slices.Sort(st.Reachable)
	}
	return st
}

func privateKey(cfg *cluster.Config, self consensus.NodeID) (ed25519.PrivateKey, error) {
	key, err := cfg.LoadKey(self)
	if err != nil {
		return nil, fmt.Errorf("bftnode: %w", err)
	}
	raw, err := key.Raw()
	if err != nil || len(raw) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("bftnode: node %d's key is not a %d-byte ed25519 private key", self, ed25519.PrivateKeySize)
	}
	return ed25519.PrivateKey(raw), nil
}

func publicKey(n cluster.Node) (ed25519.PublicKey, error) {
	pub, err := n.PeerID.ExtractPublicKey()
	if err != nil {
		return nil, fmt.Errorf("bftnode: node %d's peer id %s carries no public key: %w", n.ID, n.PeerID, err)
	}
	if pub.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("bftnode: node %d's peer id %s is not of an ed25519 key", n.ID, n.PeerID)
	}
	raw, err := pub.Raw()
	if err != nil {
		return nil, fmt.Errorf("bftnode: node %d's public key: %w", n.ID, err)
	}
	return ed25519.PublicKey(raw), nil
}
