package main

import (
	"context"
	"encoding/json"
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

	"github.com/synodvm/synod/consensus"
)

const startUsage = `usage: synod start --dir DIR N

Starts node N of the cluster synod up made in DIR again, with the flags
synod up gave it: the node recovers from its own data directory, catches
up from the others (through a snapshot of the machine if their logs have
moved on) and serves again. Its share of the guest's console appears here,
its log goes on in its log file. Ctrl-C stops it. A node whose data
directory was lost or damaged refuses to start; --rejoin brings it back
(see synod node --help).

flags:
`

func runStart(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("start", startUsage)
	dir := fs.String("dir", "", "the cluster's `directory` (the one synod up printed)")
	rejoin := fs.Bool("rejoin", false, "the node's store was lost or damaged: set the remains aside and catch up from the others, without voting until caught up")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	id, err := strconv.ParseUint(fs.Arg(0), 10, 64)
	if *dir == "" || fs.NArg() != 1 || err != nil || id == 0 {
		fs.Usage()
		return errors.New("start: --dir and one node id are required")
	}
	path := filepath.Join(*dir, "cluster.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	var up upCluster
	if err := json.Unmarshal(b, &up); err != nil {
		return fmt.Errorf("start: %s: %w", path, err)
	}
	i := slices.IndexFunc(up.Nodes, func(n upNode) bool { return n.ID == consensus.NodeID(id) })
	if i < 0 {
		return fmt.Errorf("start: %s has no node %d", path, id)
	}
	n := &up.Nodes[i]
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
	cmd.Stdout, cmd.Stderr = stdout, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start: node %d: %w", id, err)
	}
	n.PID, n.Command[0] = cmd.Process.Pid, exe
	if err := writeJSON(path, up); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "synod start: node %d running, pid %d, log %s\n", id, n.PID, n.Log)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
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
