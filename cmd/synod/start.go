package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/synodvm/synod/consensus"
)

const startUsage = `usage: synod start --dir DIR [--rejoin] [--foreground] N

Starts node N of the cluster synod up made in DIR again, with the flags
synod up gave it: the node recovers from its own data directory, catches
up from the others (through a snapshot of the machine if their logs have
moved on) and serves again. synod start returns once the node answers at
its status address, and the node runs on in the background: its pid is in
DIR/cluster.json, its log and its share of the guest's console go to its
log file, and Ctrl-C on synod up stops it with the rest of the cluster.
With --foreground the node stays attached instead: its console appears
here and Ctrl-C stops it. A node whose data directory was lost or damaged
refuses to start; --rejoin brings it back (see synod node --help).

flags:
`

// startPatience bounds how long synod start waits for a detached node to
// answer at its status address.
const startPatience = 2 * time.Minute

func runStart(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("start", startUsage)
	dir := fs.String("dir", "", "the cluster's `directory` (the one synod up printed)")
	rejoin := fs.Bool("rejoin", false, "the node's store was lost or damaged: set the remains aside and catch up from the others, without voting until caught up")
	foreground := fs.Bool("foreground", false, "keep the node attached: its console here, Ctrl-C stops it, and synod start returns when it ends")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	id, err := strconv.ParseUint(fs.Arg(0), 10, 64)
	if *dir == "" || fs.NArg() != 1 || err != nil || id == 0 {
		return errors.New("start: --dir and one node id are required (synod start --help)")
	}
	up, err := readCluster(*dir)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	n, err := clusterNode(*dir, &up, consensus.NodeID(id))
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	if _, err := fetchReport(n.Status); err == nil {
		return fmt.Errorf("start: node %d is running (its status answers at http://%s/status)", id, n.Status)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	logFile, err := os.OpenFile(n.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	defer logFile.Close()
	// The recorded command names the binary that ran synod up, which may
	// be gone (go run deletes it); this one takes the same arguments.
	command := n.Command[1:]
	if *rejoin {
		command = append([]string{command[0], "--rejoin"}, command[1:]...)
	}
	cmd := exec.Command(exe, command...)
	if *foreground {
		cmd.Stdout, cmd.Stderr = stdout, logFile
	} else {
		cmd.Stdout, cmd.Stderr = logFile, logFile
		// A session of its own: the node outlives synod start, and
		// Ctrl-C at this terminal is not meant for it.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start: node %d: %w", id, err)
	}
	n.PID = cmd.Process.Pid
	// Other nodes may have been started since cluster.json was read:
	// only this node's record changes.
	err = updateCluster(*dir, func(now *upCluster) error {
		m, err := clusterNode(*dir, now, n.ID)
		if err != nil {
			return err
		}
		m.PID, m.Command[0] = n.PID, exe
		return nil
	})
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fmt.Errorf("start: node %d: %w", id, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if *foreground {
		fmt.Fprintf(os.Stderr, "synod start: node %d running, pid %d, log %s\n", id, n.PID, n.Log)
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("start: node %d ended: %w: %s", id, err, lastLine(n.Log))
			}
			return nil
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGTERM)
			<-done
			return nil
		}
	}
	if err := waitAnswering(ctx, *n, done); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	fmt.Fprintf(os.Stderr, "synod start: node %d running, pid %d, status http://%s/status, log %s\n", id, n.PID, n.Status, n.Log)
	return nil
}

// waitAnswering waits until node n, started detached, answers at its
// status address; done delivers its process's end. Ctrl-C meanwhile
// stops the node.
func waitAnswering(ctx context.Context, n upNode, done <-chan error) error {
	deadline := time.NewTimer(startPatience)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if r, err := fetchReport(n.Status); err == nil && r.PID == n.PID {
			return nil
		}
		select {
		case err := <-done:
			if err == nil {
				return fmt.Errorf("node %d ended before it answered: %s", n.ID, lastLine(n.Log))
			}
			return fmt.Errorf("node %d ended: %w: %s", n.ID, err, lastLine(n.Log))
		case <-ctx.Done():
			_ = syscall.Kill(n.PID, syscall.SIGTERM)
			<-done
			return fmt.Errorf("interrupted before node %d answered; it was stopped", n.ID)
		case <-deadline.C:
			return fmt.Errorf("node %d (pid %d) has not answered at http://%s/status within %v; it goes on starting, its log is %s",
				n.ID, n.PID, n.Status, startPatience, n.Log)
		case <-tick.C:
		}
	}
}

// clusterNode finds node id in up, read from dir.
func clusterNode(dir string, up *upCluster, id consensus.NodeID) (*upNode, error) {
	i := slices.IndexFunc(up.Nodes, func(n upNode) bool { return n.ID == id })
	if i < 0 {
		return nil, fmt.Errorf("%s has no node %d", filepath.Join(dir, clusterFile), id)
	}
	if len(up.Nodes[i].Command) < 2 {
		return nil, fmt.Errorf("%s: node %d has no command", filepath.Join(dir, clusterFile), id)
	}
	return &up.Nodes[i], nil
}

// lastLine is the last line a node wrote to its log: when it stops at
// once, the reason.
func lastLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(its log %s: %v)", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return lines[len(lines)-1]
}
