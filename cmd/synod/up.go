package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/cluster"
	"github.com/synodvm/synod/machine/linux"
)

const upUsage = `usage: synod up [flags] [-- guest args...]

Starts a local cluster: N node processes on loopback, each a replica of
one PA-RISC machine running the guest (by default the bundled Redis-protocol
key-value service). Once every node serves, it prints every node's service
address, status address and pid, and writes the same to <dir>/cluster.json;
it shows the guest's console output: the guest's stdout on its stdout, the
guest's stderr on its stderr, each line marked "stderr| " (the nodes' own
logs go to their log files). Ctrl-C stops every node of the cluster, those
started again with synod start too, and removes the directory unless --dir
named it. When the guest exits on every node that runs, synod up exits with
the guest's status.

Kill a node (kill -9 <pid>) and the service goes on through the others;
start it again with synod start --dir <dir> <id> and it catches up.
synod up runs on while any node of its cluster runs, unless fewer than a
majority run for a while: those could not commit anything. With
--byzantine the nodes order inputs with the Byzantine engine, which keeps
serving while up to f of 3f+1 nodes are malicious (see synod status).

flags:
`

// upCluster is <dir>/cluster.json: what synod up started.
type upCluster struct {
	Dir    string   `json:"dir"`
	Config string   `json:"config"`
	Nodes  []upNode `json:"nodes"`
}

type upNode struct {
	ID consensus.NodeID `json:"id"`
	// Service is where clients reach the bundled service's port through
	// this node; ServiceHost and ServicePortOffset place any other guest
	// port P at host:P+offset.
	Service           string   `json:"service,omitempty"`
	ServiceHost       string   `json:"service_host"`
	ServicePortOffset int      `json:"service_port_offset"`
	Status            string   `json:"status"`
	PID               int      `json:"pid"`
	Log               string   `json:"log"`
	DataDir           string   `json:"data_dir"`
	Command           []string `json:"command"`
}

func runUp(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("up", upUsage)
	nodes := fs.Int("nodes", 3, "how many `nodes` (3 tolerates one failure, 5 two; with --byzantine, 4 tolerates one faulty node, 7 two)")
	dir := fs.String("dir", "", "`directory` for the config, keys, data and logs (default: a new one under the temp dir, removed when synod up stops cleanly)")
	basePort := fs.Int("base-port", 0, "first loopback `port` for the nodes' libp2p and status endpoints (0: any free)")
	serviceOffset := fs.Int("service-offset", 1000, "node i serves guest port P at 127.0.0.1:P+`offset`+1000(i-1); another cluster on this machine needs another")
	force := fs.Bool("force", false, "replace a cluster already in --dir: its config, keys and stores (old stores are moved aside in their data directories, never deleted)")
	byzantine := fs.Bool("byzantine", false, byzantineUsage)
	var m machineFlags
	m.register(fs)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	for _, path := range []*string{&m.guest, &m.root} {
		if *path == "" {
			continue
		}
		abs, err := filepath.Abs(*path)
		if err != nil {
			return fmt.Errorf("up: %w", err)
		}
		*path = abs
	}
	if _, _, err := m.binary(); err != nil {
		return fmt.Errorf("up: %w", err)
	}
	if _, err := m.rootFiles(); err != nil {
		return fmt.Errorf("up: %w", err)
	}
	spec := cluster.Spec{Nodes: *nodes, BasePort: *basePort, ServiceOffset: *serviceOffset, Force: *force}
	if *byzantine {
		spec.Engine = cluster.EngineBFT
	}
	spec.Nodes = nodesFor(fs, spec)
	if err := checkEngine(spec); err != nil {
		return fmt.Errorf("up: %w", err)
	}
	if *dir != "" {
		_, err := runCluster(ctx, *dir, spec, m, fs.Args(), stdout)
		return err
	}
	tmp, err := os.MkdirTemp("", "synod-up-")
	if err != nil {
		return fmt.Errorf("up: %w", err)
	}
	started, err := runCluster(ctx, tmp, spec, m, fs.Args(), stdout)
	var guestStatus exitStatus
	if started && err != nil && !errors.As(err, &guestStatus) {
		return fmt.Errorf("%w (the cluster's files, logs among them, stay in %s)", err, tmp)
	}
	if rmErr := os.RemoveAll(tmp); rmErr != nil {
		return errors.Join(err, fmt.Errorf("up: remove the cluster's directory: %w", rmErr))
	}
	return err
}

// runCluster makes the cluster in dir, starts its nodes, shows them once
// they serve and watches them until Ctrl-C or the guest's end. Every node
// of the cluster is stopped when it returns, those synod start brought
// back too. started says whether any node was started.
func runCluster(ctx context.Context, dir string, spec cluster.Spec, m machineFlags, guestArgs []string, stdout io.Writer) (started bool, err error) {
	cfg, err := createCluster(dir, spec)
	if err != nil {
		return false, fmt.Errorf("up: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return false, fmt.Errorf("up: %w", err)
	}
	configPath := filepath.Join(cfg.Dir(), cluster.FileName)

	up := upCluster{Dir: cfg.Dir(), Config: configPath}
	var procs []*nodeProc
	guestStderr := newGuestStderr(os.Stderr)
	defer func() {
		if stopErr := stopCluster(up.Dir, procs); stopErr != nil {
			err = errors.Join(err, fmt.Errorf("up: %w", stopErr))
		}
		guestStderr.wait() // the guest's last lines, written as its nodes stopped
	}()
	var console *consoleFanout
	if m.consoleInput {
		console = newConsoleFanout(os.Stdin)
	}
	for _, n := range cfg.Nodes {
		stderrPipe, err := guestStderr.pipe()
		if err != nil {
			return len(procs) > 0, fmt.Errorf("up: node %d: %w", n.ID, err)
		}
		stdin, err := console.reader()
		if err != nil {
			stderrPipe.Close()
			return len(procs) > 0, fmt.Errorf("up: %w", err)
		}
		node, proc, err := startNode(cfg, n, exe, configPath, m, guestArgs, stdin, stderrPipe)
		if err != nil {
			return len(procs) > 0, err
		}
		procs = append(procs, proc)
		up.Nodes = append(up.Nodes, node)
	}
	console.start()
	if err := updateCluster(cfg.Dir(), func(c *upCluster) error { *c = up; return nil }); err != nil {
		return true, fmt.Errorf("up: %w", err)
	}
	served, err := waitServing(ctx, up, procs)
	if err != nil {
		return true, nil // Ctrl-C before the nodes served
	}
	printNodes(stdout, up, served)
	return true, watch(ctx, up, procs)
}

// checkGuest refuses a guest that cannot run, naming it, before any node
// is started with it: otherwise every node would fail on its own as it
// boots the machine.
func checkGuest(path string, binary []byte) error {
	if err := linux.CheckExecutable(binary); err != nil {
		return fmt.Errorf("guest %s: %w", path, err)
	}
	return nil
}

// nodeProc is a node process; done closes when it has ended.
type nodeProc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *nodeProc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// startNode starts one node process; stdin, when not nil, is its console
// input, and guestStderr where it writes the guest's stderr: it closes
// both once the process has them.
func startNode(cfg *cluster.Config, n cluster.Node, exe, configPath string, m machineFlags, guestArgs []string, stdin, guestStderr *os.File) (upNode, *nodeProc, error) {
	if stdin != nil {
		defer stdin.Close()
	}
	defer guestStderr.Close()
	node := upNode{
		ID:                n.ID,
		ServiceHost:       n.ServiceHost,
		ServicePortOffset: n.ServicePortOffset,
		Status:            n.StatusAddr,
		Log:               filepath.Join(cfg.Dir(), fmt.Sprintf("node%d.log", n.ID)),
		DataDir:           cfg.Path(n.DataDir),
		Command:           append([]string{exe}, nodeArgs(configPath, n.ID, m, guestArgs)...),
	}
	if m.guest == "" {
		addr, err := n.ServiceAddr(serviceGuestPort)
		if err != nil {
			return node, nil, err
		}
		node.Service = addr
	}
	logFile, err := os.OpenFile(node.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return node, nil, fmt.Errorf("up: %w", err)
	}
	defer logFile.Close()
	// The pipe is no part of the recorded command: a node synod start
	// brings back has none, and writes the guest's stderr to its log.
	args := append([]string{node.Command[1], "--guest-stderr-fd", strconv.Itoa(guestStderrFD)}, node.Command[2:]...)
	cmd := exec.Command(node.Command[0], args...)
	cmd.Stdout = os.Stdout // the guest's console, from whichever node performs it
	cmd.Stderr = logFile
	cmd.ExtraFiles = []*os.File{guestStderr} // at guestStderrFD
	if stdin != nil {
		cmd.Stdin = stdin
	}
	if err := cmd.Start(); err != nil {
		return node, nil, fmt.Errorf("up: start node %d: %w", n.ID, err)
	}
	node.PID = cmd.Process.Pid
	proc := &nodeProc{cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(proc.done)
	}()
	return node, proc, nil
}

// servePatience bounds how long synod up waits for its nodes to serve
// before it shows them anyway.
const servePatience = time.Minute

// listenGrace is how long synod up waits, once every node runs the guest,
// for a guest other than the bundled service to listen on a port, so that
// the table can show where it serves. A guest that listens on none is
// shown without.
const listenGrace = 2 * time.Second

// waitServing waits until every node serves, so that a client who
// connects as soon as the table shows is served: the node takes clients
// (it has caught up and is not declared down) and the guest listens on
// its port. It returns the addresses each node serves. It stops waiting
// when a node ends, which watch then reports, and fails only when ctx
// ends.
func waitServing(ctx context.Context, up upCluster, procs []*nodeProc) (map[consensus.NodeID][]string, error) {
	served := map[consensus.NodeID][]string{}
	deadline := time.Now().Add(servePatience)
	var runningSince time.Time            // since when every node runs the guest and takes clients
	warned := map[consensus.NodeID]bool{} // told why it does not serve a port yet
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ready, running := 0, 0
		for i, n := range up.Nodes {
			if !procs[i].running() {
				return served, nil
			}
			r, err := fetchReport(n.Status)
			if err == nil && len(r.ServiceErrors) > 0 && !warned[n.ID] {
				warned[n.ID] = true
				fmt.Fprintf(os.Stderr, "synod up: node %d cannot serve yet and keeps trying: %s (another cluster on this machine needs another --service-offset)\n",
					n.ID, strings.Join(r.ServiceErrors, "; "))
			}
			if err != nil || !r.Serving || !r.Booted {
				continue
			}
			running++
			served[n.ID] = r.Service
			listening := len(r.Service) > 0
			if n.Service != "" {
				listening = slices.Contains(r.Service, n.Service)
			}
			if listening || r.Exited || r.Stopped != "" {
				ready++
			}
		}
		switch {
		case ready == len(up.Nodes):
			return served, nil
		case running < len(up.Nodes):
			runningSince = time.Time{}
		case runningSince.IsZero():
			runningSince = time.Now()
		case up.Nodes[0].Service == "" && time.Since(runningSince) >= listenGrace:
			return served, nil
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "synod up: %d of %d nodes serve after %v; their logs may say why\n", ready, len(up.Nodes), servePatience)
			return served, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

// printNodes shows where each node serves: the bundled service's address,
// or the addresses a guest of the user's listens on (served).
//
// The table is written in one write: the console node writes the guest's
// output to the same stdout, and a tabwriter writes cell by cell, so a
// guest's line could land in the middle of a row.
func printNodes(w io.Writer, up upCluster, served map[consensus.NodeID][]string) {
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSERVICE\tCLUSTER PAGE\tPID\tLOG")
	for _, n := range up.Nodes {
		service := n.Service
		switch {
		case service != "":
		case len(served[n.ID]) > 0:
			service = strings.Join(served[n.ID], ",")
		default:
			service = fmt.Sprintf("%s:<guest port>+%d", n.ServiceHost, n.ServicePortOffset)
		}
		fmt.Fprintf(tw, "%d\t%s\thttp://%s/\t%d\t%s\n", n.ID, service, n.Status, n.PID, n.Log)
	}
	tw.Flush()
	fmt.Fprintf(&table, "cluster: %s (synod status --dir %s)\n", filepath.Join(up.Dir, clusterFile), up.Dir)
	_, _ = w.Write(table.Bytes())
}

// quorumPatience is how long synod up lets a cluster that has lost its
// majority wait for nodes to be started again before it gives up.
const quorumPatience = 10 * time.Second

// watch waits for Ctrl-C, or for the guest to have exited on every node
// still running; then it returns the guest's exit status. A node runs
// while its process does or, once that has ended, while a process synod
// start brought back answers for it. watch gives up when no node runs,
// or when fewer than a majority have run for quorumPatience: those cannot
// commit anything, so they would wait for ever.
func watch(ctx context.Context, up upCluster, procs []*nodeProc) error {
	reported := make([]bool, len(procs))
	var minoritySince time.Time // zero while a majority runs
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		running := 0
		for i, p := range procs {
			n := up.Nodes[i]
			switch {
			case p.running():
				running++
				continue
			case !reported[i]:
				reported[i] = true
				fmt.Fprintf(os.Stderr, "synod up: node %d (pid %d) ended: %s; start it again with: synod start --dir %s %d\n",
					n.ID, n.PID, endReason(p, n), up.Dir, n.ID)
			}
			if _, err := fetchReport(n.Status); err == nil {
				running++
			}
		}
		if running == 0 {
			return fmt.Errorf("up: every node has ended; see the node logs in %s", up.Dir)
		}
		if code, ok := guestExited(up, procs); ok {
			return exitStatus(code)
		}
		switch {
		case running > len(procs)/2:
			minoritySince = time.Time{}
		case minoritySince.IsZero():
			minoritySince = time.Now()
		case time.Since(minoritySince) >= quorumPatience:
			return fmt.Errorf("up: %d of %d nodes have ended and were not started again within %v; the %d left cannot make progress without a majority, so synod up stops them (start each node again with: synod start --dir %s N)",
				len(procs)-running, len(procs), quorumPatience, running, up.Dir)
		}
	}
}

// endReason is how a node process ended: its exit status, and for a node
// that failed on its own the last line of its log, which says why.
func endReason(p *nodeProc, n upNode) string {
	state := p.cmd.ProcessState
	if state.ExitCode() > 0 {
		return fmt.Sprintf("%s (%s)", state, lastLine(n.Log))
	}
	return state.String()
}

// guestExited reports the guest's exit status once every node that runs
// reports that the guest has exited.
func guestExited(up upCluster, procs []*nodeProc) (int, bool) {
	code, seen := 0, 0
	for i, n := range up.Nodes {
		r, err := fetchReport(n.Status)
		switch {
		case err == nil && r.Exited:
			code = r.exitCode()
			seen++
		case err == nil || procs[i].running():
			return 0, false
		}
	}
	return code, seen > 0
}

var statusClient = &http.Client{Timeout: 2 * time.Second}

func fetchReport(addr string) (nodeReport, error) {
	var r nodeReport
	return r, fetchJSON(addr, "/status", &r)
}

// fetchJSON decodes into v what a node's status address serves at path.
func fetchJSON(addr, path string, v any) error {
	resp, err := statusClient.Get("http://" + addr + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s", path, addr, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
