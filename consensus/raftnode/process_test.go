package raftnode

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/cluster"
	"github.com/synodvm/synod/consensus/logtest"
	"github.com/synodvm/synod/consensus/raftlog"
)

// The multi-process tests run real nodes: the test binary re-executes
// itself with childEnv set, and TestMain turns that process into one node
// of a cluster described by a cluster config, talking libp2p on loopback
// (or inside a network namespace). The parent drives each child over its
// stdin/stdout with one-line commands and JSON replies, so the same
// harness works whether or not the child shares the parent's network.

const (
	childEnv         = "SYNOD_RAFTLOG_TEST_NODE" // "config-path:node-id"
	childSnapshotEnv = "SYNOD_RAFTLOG_TEST_SNAPSHOT_ENTRIES"
)

// patience bounds every wait on a node process. It is generous because
// the machine is shared and slow; waits end as soon as their condition
// holds.
const patience = 60 * time.Second

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		if err := runChildNode(spec, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "raftlog test node:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// childReply is every answer a child node gives.
type childReply struct {
	Err       string           `json:"err,omitempty"`
	Status    consensus.Status `json:"status"`
	Entries   []string         `json:"entries,omitempty"`
	Snapshots int              `json:"snapshots"`
}

// runChildNode runs one node until stdin closes. Commands:
//
//	propose TEXT   → accepted (not yet committed) or err
//	status         → status and snapshot count
//	entries        → every entry delivered so far, in order
func runChildNode(spec string, in io.Reader, out io.Writer) error {
	path, idText, ok := strings.Cut(spec, ":")
	id, err := strconv.ParseUint(idText, 10, 64)
	if !ok || err != nil {
		return fmt.Errorf("bad %s %q", childEnv, spec)
	}
	cfg, err := cluster.Load(path)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var hist logtest.History
	snapEntries, _ := strconv.ParseUint(os.Getenv(childSnapshotEnv), 10, 64)
	node, err := Start(cfg, consensus.NodeID(id), Options{
		Engine: raftlog.Config{
			TickInterval:       50 * time.Millisecond,
			SnapshotEntries:    snapEntries,
			CompactKeepEntries: 5,
			SnapshotSource: func() (consensus.Snapshot, error) {
				mu.Lock()
				defer mu.Unlock()
				return hist.Snapshot()
			},
		},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		return err
	}
	applyErr := make(chan error, 1)
	go func() {
		for a := range node.Applies() {
			mu.Lock()
			err := hist.Apply(a)
			mu.Unlock()
			if err != nil {
				applyErr <- err
				return
			}
		}
	}()
	lines := bufio.NewScanner(in)
	enc := json.NewEncoder(out)
	for lines.Scan() {
		select {
		case err := <-applyErr:
			return errors.Join(err, node.Stop())
		default:
		}
		cmd, arg, _ := strings.Cut(lines.Text(), " ")
		var r childReply
		switch cmd {
		case "propose":
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := node.Propose(ctx, []byte(arg)); err != nil {
				r.Err = err.Error()
			}
			cancel()
		case "status", "entries":
			mu.Lock()
			r.Snapshots = hist.Snapshots
			if cmd == "entries" {
				r.Entries = slices.Clone(hist.Entries)
			}
			mu.Unlock()
		default:
			r.Err = "unknown command " + cmd
		}
		r.Status = node.Status()
		if err := enc.Encode(r); err != nil {
			return errors.Join(err, node.Stop())
		}
	}
	return node.Stop()
}

// proc is one child node process.
type proc struct {
	t    testing.TB
	id   consensus.NodeID
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	exit chan error
}

// procCluster is a cluster of child processes sharing one config.
type procCluster struct {
	t      testing.TB
	cfg    *cluster.Config
	path   string
	procs  map[consensus.NodeID]*proc
	logDir string
	// wrap prefixes the child's command line (ip netns exec NS).
	wrap func(id consensus.NodeID) []string
	env  []string
}

func newProcCluster(t testing.TB, spec cluster.Spec, env ...string) *procCluster {
	dir := t.TempDir()
	cfg, err := CreateCluster(dir, spec)
	require.NoError(t, err)
	c := &procCluster{t: t, cfg: cfg, path: filepath.Join(dir, cluster.FileName), procs: map[consensus.NodeID]*proc{},
		logDir: dir, wrap: func(consensus.NodeID) []string { return nil }, env: env}
	t.Cleanup(func() {
		for _, p := range c.procs {
			p.kill()
		}
		if t.Failed() {
			c.logTails()
		}
	})
	return c
}

// logTails shows the end of every node's log, to tell why a test failed.
func (c *procCluster) logTails() {
	for _, id := range c.ids() {
		b, _ := os.ReadFile(filepath.Join(c.logDir, fmt.Sprintf("node%d.log", id)))
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		c.t.Logf("node %d log (last lines):\n%s", id, strings.Join(lines[max(0, len(lines)-15):], "\n"))
	}
}

func (c *procCluster) ids() []consensus.NodeID {
	var ids []consensus.NodeID
	for _, n := range c.cfg.Nodes {
		ids = append(ids, n.ID)
	}
	return ids
}

func (c *procCluster) start(id consensus.NodeID) {
	t := c.t
	exe, err := os.Executable()
	require.NoError(t, err)
	args := append(c.wrap(id), exe, "-test.run=^$")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), append(c.env, fmt.Sprintf("%s=%s:%d", childEnv, c.path, id))...)
	logFile, err := os.OpenFile(filepath.Join(c.logDir, fmt.Sprintf("node%d.log", id)), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	require.NoError(t, err)
	defer logFile.Close()
	cmd.Stderr = logFile
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &proc{t: t, id: id, cmd: cmd, in: in, out: bufio.NewReader(out), exit: make(chan error, 1)}
	go func() { p.exit <- cmd.Wait() }()
	c.procs[id] = p
}

func (c *procCluster) startAll() {
	for _, id := range c.ids() {
		c.start(id)
	}
}

// call sends one command and returns the reply; a dead or wedged child
// gives an error instead of hanging the test.
func (p *proc) call(cmd string) (childReply, error) {
	type result struct {
		r   childReply
		err error
	}
	done := make(chan result, 1)
	go func() {
		if _, err := io.WriteString(p.in, cmd+"\n"); err != nil {
			done <- result{err: err}
			return
		}
		line, err := p.out.ReadBytes('\n')
		if err != nil {
			done <- result{err: err}
			return
		}
		var r childReply
		done <- result{r, json.Unmarshal(line, &r)}
	}()
	select {
	case res := <-done:
		return res.r, res.err
	case <-time.After(patience):
		return childReply{}, fmt.Errorf("node %d: no reply to %q within %v", p.id, cmd, patience)
	}
}

func (p *proc) mustCall(cmd string) childReply {
	p.t.Helper()
	r, err := p.call(cmd)
	require.NoError(p.t, err, "node %d: %s", p.id, cmd)
	return r
}

// kill sends SIGKILL: no chance to flush or close anything.
func (p *proc) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-p.exit
	p.exit <- nil // later kills return at once
}

// stop closes stdin: the node stops cleanly.
func (p *proc) stop() {
	require.NoError(p.t, p.in.Close())
	select {
	case err := <-p.exit:
		require.NoError(p.t, err, "node %d exits cleanly", p.id)
		p.exit <- nil
	case <-time.After(patience):
		p.t.Fatalf("node %d did not stop", p.id)
	}
}

func (c *procCluster) live() []*proc {
	var out []*proc
	for _, id := range c.ids() {
		if p, ok := c.procs[id]; ok {
			out = append(out, p)
		}
	}
	return out
}

func (c *procCluster) waitFor(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(2 * patience)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("within %v: %s", 2*patience, what)
}

// leaderAmong waits until the given processes agree on a leader among them.
func (c *procCluster) leaderAmong(ps []*proc) consensus.NodeID {
	c.t.Helper()
	var lead consensus.NodeID
	c.waitFor("a leader", func() bool {
		lead = 0
		for _, p := range ps {
			r, err := p.call("status")
			if err != nil || r.Status.Leader == 0 || (lead != 0 && r.Status.Leader != lead) {
				return false
			}
			lead = r.Status.Leader
		}
		return slices.ContainsFunc(ps, func(p *proc) bool { return p.id == lead })
	})
	return lead
}

// commit proposes each value through the given processes in turn and
// waits until each is delivered on its proposer: committed.
func (c *procCluster) commit(ps []*proc, vals []string) {
	c.t.Helper()
	for i, v := range vals {
		p := ps[i%len(ps)]
		c.waitFor("proposal "+v+" accepted", func() bool { r, err := p.call("propose " + v); return err == nil && r.Err == "" })
	}
	for i, v := range vals {
		p := ps[i%len(ps)]
		proposed := time.Now()
		c.waitFor("value "+v+" committed", func() bool {
			r, err := p.call("entries")
			if err == nil && slices.Contains(r.Entries, v) {
				return true
			}
			if time.Since(proposed) > 5*time.Second {
				// Lost with a leader change: propose again, as a client would.
				_, _ = p.call("propose " + v)
				proposed = time.Now()
			}
			return false
		})
	}
}

// converged waits until the given processes deliver the same logtest.History and
// returns it.
func (c *procCluster) converged(ps []*proc) []string {
	c.t.Helper()
	var want []string
	c.waitFor("every node delivers the same logtest.History", func() bool {
		for i, p := range ps {
			r, err := p.call("entries")
			if err != nil {
				return false
			}
			if i == 0 {
				want = r.Entries
			} else if !slices.Equal(want, r.Entries) {
				return false
			}
		}
		return true
	})
	return want
}

func without(ps []*proc, id consensus.NodeID) []*proc {
	return slices.DeleteFunc(slices.Clone(ps), func(p *proc) bool { return p.id == id })
}
