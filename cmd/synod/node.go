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
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	raftpb "go.etcd.io/raft/v3/raftpb"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/bftnode"
	"github.com/synodvm/synod/consensus/cluster"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/consensus/raftlog"
	"github.com/synodvm/synod/consensus/raftnode"
	"github.com/synodvm/synod/machine"
	"github.com/synodvm/synod/machine/linux"
	"github.com/synodvm/synod/machine/linux/fstree"
	"github.com/synodvm/synod/outputs"
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
the cluster page (/), the node's status (/status), what it saw happen
(/timeline) and its metrics (/metrics). Every node of a cluster must run
the same guest. Ctrl-C or SIGTERM stops the node; its state stays in its
data directory and it rejoins when started again.

flags:
`

// guestEnvp is the environment a node's guest starts with: the host's
// would differ from node to node.
var guestEnvp = []string{"PATH=/bin:/usr/bin", "HOME=/"}

// machineFlags are the replicated machine's parameters, shared by node and
// up. The boot entry fixes them for the cluster's life: the first leader's
// values win.
type machineFlags struct {
	guest             string
	root              string
	epochInstructions uint64
	sealWindow        uint64
	maxSealWindow     uint64
	unreachedWindow   uint64
	hashEvery         uint64
	nanosPerInstr     uint64
	downAfter         time.Duration
	tick              time.Duration
	snapshotEvery     uint64
	memory            byteSize
	maxProcesses      uint64
	// engine is how this node runs guest code; not part of the boot
	// entry: both engines retire the same instructions to the same state.
	engine engineFlag
	// consoleInput feeds the guest's stdin from the nodes' stdin.
	consoleInput bool
}

func (m *machineFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.guest, "guest", "", "static hppa-linux `program` to run (default: the bundled key-value service)")
	fs.StringVar(&m.root, "root", "", "pack this `directory` (programs, scripts, data) into the guest's root file system; every node must be given the same files (default: an empty root)")
	fs.Uint64Var(&m.epochInstructions, "epoch", 200_000, "E: the most guest `instructions` in one epoch; inputs are delivered between epochs")
	fs.Uint64Var(&m.sealWindow, "window", 32, "W: how many `epochs` ahead the leader seals for a busy guest (larger: fewer stalls; smaller: faster input)")
	fs.Uint64Var(&m.maxSealWindow, "max-window", 0, "the most `epochs` ahead the leader seals a busy guest nobody has talked to for a while (a quarter of that while): fewer seals for a computing guest, but the first input after such a while waits as much longer (0, or at most --window: the window stays --window)")
	fs.Uint64Var(&m.unreachedWindow, "unreached-window", replica.DefaultUnreachedWindow, "the most `epochs` ahead the leader seals a busy guest that nothing outside can send input to (no port, connection, console input or disk): fewer seals for a batch job; only the first input once it opens a port or a disk may wait that much longer (0, or at most --window: the window stays --window)")
	fs.Uint64Var(&m.hashEvery, "hash-every", 256, "K: exchange state hashes every K non-empty `epochs` (0: never); fewer catch a diverged replica sooner but hash more")
	fs.Uint64Var(&m.nanosPerInstr, "ns-per-instruction", 10, "how far guest time advances per instruction between seals, in `ns`")
	fs.DurationVar(&m.downAfter, "down-after", 3*time.Second, "declare a node down when the leader has not heard from it for this `duration`")
	fs.DurationVar(&m.tick, "raft-tick", 50*time.Millisecond, "raft's tick; elections take about 10-20 ticks")
	fs.Uint64Var(&m.snapshotEvery, "snapshot-every", 10_000, "snapshot the machine and compact the log every this many log `entries` (fewer: faster restarts, more snapshot work)")
	m.memory = defaultMemory
	fs.Var(&m.memory, "memory", memoryUsage)
	fs.Uint64Var(&m.maxProcesses, "max-processes", linux.DefaultMaxProcesses, maxProcessesUsage)
	m.engine = newEngineFlag()
	fs.Var(&m.engine, "engine", engineUsage+"; nodes of one cluster may differ")
	fs.BoolVar(&m.consoleInput, "console-input", false, "feed the guest's stdin from the console through the log (every node given it must read the same input from its start)")
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
	if err := checkGuest(m.guest, b); err != nil {
		return nil, "", err
	}
	return b, filepath.Base(m.guest), nil
}

// rootFiles packs the --root directory for the replica (nil without one).
func (m *machineFlags) rootFiles() ([]byte, error) {
	if m.root == "" {
		return nil, nil
	}
	tree, err := fstree.Pack(m.root)
	if err != nil {
		return nil, fmt.Errorf("root: %w", err)
	}
	return tree.Encode(), nil
}

// gcFloorBytes is the least a node allocates between two garbage
// collections (see runNode).
const gcFloorBytes = 32 << 20

func runNode(ctx context.Context, args []string, _ io.Writer) error {
	fs := newFlags("node", nodeUsage)
	configPath := fs.String("config", "", "the cluster config `file` (from synod init)")
	id := fs.Uint64("id", 0, "this node's `id` in the config")
	rejoin := fs.Bool("rejoin", false, "bring back a node whose data directory was lost or damaged: set the remains aside and catch up from the others, without voting until caught up")
	faulty := fs.String("faulty", "", faultyUsage+faultyNames())
	guestStderrFD := fs.Int("guest-stderr-fd", 0, "write the guest's stderr to this inherited file `descriptor` (synod up passes a pipe) instead of the node's stderr, its log (0)")
	var m machineFlags
	m.register(fs)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if *configPath == "" || *id == 0 {
		fs.Usage()
		return errors.New("node: --config and --id are required")
	}
	// The collector starts a cycle when the heap has grown by GOGC
	// percent of what the last one left live, and a node's live Go heap
	// is small beside what it allocates: with the key-value guest a few
	// megabytes live, against about 10 KB allocated per request, so at a
	// thousand requests a second it collected several times a second,
	// 7-8% of the node's CPU. gcFloor counts as live and spaces the
	// cycles by at least its size, at the price of as much garbage held
	// between them. Its own pages are never touched: a large allocation
	// comes zeroed from the kernel. A guest of hundreds of megabytes,
	// whose pages are on the Go heap, barely notices it.
	gcFloor := make([]byte, gcFloorBytes)
	defer runtime.KeepAlive(gcFloor)
	cfg, err := cluster.Load(*configPath)
	if err != nil {
		return err
	}
	if _, err := cfg.LoadKey(consensus.NodeID(*id)); err != nil {
		return fmt.Errorf("node %d: %w", *id, err)
	}
	if err := checkFaulty(*faulty, cfg.Engine == cluster.EngineBFT); err != nil {
		return fmt.Errorf("node %d: %w", *id, err)
	}
	guest, name, err := m.binary()
	if err != nil {
		return err
	}
	root, err := m.rootFiles()
	if err != nil {
		return fmt.Errorf("node %d: %w", *id, err)
	}
	guestStderr := os.Stderr
	if *guestStderrFD != 0 {
		guestStderr = os.NewFile(uintptr(*guestStderrFD), "guest stderr")
		if _, err := guestStderr.Stat(); err != nil {
			return fmt.Errorf("node: --guest-stderr-fd %d: %w", *guestStderrFD, err)
		}
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	return serveNode(ctx, nodeSetup{cfg: cfg, self: consensus.NodeID(*id), guest: guest, root: root,
		argv: append([]string{name}, fs.Args()...), m: m, logger: logger, rejoin: *rejoin, guestStderr: guestStderr, faulty: *faulty})
}

// resyncLimit and resyncWindow bound how often a node replaces a diverged
// replica with a peer's state: a fault that strikes once in a while (a
// flipped bit) is repaired, but a node that diverges again and again (a
// different binary, a broken host) gives up and exits with the report.
const (
	resyncLimit  = 3
	resyncWindow = 10 * time.Minute
)

// maxProposal is the largest proposal the node's engine takes, 0 for no
// bound beyond the entry codec's: the Byzantine engine signs each request
// and bounds it (bft.Config.MaxRequestBytes).
func maxProposal(log consensus.Log) int {
	if bounded, ok := log.(interface{ MaxProposal() int }); ok {
		return bounded.MaxProposal()
	}
	return 0
}

// errReplicaNotStarted is what the node gives an engine that asks for a
// snapshot before the replica exists; the engine asks again.
var errReplicaNotStarted = errors.New("the replica has not started yet")

// fetchPatience bounds how long a diverged node waits for a peer whose
// state is recent enough to replace its own.
const fetchPatience = time.Minute

// nodeSetup is everything one node process runs with.
type nodeSetup struct {
	cfg    *cluster.Config
	self   consensus.NodeID
	guest  []byte
	root   []byte // the packed root file system, nil for none
	argv   []string
	m      machineFlags
	logger *slog.Logger
	// rejoin replaces a lost or damaged store as the node starts.
	rejoin bool
	// guestStderr receives the guest's stderr when this node performs it:
	// the node's stderr (its log), or what --guest-stderr-fd names.
	guestStderr io.Writer
	// timeline outlives each run: a repair is part of its story.
	timeline *timeline
	// faulty is what this node does wrong on purpose (faultyBehaviours),
	// or "".
	faulty string
}

// serveNode runs the node until ctx ends. When its replica's state is lost
// (a state hash outvoted at a checkpoint, or a stored snapshot that no
// longer restores), the node starts again from a state a quorum vouches
// for: a raft node fetches a snapshot of a healthy peer's state and
// installs it in its own store; a Byzantine node starts from its own
// records, whose stable checkpoint a quorum certified (a damaged one is
// fetched from its signers), and executes again the batches decided
// after it. The fault is gone with the state it corrupted.
func serveNode(ctx context.Context, s nodeSetup) error {
	if s.timeline == nil {
		s.timeline = newTimeline(s.self, time.Now)
	}
	var resyncs []time.Time
	var history repairHistory
	for {
		again, err := s.run(ctx, history)
		s.rejoin = false
		if again == nil {
			return err
		}
		history.repairs++
		if errors.Is(err, replica.ErrDiverged) {
			history.divergences++
		}
		now := time.Now()
		resyncs = append(slices.DeleteFunc(resyncs, func(t time.Time) bool { return now.Sub(t) > resyncWindow }), now)
		if len(resyncs) > resyncLimit {
			return fmt.Errorf("%w (%d times within %v: giving up)", err, len(resyncs), resyncWindow)
		}
		if again.peerState == nil {
			s.logger.Warn("starting again from this node's certified checkpoint", "node", s.self, "resyncs", len(resyncs))
			s.timeline.add(eventRepaired, false, "started again from its certified checkpoint, after: %v", err)
			continue
		}
		snap := again.peerState
		if err := raftnode.InstallSnapshot(s.cfg, s.self, snap); err != nil {
			return fmt.Errorf("node %d: install a peer's state after losing its own: %w", s.self, err)
		}
		s.logger.Warn("installed a healthy peer's state; starting again", "node", s.self,
			"index", snap.GetMetadata().GetIndex(), "resyncs", len(resyncs))
		s.timeline.add(eventRepaired, false, "took a healthy peer's state at index %d, after: %v", snap.GetMetadata().GetIndex(), err)
	}
}

// startAgain is how a node whose replica state was lost starts again.
type startAgain struct {
	// peerState is a healthy raft peer's snapshot to install first; nil
	// for a Byzantine node, which starts again from its own records.
	peerState *raftpb.Snapshot
}

// repairHistory is what befell the replicas of one node process before
// the current one: every run of the node has a new replica and metrics
// registry, the history outlives them.
type repairHistory struct {
	// repairs counts the replica states replaced with a peer's, and
	// divergences those of them lost to a quorum's differing state hash.
	repairs, divergences uint64
}

// run runs the node once, until ctx ends or the replica stops. For a
// replica whose state is lost it returns how to start again.
func (s nodeSetup) run(ctx context.Context, history repairHistory) (*startAgain, error) {
	cfg, self, m, logger := s.cfg, s.self, s.m, s.logger
	me, err := cfg.Node(self)
	if err != nil {
		return nil, err
	}
	var members []consensus.NodeID
	for _, n := range cfg.Nodes {
		members = append(members, n.ID)
	}
	registry := prometheus.NewRegistry()

	// The log asks the replica for snapshots; the replica needs the log.
	// The engine may ask for a snapshot before the replica exists: a
	// Byzantine engine restarted from its records re-executes them as it
	// starts, and can reach a checkpoint at once.
	var started atomic.Pointer[replica.Node]
	engine := raftlog.Config{TickInterval: m.tick, SnapshotEntries: m.snapshotEvery, Merge: entry.MergeInputs}
	source := func() (consensus.Snapshot, error) {
		n := started.Load()
		if n == nil {
			return consensus.Snapshot{}, errReplicaNotStarted
		}
		return n.Snapshot()
	}
	log, raft, err := startLog(s, engine, source, logger, registry)
	if err != nil {
		return nil, withRepairHint(err)
	}
	defer log.Stop()
	logger = logger.With("node", self) // the engine and transport name the node themselves

	netport := peripherals.NewNetPort(peripherals.NetPortConfig{
		Node:        self,
		Host:        me.ServiceHost,
		PortOffset:  me.ServicePortOffset,
		Log:         log,
		MaxProposal: maxProposal(log),
		Logger:      logger,
		Certified:   cfg.Engine == cluster.EngineBFT,
		Now:         faultyClock(s.faulty),
	})
	defer netport.Stop()
	disks, diskClients, err := nodeDisks(cfg, self, logger)
	for _, c := range diskClients {
		defer c.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("node %d: %w", self, err)
	}
	devices := outputs.Devices{Net: faultyNet(s.faulty, netport), Stdout: os.Stdout, Stderr: s.guestStderr}
	certify, err := certifierOf(ctx, s, log, logger)
	if err != nil {
		return nil, err
	}
	if disks != nil {
		defer disks.Stop()
		devices.Disks = disks
	}

	node := replica.NewNode(replica.NodeConfig{
		Replica: replica.Config{Self: self, Guest: s.guest, Root: s.root, ExePath: "/" + s.argv[0], Engine: m.engine.Engine},
		Boot: replica.BootParams{
			Argv:                s.argv,
			Envp:                guestEnvp,
			EpochInstructions:   m.epochInstructions,
			NanosPerInstruction: m.nanosPerInstr,
			HashEvery:           m.hashEvery,
			Members:             members,
			MemoryLimit:         uint64(m.memory),
			Disks:               diskPaths(cfg),
			ConsoleInput:        m.consoleInput,
			MaxProcesses:        m.maxProcesses,
			RandomContributors:  randomContributors(cfg.Engine, len(members)),
		},
		Log:           faultyLog(s.faulty, log, history.repairs == 0),
		MaxProposal:   maxProposal(log),
		OnCommit:      faultyOnCommit(ctx, s.faulty, self, log, netport.Committed),
		Devices:       devices,
		Certify:       certify,
		DownAfter:     m.downAfter,
		DiskDownAfter: byzantineDiskDownAfter(cfg.Engine),
		Sealer:        replica.Sealer{Window: m.sealWindow, MaxWindow: m.maxSealWindow, UnreachedWindow: m.unreachedWindow, Retry: int64(time.Second)},
		// The Byzantine engine's checkpoints compare the members'
		// snapshots: each must be the state after exactly its entries.
		SnapshotsAtRest:  cfg.Engine == cluster.EngineBFT,
		EveryMemberBoots: cfg.Engine == cluster.EngineBFT,
		Now:              faultyClock(s.faulty),
		Logger:           logger,
	})
	started.Store(node)

	if err := registerNodeMetrics(registry, node, history); err != nil {
		return nil, fmt.Errorf("node %d: metrics: %w", self, err)
	}
	if m.consoleInput {
		peripherals.StartConsoleInput(ctx, peripherals.ConsoleInputConfig{
			Node: self, Input: os.Stdin, Log: log, Logger: logger, MaxProposal: maxProposal(log),
			Next: func() (uint64, bool) { s := node.Status(); return s.ConsoleInNext, s.ConsoleInEOF },
		})
	}
	page := &clusterPage{cfg: cfg, self: self, timeline: s.timeline, now: time.Now, logger: logger}
	status, err := serveStatus(me.StatusAddr, node, netport, history.repairs, registry, page, logger)
	if err != nil {
		return nil, err
	}
	defer status.Close()
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go s.timeline.watch(watchCtx, node.Status)

	logger.Info("node running", "status", me.StatusAddr, "service_host", me.ServiceHost,
		"service_port_offset", me.ServicePortOffset, "guest", s.argv[0], "engine", m.engine.String(),
		"root", fmt.Sprintf("%x", replica.RootDigest(s.root)))
	exit, err := node.Run(ctx)
	switch {
	case errors.Is(err, replica.ErrDiverged), errors.Is(err, replica.ErrBadSnapshot):
		if raft == nil {
			logger.Error("replica state lost; starting again from this node's certified checkpoint", "err", err)
			return &startAgain{}, fmt.Errorf("node %d: %w", self, err)
		}
		logger.Error("replica state lost; fetching a healthy node's state", "err", err)
		snap, ferr := fetchHealthyState(ctx, raft)
		if ferr != nil {
			return nil, fmt.Errorf("node %d: %w; no state to start again from: %w", self, err, ferr)
		}
		return &startAgain{peerState: snap}, fmt.Errorf("node %d: %w", self, err)
	case err != nil && !errors.Is(err, context.Canceled):
		return nil, withRepairHint(fmt.Errorf("node %d: %w", self, err))
	}
	if exit != nil {
		logger.Info("stopped after the guest exited", "status", exit.Code, "signal", exit.Signal)
	}
	return nil, nil
}

// startLog starts the node's consensus engine, the one the cluster config
// names, on its store and transport; source gives the replica's state.
// raft is the raft node, for taking a peer's state, and nil for an engine
// that cannot.
func startLog(s nodeSetup, engine raftlog.Config, source consensus.SnapshotSource, logger *slog.Logger,
	registry prometheus.Registerer) (log consensus.Log, raft *raftnode.Node, err error) {
	if s.cfg.Engine == cluster.EngineBFT {
		log, err := bftnode.Start(s.cfg, s.self, bftnode.Options{TickInterval: engine.TickInterval, Logger: logger, Metrics: registry,
			CheckRequest: replica.CheckProposedTime(time.Now, replica.MaxClockAhead), Wire: faultyWire(s.faulty), Rejoin: s.rejoin}, source)
		return log, nil, err
	}
	engine.SnapshotSource = source
	raft, err = raftnode.Start(s.cfg, s.self, raftnode.Options{Engine: engine, Logger: logger, Metrics: registry, Rejoin: s.rejoin})
	return raft, raft, err
}

// withRepairHint tells the operator how to bring back a node whose store
// is lost or damaged.
func withRepairHint(err error) error {
	if errors.Is(err, raftlog.ErrMissingStore) || errors.Is(err, raftlog.ErrCorruptStore) {
		return fmt.Errorf("%w; this node's log is lost, and with it the votes and acknowledgements it gave: "+
			"to bring it back from the others without letting it vote on what it forgot, start it with --rejoin", err)
	}
	return err
}

// fetchHealthyState asks the other nodes for a snapshot no older than this
// node's own, until one has it or fetchPatience runs out: a peer may first
// have to deliver as far.
func fetchHealthyState(ctx context.Context, log *raftnode.Node) (*raftpb.Snapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchPatience)
	defer cancel()
	for {
		snap, err := log.FetchSnapshot(ctx, log.Status().Snapshot)
		if err == nil {
			return snap, nil
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// nodeReport is the /status document: what `synod status` prints.
type nodeReport struct {
	ID consensus.NodeID `json:"id"`
	// Engine is the cluster's ordering engine: raft, or bft (Byzantine).
	Engine string `json:"engine"`
	// Role is leader or follower with raft; primary or backup with the
	// Byzantine engine, whose Term is the view and Leader the view's
	// primary. A node of either may be rejoining.
	Role    string           `json:"role"`
	Leader  consensus.NodeID `json:"leader"`
	Term    uint64           `json:"term"`
	Commit  uint64           `json:"commit"`
	Applied uint64           `json:"applied"`
	// Snapshot is the log index of the engine's newest snapshot: with
	// the Byzantine engine, of its last stable checkpoint.
	Snapshot     uint64 `json:"snapshot"`
	Delivered    uint64 `json:"delivered"`
	Epoch        uint64 `json:"epoch"`
	Instructions uint64 `json:"instructions"`
	// GuestTime is the guest's clock, in Unix nanoseconds.
	GuestTime int64  `json:"guest_time"`
	StateHash string `json:"state_hash"`
	HashEpoch uint64 `json:"hash_epoch"`
	Actioned  uint64 `json:"outputs_actioned"`
	Elsewhere uint64 `json:"outputs_elsewhere"`
	// Certificates, in a Byzantine cluster, count the outputs addressed
	// here that f+1 replicas signed, those still waiting, and the
	// signatures that matched no output here or did not verify.
	Certificates *outputs.CertifierCounts `json:"certificates,omitempty"`
	// ForgedInputs counts entries a member proposed in another's name,
	// which the replica dropped (Byzantine clusters).
	ForgedInputs uint64 `json:"forged_inputs,omitempty"`
	// RandomBatches counts the random batches the guest's pool received;
	// RandomPassedOver, in a Byzantine cluster, the members its draws
	// pass over for withholding their part.
	RandomBatches    uint64             `json:"random_batches"`
	RandomPassedOver []consensus.NodeID `json:"random_passed_over,omitempty"`
	Connections      int                `json:"connections"`
	Service          []string           `json:"service"`
	ServiceErrors    []string           `json:"service_errors,omitempty"` // why a port the guest listens on is not served here yet
	Serving          bool               `json:"serving"`                  // takes new clients: caught up, not declared down
	Booted           bool               `json:"booted"`
	Exited           bool               `json:"exited"`
	// BootedAt and ExitedAt are when this node's process saw the guest
	// boot and exit, by its clock.
	BootedAt   time.Time `json:"booted_at,omitzero"`
	ExitedAt   time.Time `json:"exited_at,omitzero"`
	ExitCode   int       `json:"exit_code"`
	ExitSignal int       `json:"exit_signal"`
	Stopped    string    `json:"stopped,omitempty"`
	// Resyncs counts the times this process replaced a lost replica state
	// with a peer's.
	Resyncs uint64 `json:"resyncs"`
	// SealWaits counts the times a busy guest waited at an epoch end for
	// its leader's next seal.
	SealWaits uint64 `json:"seal_waits"`
	// StateInstalls counts the times this node took the others' state
	// and hung up on its clients, ClientsHungUp the clients it hung up
	// on: it had fallen too far behind to execute what it missed.
	StateInstalls uint64 `json:"state_installs"`
	ClientsHungUp uint64 `json:"clients_hung_up"`
	// Failovers counts the failovers this node saw since it started: a
	// leader it knew lost, a member declared down (the cluster page marks
	// each).
	Failovers int `json:"failovers"`
	// PID is the node's process: synod up stops a node that synod start
	// brought back only once the node answers with the pid cluster.json
	// holds, not whatever process has that pid now.
	PID int `json:"pid"`
}

// leads is whether the node orders the log: raft's leader, or the
// primary of the Byzantine engine's view.
func (r nodeReport) leads() bool { return r.Role == "leader" || r.Role == "primary" }

func report(engine cluster.Engine, node *replica.Node, netport *peripherals.NetPort) nodeReport {
	s := node.Status()
	r := nodeReport{
		Engine:           string(engine),
		ID:               s.ID,
		Role:             "follower",
		Leader:           s.Log.Leader,
		Term:             s.Log.Term,
		Commit:           s.Log.Commit,
		Applied:          s.Log.Applied,
		Snapshot:         s.Log.Snapshot,
		Delivered:        s.Replica.Delivered,
		Epoch:            s.Replica.Epoch,
		Instructions:     s.Replica.Instructions,
		GuestTime:        s.Replica.GuestTime,
		HashEpoch:        s.Replica.LastHashAt,
		Actioned:         s.Actioned,
		Elsewhere:        s.Elsewhere,
		Certificates:     s.Certificates,
		ForgedInputs:     s.ForgedInputs,
		RandomBatches:    s.Replica.RandomBatches,
		SealWaits:        s.SealWaits,
		StateInstalls:    s.Installs,
		ClientsHungUp:    s.HungUp,
		RandomPassedOver: s.Replica.RandomPassedOver,
		Connections:      netport.Conns(),
		Service:          netport.Addrs(),
		ServiceErrors:    netport.ListenErrors(),
		Serving:          netport.Serving(),
		Booted:           s.Replica.Booted,
		BootedAt:         s.BootedAt,
		ExitedAt:         s.ExitedAt,
		PID:              os.Getpid(),
	}
	byzantine := engine == cluster.EngineBFT
	switch {
	case s.Log.IsLeader && byzantine:
		r.Role = "primary"
	case s.Log.IsLeader:
		r.Role = "leader"
	case s.Log.Rejoining:
		// It lost its store: it takes the log but does not vote yet.
		r.Role = "rejoining"
	case byzantine:
		r.Role = "backup"
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
func serveStatus(addr string, node *replica.Node, netport *peripherals.NetPort, resyncs uint64, registry *prometheus.Registry,
	page *clusterPage, logger *slog.Logger) (io.Closer, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("status endpoint: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		r := report(page.cfg.Engine, node, netport)
		r.Resyncs = resyncs
		r.Failovers = page.timeline.failovers()
		if err := json.NewEncoder(w).Encode(r); err != nil {
			logger.Debug("status request", "err", err)
		}
	})
	mux.Handle("/metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	mux.Handle("GET /{$}", page)
	mux.HandleFunc("GET /timeline", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(page.timeline.view()); err != nil {
			logger.Debug("timeline request", "err", err)
		}
	})
	// Profiles of a running node: the status address is an operator's
	// endpoint, like /metrics.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
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
		"--max-window", strconv.FormatUint(m.maxSealWindow, 10),
		"--unreached-window", strconv.FormatUint(m.unreachedWindow, 10),
		"--hash-every", strconv.FormatUint(m.hashEvery, 10),
		"--ns-per-instruction", strconv.FormatUint(m.nanosPerInstr, 10),
		"--down-after", m.downAfter.String(),
		"--raft-tick", m.tick.String(),
		"--snapshot-every", strconv.FormatUint(m.snapshotEvery, 10),
	}
	if m.guest != "" {
		args = append(args, "--guest", m.guest)
	}
	if m.root != "" {
		args = append(args, "--root", m.root)
	}
	if m.engine.Engine != machine.DefaultEngine {
		args = append(args, "--engine", m.engine.String())
	}
	if m.memory != 0 {
		args = append(args, "--memory", m.memory.String())
	}
	args = append(args, "--max-processes", strconv.FormatUint(m.maxProcesses, 10))
	if m.consoleInput {
		args = append(args, "--console-input")
	}
	if len(guestArgs) > 0 {
		args = append(append(args, "--"), guestArgs...)
	}
	return args
}

// diskPaths are the guest's disk paths the config describes, in the
// config's order: every node derives the same list for the boot entry.
func diskPaths(cfg *cluster.Config) []entry.DiskPath {
	var paths []entry.DiskPath
	for _, d := range cfg.Disks {
		for _, p := range d.Paths {
			paths = append(paths, entry.DiskPath{Disk: d.Name, Node: p.Node, Size: d.Size})
		}
	}
	return paths
}
