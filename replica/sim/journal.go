package sim

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/machine/linux"
)

// The journal workload: in about one seed in four the cluster runs the
// journal guest (cmd/synod/guests/journal) instead of the key-value one,
// as synod demo multipath does. The guest appends numbered records to a
// disk that every node has a path to (/dev/synod/journal.<node>), writes
// the header after each, and prints "ack <i>" once both are on the disk;
// its multipath library reissues an I/O on the next path when its node is
// declared down and the I/O completes as uncertain (EIO). The disk is the
// simulated shared server (diskserver.go) and each node's device is
// diskdevice.go; crashes aim at the active path's node. Byzantine seeds
// draw it too, on a stream of their own; there the server applies only
// certified writes (diskServer.certified).

// The journal's record layout, as the guest writes it.
const (
	journalDisk        = "journal"
	journalRecord      = 64
	journalFirstRecord = 4096
	journalMagic       = "JRNL"
)

// invDiskRecords: the disk holds every record the guest acknowledged,
// once and in its place: from the ack on, and at the end, when it holds
// exactly the records the guest wrote and nothing more.
const invDiskRecords = "disk-records"

// invFinalState: at the end, every correct replica saw the guest exit
// cleanly, with the same state hash.
const invFinalState = "final-state"

// journalPlan is what a seed decides about the journal workload. It is
// drawn from a stream of its own, so that the key-value seeds' plans and
// runs stay what they were before the workload existed.
type journalPlan struct {
	records  int
	interval time.Duration // the guest's pause after each record
	prefer   consensus.NodeID
	// latency is the most a request or answer takes between a node and
	// the disk server; cut is the chance that the connection breaks
	// mid-request; the active path's node crashes on average every
	// crashEvery (zero: never).
	latency    time.Duration
	cut        float64
	crashEvery time.Duration
}

// journalSalt separates the workload's stream from the seed's others;
// byzantineJournalSalt does in Byzantine runs, so that which of their
// seeds run the journal is drawn apart from which raft seeds do. It is
// one under which none of the Byzantine seeds the tests pin (1, 2, 3, 5,
// 12, 14, 17, 23, 89, 110, 124) draws the journal: they keep the
// key-value runs that found their bugs.
const (
	journalSalt          = 0x6a6f75726e616c
	byzantineJournalSalt = 0x627a6a6f75728b
)

// newJournalPlan decides whether the seed runs the journal, and how.
func newJournalPlan(seed uint64, byzantine bool, nodes int, allowed FaultSet) (journalPlan, bool) {
	salt := uint64(journalSalt)
	if byzantine {
		salt = byzantineJournalSalt
	}
	rng := rand.New(rand.NewPCG(splitmix(seed^salt), splitmix(seed^salt+1)))
	if rng.IntN(4) != 0 {
		return journalPlan{}, false
	}
	p := journalPlan{
		records:  40 + rng.IntN(120),
		interval: pick[time.Duration](rng, 0, 5, 20) * time.Millisecond,
		prefer:   consensus.NodeID(1 + rng.IntN(nodes)),
		latency:  pick[time.Duration](rng, 1, 2, 5) * time.Millisecond,
	}
	if allowed&FaultNetwork != 0 && rng.IntN(3) > 0 {
		p.cut = pick(rng, 0.02, 0.1, 0.3)
	}
	if allowed&FaultCrash != 0 && rng.IntN(3) > 0 {
		p.crashEvery = between(rng, time.Second, 5*time.Second)
	}
	return p, true
}

func (p journalPlan) String() string {
	s := fmt.Sprintf("journal of %d records (pause %v) through node %d, disk latency up to %v", p.records, p.interval, p.prefer, p.latency)
	if p.cut > 0 {
		s += fmt.Sprintf(", connection cut %.0f%% of requests", 100*p.cut)
	}
	if p.crashEvery > 0 {
		s += fmt.Sprintf(", active path crashes every %v", p.crashEvery.Round(time.Millisecond))
	}
	return s
}

// journal is the workload as a run goes: the disk server, and what the
// guest acknowledged on its console.
type journal struct {
	s      *Sim
	plan   journalPlan
	server *diskServer
	// acked are the records the guest acknowledged, mostAcked the
	// highest (-1 for none); failovers counts the multipath library's
	// moves to another path, slowPaths those away from a slow one.
	acked     map[int]bool
	mostAcked int
	failovers int
	slowPaths int
	// active is the node whose device sent the last request.
	active consensus.NodeID
}

// journalDiskSize is the disk's size: the header, and room for the most
// records a plan asks for.
const journalDiskSize = 64 << 10

func newJournal(s *Sim, p journalPlan) *journal {
	return &journal{s: s, plan: p, server: newDiskServer(s, journalDiskSize), acked: map[int]bool{}, mostAcked: -1}
}

// boot is the guest's command line and its disk paths, one per node.
func (j *journal) boot(members []consensus.NodeID) (argv []string, paths []entry.DiskPath) {
	for _, m := range members {
		paths = append(paths, entry.DiskPath{Disk: journalDisk, Node: m, Size: journalDiskSize})
	}
	argv = []string{"journal", journalDisk, fmt.Sprint(j.plan.records), fmt.Sprint(j.plan.interval.Milliseconds()), fmt.Sprint(j.plan.prefer)}
	return argv, paths
}

// console reads the guest's console: acks on stdout, moves between
// paths on stderr. The guest flushes each line with one write, so every output
// holds whole lines; a line performed again after a failover is the
// same ack again.
func (j *journal) console(stream int, b []byte) {
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if stream == 2 && strings.HasPrefix(line, "multipath: ") {
			j.failovers++
			if strings.Contains(line, " is slow (") {
				j.slowPaths++
			}
		}
		rest, ok := strings.CutPrefix(line, "ack ")
		if i, err := strconv.Atoi(rest); stream == 1 && ok && err == nil && !j.acked[i] {
			j.acked[i] = true
			j.mostAcked = max(j.mostAcked, i)
			j.checkAcked(i)
		}
	}
}

// checkAcked checks that acknowledged record i is on the disk, and the
// header counts it.
func (j *journal) checkAcked(i int) {
	if got, want := j.record(i), journalRecordText(i); got != want {
		j.s.violate(invDiskRecords, "record %d was acknowledged, but its place holds %q", i, got)
	}
	if n, ok := j.header(); !ok || n <= i {
		j.s.violate(invDiskRecords, "record %d was acknowledged, but the header counts %d records", i, n)
	}
}

// applied checks, after the server applied a write, that it undid no
// acknowledged record: neither a record nor the header's count of them.
func (j *journal) applied(offset int64, n int) {
	if offset < journalFirstRecord {
		if count, ok := j.header(); j.mostAcked >= 0 && (!ok || count <= j.mostAcked) {
			j.s.violate(invDiskRecords, "a write at %d leaves the header counting %d records, but record %d was acknowledged", offset, count, j.mostAcked)
		}
		return
	}
	for i := int(offset-journalFirstRecord) / journalRecord; journalFirstRecord+int64(i)*journalRecord < offset+int64(n); i++ {
		if j.acked[i] {
			j.checkAcked(i)
		}
	}
}

func journalRecordText(i int) string { return fmt.Sprintf("record %d", i) }

// record is what the disk holds in record i's place, without its padding.
func (j *journal) record(i int) string {
	at := journalFirstRecord + i*journalRecord
	return string(bytes.TrimRight(j.server.image[at:at+journalRecord], " \n\x00"))
}

// header is the count of records the header holds, if it is one.
func (j *journal) header() (int, bool) {
	img := j.server.image
	return int(binary.BigEndian.Uint32(img[4:8])), string(img[:4]) == journalMagic
}

// exited reports whether every correct node is up and its replica saw
// the guest exit. A Byzantine run's faulty member is left out: its
// replica is its own business (a silent one never learns of the exit).
func (j *journal) exited() bool {
	for _, n := range j.s.correctNodes() {
		if !n.up() || n.p.rep.Status().Exited == nil {
			return false
		}
	}
	return true
}

// activePath is the node of the path the guest last sent an I/O
// through, if it is up: crashing it leaves that I/O uncertain.
func (j *journal) activePath() *node {
	if j.active == 0 || !j.s.node(j.active).up() {
		return nil
	}
	return j.s.node(j.active)
}

// finish runs until every replica saw the guest exit, and checks the
// disk and the replicas' final states.
func (j *journal) finish(faultsEnded time.Duration) {
	s := j.s
	for s.ok() && !j.exited() {
		if s.now-faultsEnded > livenessBound {
			s.violate(invLiveness, "the journal guest has not finished on every node within %v of the faults' end (%d of %d records acknowledged)",
				livenessBound, len(j.acked), j.plan.records)
			return
		}
		s.step()
		s.checkOwed(faultsEnded)
	}
	if s.ok() {
		j.checkFinalState()
		j.checkDisk()
	}
}

// checkFinalState checks that every correct replica saw the guest exit
// with status 0, and that their final state hashes, taken at the exit,
// agree.
func (j *journal) checkFinalState() {
	var first *node
	for _, n := range j.s.correctNodes() {
		st := n.p.rep.Status()
		if *st.Exited != (linux.ExitStatus{}) {
			j.s.violate(invFinalState, "on node %d the guest exited with %+v", n.id, *st.Exited)
			continue
		}
		if first == nil {
			first = n
			continue
		}
		if f := first.p.rep.Status(); f.LastHashAt != st.LastHashAt || f.LastHash != st.LastHash {
			j.s.violate(invFinalState, "node %d ends with state hash %x at epoch %d, node %d with %x at epoch %d",
				n.id, st.LastHash[:8], st.LastHashAt, first.id, f.LastHash[:8], f.LastHashAt)
		}
	}
}

// checkDisk checks the disk at the end: the header counts every record
// the guest wrote, each is in its place once, nothing lies past them,
// and every acknowledged record is among them.
func (j *journal) checkDisk() {
	count, ok := j.header()
	switch {
	case !ok:
		j.s.violate(invDiskRecords, "the disk has no journal header")
		return
	case count != j.plan.records:
		j.s.violate(invDiskRecords, "the header counts %d records, the guest wrote %d", count, j.plan.records)
		return
	}
	for i := range count {
		if got := j.record(i); got != journalRecordText(i) {
			j.s.violate(invDiskRecords, "record %d's place holds %q", i, got)
		}
	}
	if rest := j.server.image[journalFirstRecord+count*journalRecord:]; len(bytes.Trim(rest, "\x00")) != 0 {
		j.s.violate(invDiskRecords, "the disk holds data past record %d", count-1)
	}
	if j.mostAcked >= count {
		j.s.violate(invDiskRecords, "record %d was acknowledged, but the disk holds %d", j.mostAcked, count)
	}
}
