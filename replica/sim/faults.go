package sim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/bft"
	"github.com/synodvm/synod/consensus/memnet"
)

// FaultSet is the kinds of fault a run may inject.
type FaultSet uint

const (
	// FaultNetwork: messages dropped, duplicated and delayed (which
	// reorders them across links; memnet keeps each link in order, as
	// the Transport contract promises).
	FaultNetwork FaultSet = 1 << iota
	// FaultPartition: the nodes split into groups that cannot talk.
	FaultPartition
	// FaultCrash: a node's process dies and restarts later from its store.
	FaultCrash
	// FaultStoreLoss: a crashed node loses its store and rejoins with an
	// empty one (synod start --rejoin).
	FaultStoreLoss
	// FaultDisk: a node's process dies inside a write (the write lost, a
	// snapshot file torn, a snapshot install cut short), a write fails
	// (an fsync error, a full disk) and the raft core stops the process,
	// and a bit flips in the store of a node that is down (disk.go).
	FaultDisk
	// FaultClock: nodes' wall clocks jump forward and backward.
	FaultClock

	// AllFaults is every kind.
	AllFaults = FaultNetwork | FaultPartition | FaultCrash | FaultStoreLoss | FaultDisk | FaultClock
)

var faultNames = []struct {
	set  FaultSet
	name string
}{
	{FaultNetwork, "network"},
	{FaultPartition, "partition"},
	{FaultCrash, "crash"},
	{FaultStoreLoss, "storeloss"},
	{FaultDisk, "disk"},
	{FaultClock, "clock"},
}

// ParseFaults reads a comma-separated list of fault kinds ("network",
// "partition", "crash", "storeloss", "disk", "clock"), or "all" or
// "none".
func ParseFaults(s string) (FaultSet, error) {
	switch s {
	case "all":
		return AllFaults, nil
	case "none", "":
		return 0, nil
	}
	var set FaultSet
	for _, name := range strings.Split(s, ",") {
		i := slices.IndexFunc(faultNames, func(f struct {
			set  FaultSet
			name string
		}) bool {
			return f.name == strings.TrimSpace(name)
		})
		if i < 0 {
			return 0, fmt.Errorf("unknown fault kind %q (kinds: %s, all, none)", name, set.kinds())
		}
		set |= faultNames[i].set
	}
	return set, nil
}

func (f FaultSet) String() string {
	var names []string
	for _, k := range faultNames {
		if f&k.set != 0 {
			names = append(names, k.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ",")
}

func (FaultSet) kinds() string { return AllFaults.String() }

// FaultCounts is what a run injected, by kind.
type FaultCounts struct {
	// Messages the network dropped, duplicated, delayed, or lost to a
	// partition or a dead node.
	Dropped, Duplicated, Delayed, Cut uint64
	Partitions, Crashes, StoreLosses  uint64
	// Disk faults: writes a process died inside, snapshot files such a
	// death left torn, and snapshot installs it cut short; writes that
	// failed at their fsync; episodes of a full disk; bits flipped in the
	// store of a node that was down, and stores the operator replaced
	// after their node refused them.
	WriteCrashes, TornSnapshots, InstallCrashes uint64
	WriteErrors, FullDisks                      uint64
	BitFlips, StoresReplaced                    uint64
	// ClockJumps counts the jumps of nodes' wall clocks.
	ClockJumps uint64
	// DiskCuts counts the disk server's connections broken mid-request.
	DiskCuts uint64
}

// Add sums two counts.
func (c FaultCounts) Add(o FaultCounts) FaultCounts {
	return FaultCounts{
		Dropped: c.Dropped + o.Dropped, Duplicated: c.Duplicated + o.Duplicated,
		Delayed: c.Delayed + o.Delayed, Cut: c.Cut + o.Cut,
		Partitions: c.Partitions + o.Partitions, Crashes: c.Crashes + o.Crashes,
		StoreLosses:  c.StoreLosses + o.StoreLosses,
		WriteCrashes: c.WriteCrashes + o.WriteCrashes, TornSnapshots: c.TornSnapshots + o.TornSnapshots,
		InstallCrashes: c.InstallCrashes + o.InstallCrashes, WriteErrors: c.WriteErrors + o.WriteErrors,
		FullDisks: c.FullDisks + o.FullDisks, BitFlips: c.BitFlips + o.BitFlips,
		StoresReplaced: c.StoresReplaced + o.StoresReplaced, ClockJumps: c.ClockJumps + o.ClockJumps,
		DiskCuts: c.DiskCuts + o.DiskCuts,
	}
}

// plan is everything a seed decides about a run before it starts: the
// cluster's shape and timings, and the rate of each fault.
type plan struct {
	nodes, clients, keys, pipeline int
	// think is the most a client waits between operations.
	think      time.Duration
	tick       time.Duration
	downAfter  time.Duration
	sealWindow uint64
	// maxSealWindow is the sealer's MaxWindow: sealWindow times 1, 2, 4
	// or 8.
	maxSealWindow     uint64
	snapshotEvery     uint64
	epochInstructions uint64
	hashEvery         uint64
	skew              []time.Duration // per node
	// chaos is how long faults are injected, from the start.
	chaos time.Duration
	net   memnet.Faults
	// A partition starts on average every partitionEvery and lasts up
	// to partitionFor; a crash comes on average every crashEvery and the
	// node stays down up to downFor. Zero: never.
	partitionEvery, partitionFor time.Duration
	crashEvery, downFor          time.Duration
	// storeLoss is the chance that a crash also loses the node's store.
	storeLoss float64
	// Disk faults (disk.go), each zero for never: a write on some node
	// dies with its process on average every writeCrashEvery, and fails
	// at its fsync every writeErrorEvery; a node's disk is full for up to
	// fullFor every fullEvery. snapshotCrash is the chance that the
	// process dies inside a write of a snapshot data file, bitFlip the
	// chance that a bit flips in the store of a node that stops. A node
	// its disk stopped restarts within diskDownFor; the operator replaces
	// a refused store after up to replaceAfter.
	writeCrashEvery, writeErrorEvery time.Duration
	fullEvery, fullFor               time.Duration
	snapshotCrash, bitFlip           float64
	diskDownFor, replaceAfter        time.Duration
	// A node's clock jumps on average every clockJumpEvery, by up to
	// clockJump forward or backward.
	clockJumpEvery, clockJump time.Duration
}

func pick[T any](rng *rand.Rand, choices ...T) T { return choices[rng.IntN(len(choices))] }

func between(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
}

// newPlan draws a run's plan; each fault kind allowed is used by about
// two seeds in three, at a rate of its own. A Byzantine run has 4
// members, and draws its disk faults and lost stores apart
// (withRecordDiskFaults, withRecordLoss).
func newPlan(rng *rand.Rand, allowed FaultSet, byzantine bool) plan {
	p := plan{
		nodes:             pick(rng, 3, 3, 3, 5),
		clients:           2 + rng.IntN(5),
		keys:              2 + rng.IntN(6),
		pipeline:          1 + rng.IntN(4),
		tick:              pick[time.Duration](rng, 10, 20, 50) * time.Millisecond,
		downAfter:         pick[time.Duration](rng, 1, 3) * time.Second,
		sealWindow:        pick[uint64](rng, 4, 32),
		snapshotEvery:     pick[uint64](rng, 100, 500, 10_000),
		epochInstructions: pick[uint64](rng, 50_000, 200_000),
		hashEvery:         pick[uint64](rng, 8, 32, 256),
		think:             pick[time.Duration](rng, 1, 10, 50) * time.Millisecond,
		chaos:             between(rng, 5*time.Second, 20*time.Second),
	}
	if byzantine {
		// A Byzantine run's disk faults are drawn apart
		// (withRecordDiskFaults), so that its other draws stay those of
		// the seed's earlier runs.
		p.nodes = byzantineNodes
		allowed &^= FaultStoreLoss | FaultDisk
	}
	p.skew = make([]time.Duration, p.nodes)
	for i := range p.skew {
		p.skew[i] = between(rng, -time.Second, time.Second)
	}
	use := func(kind FaultSet) bool { return allowed&kind != 0 && rng.IntN(3) > 0 }
	if use(FaultNetwork) {
		p.net.Drop = pick(rng, 0, 0.01, 0.05, 0.2)
		p.net.Duplicate = pick(rng, 0, 0.01, 0.05)
		p.net.MaxDelay = between(rng, time.Millisecond, 2*p.tick)
		p.net.MinDelay = between(rng, 0, p.net.MaxDelay)
	}
	if use(FaultPartition) {
		p.partitionEvery = between(rng, time.Second, 8*time.Second)
		p.partitionFor = between(rng, 100*time.Millisecond, 5*time.Second)
	}
	if use(FaultCrash) {
		p.crashEvery = between(rng, time.Second, 8*time.Second)
		p.downFor = between(rng, 10*time.Millisecond, 6*time.Second)
		if use(FaultStoreLoss) {
			p.storeLoss = pick(rng, 0.1, 0.3)
		}
	}
	if use(FaultDisk) {
		// Each disk fault is left out by one seed in four, so that seeds
		// also try them apart.
		some := func() bool { return rng.IntN(4) > 0 }
		p.drawWriteFaults(rng, some)
		if some() {
			p.snapshotCrash = pick(rng, 0.2, 0.5)
		}
		if some() {
			p.bitFlip = pick(rng, 0.1, 0.3)
		}
		p.diskDownFor = between(rng, 10*time.Millisecond, 3*time.Second)
		p.replaceAfter = between(rng, 100*time.Millisecond, 3*time.Second)
	}
	if use(FaultClock) {
		p.clockJumpEvery = between(rng, time.Second, 8*time.Second)
		p.clockJump = between(rng, 100*time.Millisecond, 5*time.Second)
	}
	return p
}

// drawWriteFaults draws the faults of a node's writes: deaths inside a
// write, failed fsyncs and full disks, each when some says so.
func (p *plan) drawWriteFaults(rng *rand.Rand, some func() bool) {
	if some() {
		p.writeCrashEvery = between(rng, time.Second, 8*time.Second)
	}
	if some() {
		p.writeErrorEvery = between(rng, time.Second, 8*time.Second)
	}
	if some() {
		p.fullEvery = between(rng, 2*time.Second, 10*time.Second)
		p.fullFor = between(rng, 10*time.Millisecond, 2*time.Second)
	}
}

func (p plan) String() string {
	ms := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	s := fmt.Sprintf("%d nodes, %d clients on %d keys (pipeline %d, think %v), tick %v, down after %v, window %d-%d, snapshot every %d, epoch %d, hash every %d; faults for %v:",
		p.nodes, p.clients, p.keys, p.pipeline, p.think, p.tick, p.downAfter, p.sealWindow, p.maxSealWindow, p.snapshotEvery, p.epochInstructions, p.hashEvery, ms(p.chaos))
	none := true
	if p.net != (memnet.Faults{}) {
		s += fmt.Sprintf(" drop %.0f%%, duplicate %.0f%%, delay %v-%v;", 100*p.net.Drop, 100*p.net.Duplicate, ms(p.net.MinDelay), ms(p.net.MaxDelay))
		none = false
	}
	if p.partitionEvery > 0 {
		s += fmt.Sprintf(" a partition every %v for up to %v;", ms(p.partitionEvery), ms(p.partitionFor))
		none = false
	}
	if p.crashEvery > 0 {
		s += fmt.Sprintf(" a crash every %v, down up to %v, store lost %.0f%%;", ms(p.crashEvery), ms(p.downFor), 100*p.storeLoss)
		none = false
	}
	if p.diskDownFor > 0 {
		var disk []string
		if p.writeCrashEvery > 0 {
			disk = append(disk, fmt.Sprintf("a write dies every %v", ms(p.writeCrashEvery)))
		}
		if p.writeErrorEvery > 0 {
			disk = append(disk, fmt.Sprintf("a write fails every %v", ms(p.writeErrorEvery)))
		}
		if p.fullEvery > 0 {
			disk = append(disk, fmt.Sprintf("a disk full every %v for up to %v", ms(p.fullEvery), ms(p.fullFor)))
		}
		if p.snapshotCrash > 0 {
			disk = append(disk, fmt.Sprintf("a snapshot write dies %.0f%%", 100*p.snapshotCrash))
		}
		if p.bitFlip > 0 {
			disk = append(disk, fmt.Sprintf("a bit flips in a stopped store %.0f%%, replaced after up to %v", 100*p.bitFlip, ms(p.replaceAfter)))
		}
		disk = append(disk, fmt.Sprintf("down up to %v", ms(p.diskDownFor)))
		s += " disk: " + strings.Join(disk, ", ") + ";"
		none = false
	}
	if p.clockJumpEvery > 0 {
		s += fmt.Sprintf(" a clock jumps every %v by up to %v;", ms(p.clockJumpEvery), ms(p.clockJump))
		none = false
	}
	if none {
		s += " none"
	}
	return strings.TrimSuffix(s, ";")
}

// chance is true on average once every mean of virtual time.
func (s *Sim) chance(mean time.Duration) bool {
	return mean > 0 && s.rng.Float64() < float64(stepLength)/float64(mean)
}

// injectFaults starts and ends partitions and crashes nodes, as the plan
// says; it runs every step of the chaos phase.
func (s *Sim) injectFaults() {
	pl := s.plan
	switch {
	case s.partitioned && s.now >= s.partitionEnds:
		s.heal()
	case !s.partitioned && s.chance(pl.partitionEvery):
		s.partition()
	}
	if s.chance(pl.crashEvery) {
		if n := s.anyUpNode(); n != nil {
			s.crash(n, "injected")
		}
	}
	if j := s.journal; j != nil && s.chance(j.plan.crashEvery) {
		if n := j.activePath(); n != nil {
			s.crash(n, "injected on the guest's active disk path")
		}
	}
	s.injectDiskFaults()
	s.jumpClocks()
}

// crash crashes n, to restart up to the plan's downFor later, with its
// store lost at the plan's rate.
func (s *Sim) crash(n *node, why string) {
	pl := s.plan
	n.crash(why)
	n.restartAt = s.now + between(s.rng, 0, pl.downFor)
	s.counts.Crashes++
	if s.rng.Float64() < pl.storeLoss && !s.anyRejoining(nil) && s.mayLoseStore() && !s.faulty(n) {
		n.disk = newDisk(n, true)
		if s.byz != nil {
			// Its key is kept; its incarnation only has to differ from
			// an earlier rejoin's.
			n.records = [][]byte{bft.RejoinRecord(uint64(s.wallStart + int64(s.now)))}
		}
		s.counts.StoreLosses++
		s.trace.note(s.now, n.id, "loses its store; it rejoins with an empty one")
	}
}

// anyUpNode is a node that is up, drawn at random; nil when none is.
func (s *Sim) anyUpNode() *node {
	up := s.upNodes()
	if len(up) == 0 {
		return nil
	}
	return up[s.rng.IntN(len(up))]
}

// jumpClocks makes a node's wall clock jump forward or backward, as the
// plan's rate says (NTP stepping it, a virtual machine resumed): its
// seals then carry the jumped time.
func (s *Sim) jumpClocks() {
	if !s.chance(s.plan.clockJumpEvery) {
		return
	}
	n := s.nodes[s.rng.IntN(len(s.nodes))]
	jump := between(s.rng, time.Millisecond, s.plan.clockJump)
	if s.rng.IntN(2) == 0 {
		jump = -jump
	}
	n.skew += jump
	if s.byz != nil {
		n.skew = min(max(n.skew, -maxByzantineSkew), maxByzantineSkew)
	}
	s.counts.ClockJumps++
	s.trace.note(s.now, n.id, "clock jumps %v (now %v off)", jump.Round(time.Millisecond), n.skew.Round(time.Millisecond))
}

// partition splits the nodes into two or three random groups.
func (s *Sim) partition() {
	groups := make([][]consensus.NodeID, 2+s.rng.IntN(2))
	s.group = map[consensus.NodeID]int{}
	for _, n := range s.nodes {
		g := s.rng.IntN(len(groups))
		groups[g] = append(groups[g], n.id)
		s.group[n.id] = g
	}
	s.net.Partition(groups...)
	s.partitioned = true
	s.partitionEnds = s.now + between(s.rng, stepLength, s.plan.partitionFor)
	s.counts.Partitions++
	s.trace.note(s.now, 0, "partition %v until %.3fs", groups, s.partitionEnds.Seconds())
}

func (s *Sim) heal() {
	s.net.Heal()
	s.partitioned = false
	s.group = nil
	s.trace.note(s.now, 0, "partition healed")
}

// anyRejoining reports whether a node's store, other than but's (nil
// for none), is still a rejoining one: a second lost store at the same
// time could lose committed entries, which no protocol can prevent
// (docs/consensus.md).
func (s *Sim) anyRejoining(but *node) bool {
	return slices.ContainsFunc(s.nodes, func(n *node) bool { return n != but && n.disk.rejoining })
}

// mayLoseStore reports whether one more node may lose its store, or have
// it damaged, now: a rejoining node catches up from a leader that a
// majority of the other nodes elected, and a node whose store is damaged
// is down until the operator replaces it, after any other rejoin.
func (s *Sim) mayLoseStore() bool {
	lost := 0
	for _, n := range s.nodes {
		if n.disk.rejoining || n.disk.damaged {
			lost++
		}
	}
	return lost < (len(s.nodes)-1)/2
}

// endFaults stops injecting: the network heals and turns reliable, disks
// have room and fail no more writes, and every node that is down restarts
// now.
func (s *Sim) endFaults() {
	if s.partitioned {
		s.heal()
	}
	st := s.net.Stats()
	s.counts.Dropped, s.counts.Duplicated, s.counts.Cut = st.Dropped, st.Duplicated, st.Cut
	if s.plan.net.MaxDelay > 0 {
		s.counts.Delayed = st.Sent - st.Dropped
	}
	_ = s.net.SetFaults(memnet.Faults{}) // the zero model is always valid
	s.faultsOver = true
	for _, n := range s.nodes {
		n.disk.heal()
		if !n.up() {
			n.restartAt = s.now
		}
	}
	s.trace.note(s.now, 0, "faults end")
}
