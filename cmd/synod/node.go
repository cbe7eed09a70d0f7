package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/cluster"
	"github.com/synodvm/synod/consensus/raftlog"
	"github.com/synodvm/synod/consensus/raftnode"
	"github.com/synodvm/synod/peripherals"
	"github.com/synodvm/synod/replica"
)

// serviceGuest is the example service `synod up` and `synod node` run
// without --guest: a key-value server speaking the Redis protocol on port
// 6379 (source and rebuild command in guests/kvd/kvd.c).
//
//go:embed guests/kvd/kvd
var serviceGuest []byte

// serviceGuestPort is the port the bundled service listens on.
const serviceGuestPort = 6379

const nodeUsage = `usage: synod node --config FILE --id N [flags] [-- guest args...]

Runs one node of a replicated cluster: the consensus log (raft over
libp2p, durable in the node's data directory), the replicated PA-RISC
machine, the service ports clients connect to, and an HTTP endpoint with
the node's status (/status) and metrics (/metrics). Every node of a
cluster must run the same guest. Ctrl-C or SIGTERM stops the node; its
state stays in its data directory and it rejoins when started again.

flags:
`

// machineFlags are the replicated machine's parameters, shared by node and
// up. The boot entry fixes them for the cluster's life: the first leader's
// values win.
type machineFlags struct {
	guest             string
	epochInstructions uint64
	sealWindow        uint64
	hashEvery         uint64
	nanosPerInstr     uint64
	downAfter         time.Duration
	tick              time.Duration
	snapshotEvery     uint64
}

func (m *machineFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.guest, "guest", "", "static hppa-linux `program` to run (default: the bundled key-value service)")
	fs.Uint64Var(&m.epochInstructions, "epoch", 200_000, "E: the most guest `instructions` in one epoch; inputs are delivered between epochs")
	fs.Uint64Var(&m.sealWindow, "window", 32, "W: how many `epochs` ahead the leader seals for a busy guest (larger: fewer stalls; smaller: faster input)")
	fs.Uint64Var(&m.hashEvery, "hash-every", 256, "K: exchange state hashes every K non-empty `epochs` (0: never); fewer catch a diverged replica sooner but hash more")
	fs.Uint64Var(&m.nanosPerInstr, "ns-per-instruction", 10, "how far guest time advances per instruction between seals, in `ns`")
	fs.DurationVar(&m.downAfter, "down-after", 3*time.Second, "declare a node down when the leader has not heard from it for this `long`")
	fs.DurationVar(&m.tick, "raft-tick", 50*time.Millisecond, "raft's tick; elections take about 10-20 ticks")
	fs.Uint64Var(&m.snapshotEvery, "snapshot-every", 10_000, "snapshot the machine and compact the log every this many log `entries` (fewer: faster restarts, more snapshot work)")
}

// binary reads the guest to run and names it for its argv[0].
func (m *machineFlags) binary() ([]byte, string, error) {
	if m.guest == "" {
		return serviceGuest, "kvd", nil
	}
	b, err := os.ReadFile(m.guest)
	if err != nil {
		return nil, "", fmt.Errorf("read guest: %w", err)
	}
	return b, filepath.Base(m.guest), nil
}

func runNode(ctx context.Context, args []string, _ io.Writer) error {
	fs := newFlags("node", nodeUsage)
	configPath := fs.String("config", "", "the cluster config `file` (from synod init)")
	id := fs.Uint64("id", 0, "this node's `id` in the config")
	var m machineFlags
	m.register(fs)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if *configPath == "" || *id == 0 {
		fs.Usage()
		return errors.New("node: --config and --id are required")
	}
	cfg, err := cluster.Load(*configPath)
	if err != nil {
		return err
	}
	if _, err := cfg.LoadKey(consensus.NodeID(*id)); err != nil {
		return fmt.Errorf("node %d: %w", *id, err)
	}
	guest, name, err := m.binary()
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	return serveNode(ctx, cfg, consensus.NodeID(*id), guest, append([]string{name}, fs.Args()...), m, logger)
}

// serveNode runs the node until ctx ends.
func serveNode(ctx context.Context, cfg *cluster.Config, self consensus.NodeID, guest []byte, argv []string,
	m machineFlags, logger *slog.Logger) error {
	me, err := cfg.Node(self)
	if err != nil {
		return err
	}
	var members []consensus.NodeID
	for _, n := range cfg.Nodes {
		members = append(members, n.ID)
	}
	registry := prometheus.NewRegistry()

	// The log asks the replica for snapshots; the replica needs the log.
	var node *replica.Node
	engine := raftlog.Config{
		TickInterval:    m.tick,
		SnapshotSource:  func() (consensus.Snapshot, error) { return node.Snapshot() },
		SnapshotEntries: m.snapshotEvery,
	}
	log, err := raftnode.Start(cfg, self, raftnode.Options{Engine: engine, Logger: logger, Metrics: registry})
	if err != nil {
		return err
	}
	defer log.Stop()
	logger = logger.With("node", self) // the engine and transport name the node themselves

	netport := peripherals.NewNetPort(peripherals.NetPortConfig{
		Node:       self,
		Host:       me.ServiceHost,
		PortOffset: me.ServicePortOffset,
		Log:        log,
		Logger:     logger,
	})
	defer netport.Stop()

	node = replica.NewNode(replica.NodeConfig{
		Replica: replica.Config{Self: self, Guest: guest, ExePath: "/" + argv[0]},
		Boot: replica.BootParams{
			Argv:                argv,
			Envp:                []string{"PATH=/bin:/usr/bin", "HOME=/"},
			EpochInstructions:   m.epochInstructions,
			NanosPerInstruction: m.nanosPerInstr,
			HashEvery:           m.hashEvery,
			Members:             members,
		},
		Log:       log,
		OnCommit:  netport.Committed,
		Devices:   replica.Devices{Net: netport, Stdout: os.Stdout, Stderr: os.Stderr},
		DownAfter: m.downAfter,
		Sealer:    replica.Sealer{Window: m.sealWindow, Retry: int64(time.Second)},
		Logger:    logger,
	})

	status, err := serveStatus(me.StatusAddr, node, netport, registry, logger)
	if err != nil {
		return err
	}
	defer status.Close()

	logger.Info("node running", "status", me.StatusAddr, "service_host", me.ServiceHost,
		"service_port_offset", me.ServicePortOffset, "guest", argv[0])
	exit, err := node.Run(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("node %d: %w", self, err)
	}
	if exit != nil {
		logger.Info("stopped after the guest exited", "status", exit.Code, "signal", exit.Signal)
	}
	return nil
}

// nodeReport is the /status document: what `synod status` prints.
type nodeReport struct {
	ID           consensus.NodeID `json:"id"`
	Role         string           `json:"role"`
	Leader       consensus.NodeID `json:"leader"`
	Term         uint64           `json:"term"`
	Commit       uint64           `json:"commit"`
	Applied      uint64           `json:"applied"`
	Delivered    uint64           `json:"delivered"`
	Epoch        uint64           `json:"epoch"`
	Instructions uint64           `json:"instructions"`
	StateHash    string           `json:"state_hash"`
	HashEpoch    uint64           `json:"hash_epoch"`
	Actioned     uint64           `json:"outputs_actioned"`
	Elsewhere    uint64           `json:"outputs_elsewhere"`
	Connections  int              `json:"connections"`
	Service      []string         `json:"service"`
	Booted       bool             `json:"booted"`
	Exited       bool             `json:"exited"`
	ExitCode     int              `json:"exit_code"`
	ExitSignal   int              `json:"exit_signal"`
	Stopped      string           `json:"stopped,omitempty"`
}

func report(node *replica.Node, netport *peripherals.NetPort) nodeReport {
	s := node.Status()
	r := nodeReport{
		ID:           s.ID,
		Role:         "follower",
		Leader:       s.Log.Leader,
		Term:         s.Log.Term,
		Commit:       s.Log.Commit,
		Applied:      s.Log.Applied,
		Delivered:    s.Replica.Delivered,
		Epoch:        s.Replica.Epoch,
		Instructions: s.Replica.Instructions,
		HashEpoch:    s.Replica.LastHashAt,
		Actioned:     s.Actioned,
		Elsewhere:    s.Elsewhere,
		Connections:  netport.Conns(),
		Service:      netport.Addrs(),
		Booted:       s.Replica.Booted,
	}
	if s.Log.IsLeader {
		r.Role = "leader"
	}
	if s.Replica.LastHashAt != 0 {
		r.StateHash = fmt.Sprintf("%x", s.Replica.LastHash[:8])
	}
	if e := s.Replica.Exited; e != nil {
		r.Exited, r.ExitCode, r.ExitSignal = true, e.Code, e.Signal
	}
	if s.Replica.Stopped != nil {
		r.Stopped = s.Replica.Stopped.Error()
	}
	return r
}

// serveStatus starts the node's HTTP endpoint.
func serveStatus(addr string, node *replica.Node, netport *peripherals.NetPort, registry *prometheus.Registry,
	logger *slog.Logger) (io.Closer, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("status endpoint: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(report(node, netport)); err != nil {
			logger.Debug("status request", "err", err)
		}
	})
	mux.Handle("/metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	// Profiles of a running node: the status address is an operator's
	// endpoint, like /metrics.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("status endpoint stopped", "err", err)
		}
	}()
	return srv, nil
}

// exitCode is the shell-style status of a guest exit: its code, or 128+n
// for a fatal signal n.
func (r nodeReport) exitCode() int {
	if r.ExitSignal != 0 {
		return 128 + r.ExitSignal
	}
	return r.ExitCode
}

// nodeArgs builds the command line of a node process.
func nodeArgs(configPath string, id consensus.NodeID, m machineFlags, guestArgs []string) []string {
	args := []string{"node", "--config", configPath, "--id", strconv.FormatUint(uint64(id), 10),
		"--epoch", strconv.FormatUint(m.epochInstructions, 10),
		"--window", strconv.FormatUint(m.sealWindow, 10),
		"--hash-every", strconv.FormatUint(m.hashEvery, 10),
		"--ns-per-instruction", strconv.FormatUint(m.nanosPerInstr, 10),
		"--down-after", m.downAfter.String(),
		"--raft-tick", m.tick.String(),
		"--snapshot-every", strconv.FormatUint(m.snapshotEvery, 10),
	}
	if m.guest != "" {
		args = append(args, "--guest", m.guest)
	}
	if len(guestArgs) > 0 {
		args = append(append(args, "--"), guestArgs...)
	}
	return args
}
