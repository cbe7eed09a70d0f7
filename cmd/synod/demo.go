package main

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/cluster"
	"github.com/synodvm/synod/consensus/raftnode"
)

// The demos' guests (sources and rebuild commands beside them).
var (
	//go:embed guests/journal/journal
	journalGuest []byte
	//go:embed guests/raid/raid
	raidGuest []byte
)

const demoUsage = `usage: synod demo multipath|raid [flags]

multipath: starts a disk server and 3 nodes that each reach the disk;
the guest appends numbered records to a journal on it through node 1's
path; node 1 is killed with SIGKILL half-way; the guest's multipath
library fails over to node 2's path and reissues the uncertain write.
The demo shows the timeline and ends by checking that the disk holds
every acknowledged record exactly once.

raid: starts 3 nodes, each with a disk only it reaches; the guest
mirrors records over the three (RAID-1); node 2 is killed, the mirror
runs degraded, node 2 is started again and the mirror resynchronises
its disk. The demo ends by checking that the three disks are equal and
hold every acknowledged record.

flags:
`

// demoPatience bounds a whole demo run.
const demoPatience = 3 * time.Minute

func runDemo(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stdout, strings.TrimSuffix(demoUsage, "flags:\n"))
		return errors.New("demo: name a demo: multipath or raid")
	}
	fs := newFlags("demo "+args[0], demoUsage)
	dir := fs.String("dir", "", "keep the cluster's files in `directory` (default: a temporary one, removed at the end)")
	records := fs.Int("records", 120, "how many `records` the guest writes")
	interval := fs.Duration("interval", 40*time.Millisecond, "the guest's pause between two records")
	killAt := fs.Int("kill-at", 0, "kill the node once this many `records` are acknowledged (default: a third of them)")
	hold := fs.Bool("hold", false, "after the checks, keep the cluster running until Ctrl-C, to look at its cluster page")
	var m machineFlags
	m.register(fs)
	if err := fs.Set("down-after", "1s"); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if help, err := parseFlags(fs, args[1:]); help || err != nil {
		return err
	}
	d, err := newDemo(ctx, *dir, stdout)
	if err != nil {
		return err
	}
	defer d.close()
	if *killAt <= 0 || *killAt >= *records {
		*killAt = *records / 3
	}
	run := demoRun{m: m, records: *records, interval: *interval, killAt: *killAt}
	switch args[0] {
	case "multipath":
		err = d.multipath(run)
	case "raid":
		err = d.raid(run)
	default:
		return fmt.Errorf("demo: no demo %q: multipath or raid", args[0])
	}
	if err != nil || !*hold {
		return err
	}
	d.say("the cluster keeps running; its page, with the failover marked: %s (Ctrl-C stops it)", d.page)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.lines: // in the nodes' logs already
		}
	}
}

// demoRun is what one run of a demo does.
type demoRun struct {
	m        machineFlags
	records  int
	interval time.Duration
	// killAt is how many acknowledged records the guest has written
	// when the demo kills a node.
	killAt int
}

// demo runs a cluster with disks and prints what happens as a timeline.
type demo struct {
	ctx     context.Context
	cancel  context.CancelFunc
	dir     string
	keepDir bool
	exe     string
	out     io.Writer
	start   time.Time
	// page is the cluster page of a node the demo does not kill.
	page string

	mu    sync.Mutex
	procs []*exec.Cmd
	nodes map[consensus.NodeID]*exec.Cmd
	lines chan demoLine
}

// demoLine is a line a node process printed: the guest's console, or the
// node's log.
type demoLine struct {
	node   consensus.NodeID
	stderr bool
	text   string
}

func newDemo(ctx context.Context, dir string, out io.Writer) (*demo, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	d := &demo{exe: exe, out: out, start: time.Now(), nodes: map[consensus.NodeID]*exec.Cmd{}, lines: make(chan demoLine, 1024)}
	d.ctx, d.cancel = context.WithTimeout(ctx, demoPatience)
	if dir == "" {
		if dir, err = os.MkdirTemp("", "synod-demo-"); err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
	} else {
		d.keepDir = true
	}
	d.dir = dir
	return d, nil
}

// say prints one line of the timeline.
func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, "%7.2fs  %s\n", time.Since(d.start).Seconds(), fmt.Sprintf(format, args...))
}

// close stops every process the demo started and removes its directory
// unless the user named it.
func (d *demo) close() {
	d.cancel()
	d.mu.Lock()
	procs := d.procs
	d.mu.Unlock()
	for _, p := range procs {
		p.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range procs {
		done := make(chan struct{})
		go func() { p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			p.Process.Kill()
			<-done
		}
	}
	if !d.keepDir {
		os.RemoveAll(d.dir)
	}
}

// startProcess starts a child of the demo whose output lines go to d.lines
// (tagged with node) and to log.
func (d *demo) startProcess(node consensus.NodeID, logPath string, args ...string) (*exec.Cmd, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	cmd := exec.Command(d.exe, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		log.Close()
		return nil, fmt.Errorf("demo: %w", err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		log.Close()
		return nil, fmt.Errorf("demo: %w", err)
	}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("demo: start %s: %w", strings.Join(args[:2], " "), err)
	}
	var wg sync.WaitGroup
	for _, s := range []struct {
		r      io.Reader
		stderr bool
	}{{stdout, false}, {stderr, true}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := bufio.NewScanner(s.r)
			for sc.Scan() {
				fmt.Fprintln(log, sc.Text())
				select {
				case d.lines <- demoLine{node: node, stderr: s.stderr, text: sc.Text()}:
				case <-d.ctx.Done():
				}
			}
		}()
	}
	go func() { wg.Wait(); log.Close() }()
	d.mu.Lock()
	d.procs = append(d.procs, cmd)
	d.mu.Unlock()
	return cmd, nil
}

// diskAddr matches the address `synod disk serve` says it listens on.
var diskAddr = regexp.MustCompile(`\b127\.0\.0\.1:\d+\b`)

// startDisk starts `synod disk serve` on a new image and returns the
// address it serves.
func (d *demo) startDisk(name string, size int64) (string, error) {
	image := filepath.Join(d.dir, name+".img")
	if _, err := d.startProcess(0, filepath.Join(d.dir, name+".log"), "disk", "serve", "--image", image,
		"--size", strconv.FormatInt(size, 10), "--listen", "127.0.0.1:0"); err != nil {
		return "", err
	}
	for {
		select {
		case l := <-d.lines:
			if a := diskAddr.FindString(l.text); a != "" {
				return a, nil
			}
		case <-d.ctx.Done():
			return "", fmt.Errorf("demo: disk server for %s did not say where it listens: %w", name, d.ctx.Err())
		}
	}
}

// startCluster creates a 3-node cluster with disks and starts its nodes
// on guest.
func (d *demo) startCluster(m machineFlags, disks []cluster.Disk, guestName string, guest []byte, guestArgs []string) (*cluster.Config, error) {
	cfg, err := raftnode.CreateCluster(filepath.Join(d.dir, "cluster"), cluster.Spec{Nodes: 3, ServiceOffset: 3000, Disks: disks})
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	m.guest = filepath.Join(d.dir, guestName)
	if err := os.WriteFile(m.guest, guest, 0o755); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	for _, n := range cfg.Nodes {
		if err := d.startNode(cfg, n.ID, m, guestArgs); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// startNode starts (or starts again) one node of the demo's cluster.
func (d *demo) startNode(cfg *cluster.Config, id consensus.NodeID, m machineFlags, guestArgs []string) error {
	args := nodeArgs(filepath.Join(cfg.Dir(), cluster.FileName), id, m, guestArgs)
	cmd, err := d.startProcess(id, filepath.Join(d.dir, fmt.Sprintf("node%d.log", id)), args...)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.nodes[id] = cmd
	d.mu.Unlock()
	return nil
}

func (d *demo) kill(id consensus.NodeID) {
	d.mu.Lock()
	cmd := d.nodes[id]
	d.mu.Unlock()
	cmd.Process.Signal(syscall.SIGKILL)
	d.say("SIGKILL node %d (pid %d)", id, cmd.Process.Pid)
}

var (
	ackLine      = regexp.MustCompile(`^ack (\d+)$`)
	declaredDown = regexp.MustCompile(`msg="declaring a node down" node=(\d+) member=(\d+)`)
)

// follow reads the nodes' lines until until returns true for one, telling
// the timeline what matters; onAck sees each acknowledged record.
func (d *demo) follow(onAck func(int), until func(demoLine) bool) error {
	for {
		select {
		case l := <-d.lines:
			switch {
			case !l.stderr:
				if m := ackLine.FindStringSubmatch(l.text); m != nil {
					n, _ := strconv.Atoi(m[1])
					onAck(n)
				} else {
					d.say("guest: %s", l.text)
				}
			case strings.HasPrefix(l.text, "multipath:"), strings.HasPrefix(l.text, "raid1:"),
				strings.HasPrefix(l.text, "journal:"), strings.HasPrefix(l.text, "raid:"):
				d.say("guest: %s", l.text)
			default:
				if m := declaredDown.FindStringSubmatch(l.text); m != nil {
					d.say("node %s declared down by the leader, node %s: its outstanding I/O completes as uncertain (EIO)", m[2], m[1])
				}
			}
			if until(l) {
				return nil
			}
		case <-d.ctx.Done():
			return fmt.Errorf("demo: did not finish within %v: %w; the nodes' logs are in %s", demoPatience, d.ctx.Err(), d.dir)
		}
	}
}

// acks counts the records the guest acknowledged; the console may repeat
// a few lines across a failover (console output is at least once).
type acks struct {
	seen    map[int]bool
	repeats int
}

func (a *acks) add(n int) {
	if a.seen[n] {
		a.repeats++
	}
	a.seen[n] = true
}
