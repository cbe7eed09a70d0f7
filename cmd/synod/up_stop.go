package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// stopPatience is how long a node has to stop after SIGTERM before it is
// killed.
const stopPatience = 10 * time.Second

// nodeToStop is a node process synod up stops: one of its own, or one
// synod start started detached.
type nodeToStop struct {
	signal  func(syscall.Signal) error
	running func() bool
}

// stopCluster stops every node of the cluster in dir: synod up's own node
// processes, and those synod start brought back, whose pids cluster.json
// holds. Such a pid is signalled only when the node at its status address
// answers with it: otherwise the pid may be another process's by now. The
// error names the nodes that run but could not be told apart from
// another process.
func stopCluster(dir string, procs []*nodeProc) error {
	nodes := ownNodes(procs)
	own := map[int]bool{} // a pid of an ended one may have been reused
	for _, p := range procs {
		if p.running() {
			own[p.cmd.Process.Pid] = true
		}
	}
	cj, err := readCluster(dir)
	if err != nil {
		stopAll(nodes)
		return nil // nothing was started but synod up's own nodes
	}
	var errs []error
	for _, n := range cj.Nodes {
		if own[n.PID] || !processAlive(n.PID) {
			continue
		}
		r, err := fetchReport(n.Status)
		if err != nil || r.PID != n.PID {
			errs = append(errs, fmt.Errorf("node %d: pid %d runs, but the node does not answer at http://%s/status as that pid: not stopped", n.ID, n.PID, n.Status))
			continue
		}
		pid := n.PID
		nodes = append(nodes, nodeToStop{
			signal:  func(sig syscall.Signal) error { return syscall.Kill(pid, sig) },
			running: func() bool { return processAlive(pid) },
		})
	}
	stopAll(nodes)
	return errors.Join(errs...)
}

// stopNodes stops synod up's own node processes.
func stopNodes(procs []*nodeProc) { stopAll(ownNodes(procs)) }

func ownNodes(procs []*nodeProc) []nodeToStop {
	nodes := make([]nodeToStop, len(procs))
	for i, p := range procs {
		nodes[i] = nodeToStop{
			signal:  func(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) },
			running: p.running,
		}
	}
	return nodes
}

// stopAll asks every node to stop, and kills those that have not within
// stopPatience.
func stopAll(nodes []nodeToStop) {
	for _, n := range nodes {
		if n.running() {
			_ = n.signal(syscall.SIGTERM)
		}
	}
	if waitStopped(nodes, stopPatience) {
		return
	}
	for _, n := range nodes {
		if n.running() {
			_ = n.signal(syscall.SIGKILL)
		}
	}
	waitStopped(nodes, stopPatience)
}

// waitStopped waits up to d for every node to have stopped, and reports
// whether they have.
func waitStopped(nodes []nodeToStop, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		stopped := true
		for _, n := range nodes {
			stopped = stopped && !n.running()
		}
		if stopped || time.Now().After(deadline) {
			return stopped
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processAlive reports whether process pid runs. A process that has ended
// but that no one has waited for yet (a zombie: a node synod start
// detached, whose parent is gone, on a host whose init does not reap) no
// longer runs.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	// /proc/PID/stat: "pid (comm) state ...", where comm may hold
	// anything, parentheses too.
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // no /proc on this system: kill's answer stands
	}
	state := bytes.TrimSpace(stat[bytes.LastIndexByte(stat, ')')+1:])
	return len(state) == 0 || (state[0] != 'Z' && state[0] != 'X')
}
