package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/cluster"
	"github.com/synodvm/synod/consensus/raftnode"
	"github.com/synodvm/synod/machine/linux"
)

const upUsage = `usage: synod up [flags] [-- guest args...]

Starts a local cluster: N node processes on loopback, each a replica of
one PA-RISC machine running the guest (by default the bundled Redis-protocol
key-value service). It prints every node's service address, status address
and pid, writes the same to <dir>/cluster.json, shows the guest's console
output, and stops the nodes on Ctrl-C. When the guest exits on every live
node, synod up exits with the guest's status.

Kill a node (kill -9 <pid>) and the service goes on through the others;
start it again with synod start --dir <dir> <id> and it catches up.

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
	nodes := fs.Int("nodes", 3, "how many `nodes` (3 tolerates one failure, 5 two)")
	dir := fs.String("dir", "", "`directory` for the config, keys, data and logs (default: a new one under the temp dir)")
	basePort := fs.Int("base-port", 0, "first loopback `port` for the nodes' libp2p and status endpoints (0: any free)")
	serviceOffset := fs.Int("service-offset", 1000, "node i serves guest port P at 127.0.0.1:P+`offset`+1000(i-1); another cluster on this machine needs another")
	force := fs.Bool("force", false, "replace a cluster already in --dir: its config, keys and stores (old stores are moved aside in their data directories, never deleted)")
	var m machineFlags
	m.register(fs)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "synod-up-")
		if err != nil {
			return fmt.Errorf("up: %w", err)
		}
		*dir = d
	}
	if m.guest != "" {
		abs, err := filepath.Abs(m.guest)
		if err != nil {
			return fmt.Errorf("up: %w", err)
		}
		m.guest = abs
	}
	if _, _, err := m.binary(); err != nil {
		return fmt.Errorf("up: %w", err)
	}
	cfg, err := raftnode.CreateCluster(*dir, cluster.Spec{Nodes: *nodes, BasePort: *basePort, ServiceOffset: *serviceOffset, Force: *force})
	if err != nil {
		return fmt.Errorf("up: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("up: %w", err)
	}
	configPath := filepath.Join(cfg.Dir(), cluster.FileName)

	up := upCluster{Dir: cfg.Dir(), Config: configPath}
	var procs []*nodeProc
	defer func() { stopNodes(procs) }()
	var console *consoleFanout
	if m.consoleInput {
		console = newConsoleFanout(os.Stdin)
	}
	for _, n := range cfg.Nodes {
		stdin, err := console.reader()
		if err != nil {
			return fmt.Errorf("up: %w", err)
		}
		node, proc, err := startNode(cfg, n, exe, configPath, m, fs.Args(), stdin)
		if err != nil {
			return err
		}
		procs = append(procs, proc)
		up.Nodes = append(up.Nodes, node)
	}
	console.start()
	if err := updateCluster(cfg.Dir(), func(c *upCluster) error { *c = up; return nil }); err != nil {
		return fmt.Errorf("up: %w", err)
	}
	printNodes(stdout, up)
	return watch(ctx, up, procs)
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
// input, which it closes once the process has it.
func startNode(cfg *cluster.Config, n cluster.Node, exe, configPath string, m machineFlags, guestArgs []string, stdin *os.File) (upNode, *nodeProc, error) {
	if stdin != nil {
		defer stdin.Close()
	}
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
	cmd := exec.Command(node.Command[0], node.Command[1:]...)
	cmd.Stdout = os.Stdout // the guest's console, from whichever node performs it
	cmd.Stderr = logFile
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

func printNodes(w io.Writer, up upCluster) {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSERVICE\tSTATUS\tPID\tLOG")
	for _, n := range up.Nodes {
		service := n.Service
		if service == "" {
			service = fmt.Sprintf("%s:<guest port>+%d", n.ServiceHost, n.ServicePortOffset)
		}
		fmt.Fprintf(tw, "%d\t%s\thttp://%s/status\t%d\t%s\n", n.ID, service, n.Status, n.PID, n.Log)
	}
	tw.Flush()
	fmt.Fprintf(w, "cluster: %s (synod status --dir %s)\n", filepath.Join(up.Dir, clusterFile), up.Dir)
}

// quorumPatience is how long synod up lets a cluster that has lost its
// majority wait for nodes to be started again before it gives up.
const quorumPatience = 10 * time.Second

// watch waits for Ctrl-C, or for the guest to have exited on every node
// still running; then it returns the guest's exit status. It gives up
// when every node has ended, or when fewer than a majority have run for
// quorumPatience: those cannot commit anything, so they would wait for
// ever.
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
		alive, restarted := 0, 0
		for i, p := range procs {
			n := up.Nodes[i]
			switch {
			case p.running():
				alive++
				continue
			case !reported[i]:
				reported[i] = true
				fmt.Fprintf(os.Stderr, "synod up: node %d (pid %d) ended: %s; start it again with: synod start --dir %s %d\n",
					n.ID, n.PID, endReason(p, n), up.Dir, n.ID)
			}
			// synod start may have brought it back.
			if _, err := fetchReport(n.Status); err == nil {
				restarted++
			}
		}
		if alive == 0 {
			return errors.New("up: every node has ended; see the node logs")
		}
		if code, ok := guestExited(up, procs); ok {
			return exitStatus(code)
		}
		switch running := alive + restarted; {
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

// guestExited reports the guest's exit status once every running node
// reports that the guest has exited.
func guestExited(up upCluster, procs []*nodeProc) (int, bool) {
	code, seen := 0, 0
	for i, n := range up.Nodes {
		if !procs[i].running() {
			continue
		}
		r, err := fetchReport(n.Status)
		if err != nil || !r.Exited {
			return 0, false
		}
		code = r.exitCode()
		seen++
	}
	return code, seen > 0
}

var statusClient = &http.Client{Timeout: 2 * time.Second}

func fetchReport(addr string) (nodeReport, error) {
	var r nodeReport
	resp, err := statusClient.Get("http://" + addr + "/status")
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return r, fmt.Errorf("status %s: %s", addr, resp.Status)
	}
	return r, json.NewDecoder(resp.Body).Decode(&r)
}

// stopNodes asks every node to stop, and kills those that do not.
func stopNodes(procs []*nodeProc) {
	for _, p := range procs {
		if p.running() {
			p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	for _, p := range procs {
		select {
		case <-p.done:
			continue
		case <-timer.C:
		}
		for _, q := range procs {
			if q.running() {
				q.cmd.Process.Kill()
			}
			<-q.done
		}
		return
	}
}
