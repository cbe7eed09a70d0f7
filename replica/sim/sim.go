package sim

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/memnet"
	"github.com/synodvm/synod/internal/signing"
)

// Options are what a run is given; everything else comes from Seed.
type Options struct {
	Seed uint64
	// Guest is the key-value guest (cmd/synod/guests/kvd/kvd).
	Guest []byte
	// Journal is the journal guest (cmd/synod/guests/journal/journal),
	// which the seeds of the journal workload run (journal.go).
	Journal []byte
	// Faults are the kinds of fault the run may inject (zero: none).
	Faults FaultSet
	// Tail is how many of the last events Result.Tail keeps (default 60).
	Tail int
	// Trace, if set, receives every event of the run, one per line.
	Trace io.Writer
	// Byzantine runs the Byzantine engine on 4 members, one of them
	// faulty as the seed draws (byzantine.go), with the key-value or
	// the journal workload.
	Byzantine bool
	// Behaviour, in a Byzantine run, is the faulty member's behaviour
	// instead of the one the seed draws.
	Behaviour Behaviour
}

// Result is what a run did and found.
type Result struct {
	Seed uint64
	// Plan describes what the seed chose: the cluster and its faults.
	Plan    string
	SimTime time.Duration
	Steps   uint64
	Events  uint64
	// TraceHash is the digest of every event: two runs of one seed have
	// the same.
	TraceHash uint64
	Faults    FaultCounts
	// Operations is how many client operations were answered, or in a
	// journal seed how many records the guest acknowledged.
	Operations int
	// GuestFinished is whether a journal seed's guest exited on every
	// correct node. Its acknowledgements go to one node's console, which
	// a faulty member may never perform, so Operations alone can miss it.
	GuestFinished bool
	// Failovers counts the journal guest's moves between disk paths,
	// SlowPaths those of them away from a path it found slow.
	Failovers, SlowPaths int
	Violations           []Violation
	// Tail is the last events of the run, oldest first.
	Tail []string
	// Behaviour is the faulty member's behaviour in a Byzantine run, and
	// Byzantine what the run counted of it; empty otherwise.
	Behaviour Behaviour
	Byzantine ByzantineCounts
}

// ReplayCommand is the command line that runs this seed again.
func (r Result) ReplayCommand(faults FaultSet) string {
	cmd := fmt.Sprintf("synod sim --seed %d", r.Seed)
	if faults != AllFaults {
		cmd += " --faults " + faults.String()
	}
	if r.Behaviour != "" {
		cmd += " --byzantine --behaviour " + string(r.Behaviour)
	}
	return cmd
}

// stepLength is the virtual time of one step of the run.
const stepLength = time.Millisecond

// Phases of a run after the chaos phase, in virtual time.
const (
	// workAfterFaults is how long clients go on issuing requests once
	// faults stop, before they finish and the final reads begin.
	workAfterFaults = 2 * time.Second
	// bootBound is how long the cluster may take to boot the guest and
	// serve it, faults or not: no run is longer than its chaos phase
	// plus this.
	bootBound = 60 * time.Second
)

// Sim is one run: a whole cluster on one goroutine, every choice drawn
// from one seeded generator, time virtual.
type Sim struct {
	opts Options
	plan plan
	// rng makes every choice of the run; raftRand is raft's randomness
	// (entropy.go), a stream of its own.
	rng, raftRand *rand.Rand
	now           time.Duration
	steps         uint64
	// wallStart is the Unix time the run's clock starts at.
	wallStart int64
	stamps    int64
	// final is the stamp at which the final reads began.
	final int64
	// owed tracks what each node owes the replicated state (owed.go).
	owed map[consensus.NodeID]*owedSince

	net     *memnet.Network
	nodes   []*node
	clients []*client
	keys    []string
	// journal is the journal workload; nil when the seed runs the
	// key-value guest and its clients.
	journal *journal
	// byz is a Byzantine run's plan for its faulty member, publicKeys
	// its members' keys (memberKeys expanded, to check certificates with),
	// byzCounts what it counted; byz is nil in a raft run.
	byz        *byzantinePlan
	publicKeys map[consensus.NodeID]ed25519.PublicKey
	memberKeys signing.Members
	byzCounts  ByzantineCounts

	partitioned   bool
	partitionEnds time.Duration
	// group is each node's side of the partition, while there is one.
	group map[consensus.NodeID]int
	// faultsOver is set once the chaos phase ends.
	faultsOver bool
	counts     FaultCounts

	trace      *trace
	history    history
	checks     checks
	violations []Violation
}

// Run runs one seed and reports what it found. An error means the run
// could not be set up; what it finds is in Result.Violations.
func Run(opts Options) (Result, error) {
	s, err := newSim(opts)
	if err != nil {
		return Result{}, err
	}
	s.run()
	return s.result(), nil
}

// newSim sets up a run: the plan, the cluster started, the clients.
func newSim(opts Options) (*Sim, error) {
	if len(opts.Guest) == 0 {
		return nil, errors.New("sim: no guest given")
	}
	if opts.Tail <= 0 {
		opts.Tail = 60
	}
	installEntropy()
	rng := rand.New(rand.NewPCG(splitmix(opts.Seed), splitmix(opts.Seed+1)))
	s := &Sim{
		opts:      opts,
		plan:      newPlan(rng, opts.Faults, opts.Byzantine),
		rng:       rng,
		raftRand:  rand.New(rand.NewPCG(splitmix(opts.Seed+2), splitmix(opts.Seed+3))),
		wallStart: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(),
		net:       memnet.New(splitmix(opts.Seed + 4)),
		trace:     newTrace(opts.Tail, opts.Trace),
	}
	// Drawn apart from the plan's generator, which then draws every
	// seed's faults as before the window could grow.
	s.plan.maxSealWindow = s.plan.sealWindow << (splitmix(opts.Seed+5) % 4)
	s.history.stamp = s.stamp
	s.checks = newChecks(s)
	if opts.Byzantine {
		s.plan = s.plan.withRecordDiskFaults(opts.Seed, opts.Faults)
		bp := newByzantinePlan(opts.Seed, opts.Behaviour)
		s.byz = &bp
		s.plan = s.plan.withRecordLoss(opts.Seed, opts.Faults, bp.behaviour)
		s.publicKeys = map[consensus.NodeID]ed25519.PublicKey{}
		for i := range s.plan.nodes {
			id := consensus.NodeID(i + 1)
			s.publicKeys[id] = memberKey(opts.Seed, id).Public().(ed25519.PublicKey)
		}
		var err error
		if s.memberKeys, err = signing.ExpandMembers(s.publicKeys); err != nil {
			return nil, fmt.Errorf("sim: seed %d: %w", opts.Seed, err)
		}
	}
	if jp, ok := newJournalPlan(opts.Seed, opts.Byzantine, s.plan.nodes, opts.Faults); ok {
		if len(opts.Journal) == 0 {
			return nil, fmt.Errorf("sim: seed %d runs the journal guest, and none was given", opts.Seed)
		}
		s.journal = newJournal(s, jp)
	}
	if err := s.setUp(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Sim) setUp() error {
	s.trace.note(0, 0, "seed %d: %v", s.opts.Seed, s.plan)
	if s.journal != nil {
		s.trace.note(0, 0, "workload: %v", s.journal.plan)
	}
	if s.byz != nil {
		s.trace.note(0, 0, "%v", *s.byz)
	}
	for i := range s.plan.keys {
		s.keys = append(s.keys, fmt.Sprintf("k%d", i))
	}
	for i := range s.plan.nodes {
		n := &node{
			id: consensus.NodeID(i + 1), sim: s,
			skew:  s.plan.skew[i],
			phase: time.Duration(s.rng.Int64N(int64(s.plan.tick/stepLength))) * stepLength,
		}
		n.disk = newDisk(n, false)
		s.nodes = append(s.nodes, n)
	}
	for _, n := range s.nodes {
		if err := n.start(); err != nil {
			return err
		}
	}
	if s.journal == nil { // the journal guest serves no clients
		serving := s.correctNodes()
		for i := range s.plan.clients {
			s.clients = append(s.clients, &client{
				id: i, sim: s, target: serving[i%len(serving)].id, pipeline: s.plan.pipeline,
			})
		}
	}
	return s.net.SetFaults(s.plan.net)
}

// run is the whole run: faults for the chaos phase, then a quiet phase in
// which every request must be answered, then final reads of every key
// through every node, then the checks of the history.
func (s *Sim) run() {
	for s.now < s.plan.chaos && s.ok() {
		s.injectFaults()
		s.step()
	}
	s.endFaults()
	faultsEnded := s.now
	if s.journal != nil {
		s.journal.finish(faultsEnded)
		return
	}
	for s.now < faultsEnded+workAfterFaults && s.ok() {
		s.step()
		s.checkAnswered(faultsEnded)
		s.checkOwed(faultsEnded)
	}
	for _, c := range s.clients {
		c.done = true
	}
	for s.ok() && !s.clientsIdle() {
		s.step()
		s.checkAnswered(faultsEnded)
		s.checkOwed(faultsEnded)
	}
	if s.ok() {
		s.finalReads(faultsEnded)
	}
	if s.ok() {
		s.checkHistory()
	}
}

// ok reports whether the run goes on: no violation yet, and within the
// bound on any run's length.
func (s *Sim) ok() bool {
	return len(s.violations) == 0 && s.now < s.plan.chaos+bootBound+livenessBound
}

// step advances the run by one step: the network, then every node in an
// order drawn for this step, then the clients.
func (s *Sim) step() {
	s.now += stepLength
	s.steps++
	s.net.Advance(stepLength)
	for _, i := range s.rng.Perm(len(s.nodes)) {
		n := s.nodes[i]
		switch {
		case n.up():
			n.step()
		case s.now >= n.restartAt:
			s.restart(n)
		}
	}
	for _, c := range s.clients {
		c.step()
	}
	if s.journal != nil {
		s.journal.server.step()
	}
	s.sampleGuestClock()
}

func (s *Sim) clientsIdle() bool {
	for _, c := range s.clients {
		if c.conn != nil {
			return false
		}
	}
	return true
}

// checkAnswered is the liveness check while clients work after the
// faults: no request waits longer than livenessBound past the faults'
// end or its own sending.
func (s *Sim) checkAnswered(faultsEnded time.Duration) {
	for _, c := range s.clients {
		if len(c.pending) > 0 && s.now-max(c.pending[0].sent, faultsEnded) > livenessBound {
			s.violate(invLiveness, "%v has waited %v for an answer on conn %d of node %d",
				c, s.now-max(c.pending[0].sent, faultsEnded), c.conn.id.Serial, c.conn.id.Node)
		}
	}
}

// finalReads reads every key through every node once the clients are
// done; every node must serve it within livenessBound.
func (s *Sim) finalReads(faultsEnded time.Duration) {
	s.final = s.stamp()
	serving := s.correctNodes()
	readers := make([]*client, len(serving))
	for i, n := range serving {
		readers[i] = &client{id: len(s.clients) + i, sim: s, target: n.id, reader: true}
	}
	s.trace.note(s.now, 0, "final reads")
	deadline := s.now + livenessBound
	for s.ok() {
		done := true
		for _, r := range readers {
			r.step()
			done = done && r.readDone
		}
		if done {
			return
		}
		if s.now >= deadline {
			for _, r := range readers {
				if !r.readDone {
					s.violate(invLiveness, "node %d did not serve a read of every key within %v of the faults' end", r.target, s.now-faultsEnded)
				}
			}
			return
		}
		s.step()
	}
}

// checkHistory runs the checks of the clients' whole history.
func (s *Sim) checkHistory() {
	ok, inconclusive := s.history.checkLinearizable()
	switch {
	case !ok:
		s.violate(invLinearizable, "the clients' history of %d operations is not linearizable", len(s.history.ops))
	case inconclusive:
		s.trace.note(s.now, 0, "linearizability check inconclusive after %v", linearizationBudget)
	}
	for _, lost := range s.history.lostWrites(s.final) {
		s.violate(invLostWrite, "%s", lost)
	}
}

func (s *Sim) result() Result {
	ops, finished, failovers, slow := s.history.acked, false, 0, 0
	if s.journal != nil {
		ops, finished, failovers, slow = len(s.journal.acked), s.journal.exited(), s.journal.failovers, s.journal.slowPaths
	}
	r := Result{
		Seed: s.opts.Seed, Plan: s.plan.String(), SimTime: s.now, Steps: s.steps,
		Events: s.trace.events, TraceHash: s.trace.sum(), Faults: s.counts,
		Operations: ops, GuestFinished: finished, Failovers: failovers, SlowPaths: slow, Violations: s.violations, Tail: s.trace.last(),
	}
	if s.journal != nil {
		r.Plan += "; " + s.journal.plan.String()
	}
	if s.byz != nil {
		r.Plan += "; " + s.byz.String()
		r.Behaviour = s.byz.behaviour
		r.Byzantine = s.byzCounts
		for _, n := range s.upNodes() {
			r.Byzantine.Mismatched += n.mismatched()
		}
	}
	return r
}

// splitmix scrambles a seed (SplitMix64's finaliser), so that seeds 1, 2,
// 3... start their generators far apart.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// raft runs f, a call into a raft core, with the run's raft randomness.
func (s *Sim) raft(f func()) { withEntropy(s.raftRand, f) }

// stamp is a number that orders the run's events: calls and answers.
func (s *Sim) stamp() int64 {
	s.stamps++
	return s.stamps
}

func (s *Sim) node(id consensus.NodeID) *node { return s.nodes[id-1] }

func (s *Sim) ids() []consensus.NodeID {
	ids := make([]consensus.NodeID, len(s.nodes))
	for i, n := range s.nodes {
		ids[i] = n.id
	}
	return ids
}

func (s *Sim) upNodes() []*node {
	var up []*node
	for _, n := range s.nodes {
		if n.up() {
			up = append(up, n)
		}
	}
	return up
}
