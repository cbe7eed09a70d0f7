package sim

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/outputs"
	"github.com/synodvm/synod/replica"
)

// The named invariants. Each violation names one, with the seed and the
// step it was found at.
const (
	// invLogAgreement: every node commits the same entry at each index.
	invLogAgreement = "log-agreement"
	// invStateHashes: replicas have the same state hash at the same epoch.
	invStateHashes = "state-hashes"
	// invDeliveries: replicas deliver the same entries at the same epochs
	// (the same delivered index at the end of each epoch).
	invDeliveries = "deliveries"
	// invOutputNode: an output is performed only by the node it names.
	invOutputNode = "output-node"
	// invOutputOnce: an output is performed at most once.
	invOutputOnce = "output-once"
	// invReplies: every reply is well formed and answers a request.
	invReplies = "replies"
	// invLinearizable: the clients' history is linearizable.
	invLinearizable = "linearizable"
	// invLostWrite: no acknowledged write is lost.
	invLostWrite = "no-lost-write"
	// invLiveness: once faults stop, every request is answered, and every
	// node serves again, within livenessBound.
	invLiveness = "liveness"
	// invReplicaRuns, invRaftRuns, invSnapshots, invEntries: without
	// faults that cause them, no replica stops, no raft core fails,
	// every snapshot restores and every committed entry decodes.
	invReplicaRuns = "replica-runs"
	invRaftRuns    = "raft-runs"
	invSnapshots   = "snapshots-restore"
	invEntries     = "entries-decode"
	// invWriteStops: a raft core whose store failed to write entries, a
	// snapshot or the end of a rejoin stops, rather than go on as if the
	// write had happened.
	invWriteStops = "failed-write-stops"
	// invDamageRefused: a store in which a bit flipped while its node was
	// down is refused at the next start.
	invDamageRefused = "damaged-store-refused"
	// invGuestClock: the guest's realtime clock never goes backwards,
	// whatever the nodes' clocks do.
	invGuestClock = "guest-clock-monotone"
	// invCertified: in a Byzantine run, every output performed that
	// needs a certificate has one: f+1 members' valid signatures over
	// it, and it is the output the correct replicas computed.
	invCertified = "output-certified"
	// invOutputsAgree: in a Byzantine run, the correct replicas compute
	// the same output at each sequence number.
	invOutputsAgree = "outputs-agree"
)

// livenessBound is how long after the faults stop a request may wait for
// its answer: a failover, a node declared down and up again, and a
// restarted node catching up all fit well within it.
const livenessBound = 20 * time.Second

// Violation is one invariant found broken.
type Violation struct {
	Invariant string
	Seed      uint64
	Step      uint64
	At        time.Duration // virtual time
	Detail    string
}

func (v Violation) Error() string {
	return fmt.Sprintf("seed %d, step %d (%.3fs): %s: %s", v.Seed, v.Step, v.At.Seconds(), v.Invariant, v.Detail)
}

// violate records a violation; the run stops at the end of the step.
func (s *Sim) violate(invariant, format string, args ...any) {
	v := Violation{Invariant: invariant, Seed: s.opts.Seed, Step: s.steps, At: s.now, Detail: fmt.Sprintf(format, args...)}
	s.trace.note(s.now, 0, "VIOLATION %s: %s", invariant, v.Detail)
	s.violations = append(s.violations, v)
}

// checks holds what the invariants compare across nodes and over time.
type checks struct {
	s *Sim
	// committed is the digest of the entry committed at each index.
	committed map[uint64]uint64
	// hashes is the first state hash recorded at each checkpoint epoch,
	// and by whom; hashChecked the last checkpoint checked per node.
	hashes      map[uint64]nodeHash
	hashChecked map[consensus.NodeID]uint64
	// delivered is the delivered index at the end of each epoch.
	delivered map[uint64]uint64
	// performedBy is the node that performed each output, by sequence.
	performedBy map[uint64]consensus.NodeID
	// guestClock holds readings of the guest's realtime clock, sorted by
	// where in the guest's history they were taken; guestClockUnreadable
	// is set when a replica's snapshot did not give one.
	guestClock           []guestClockReading
	guestClockUnreadable bool
	// outputs is, in a Byzantine run, the digest of the output the
	// correct replicas computed at each sequence number.
	outputs map[uint64][32]byte
}

type nodeHash struct {
	node consensus.NodeID
	hash [32]byte
}

func newChecks(s *Sim) checks {
	return checks{
		s:           s,
		committed:   map[uint64]uint64{},
		hashes:      map[uint64]nodeHash{},
		hashChecked: map[consensus.NodeID]uint64{},
		delivered:   map[uint64]uint64{},
		performedBy: map[uint64]consensus.NodeID{},
		outputs:     map[uint64][32]byte{},
	}
}

// commit checks that index holds the same entry on every node.
func (c *checks) commit(n *node, index uint64, data []byte) {
	if c.s.faulty(n) {
		return
	}
	h := fnv.New64a()
	h.Write(data)
	sum := h.Sum64()
	if first, ok := c.committed[index]; ok && first != sum {
		c.s.violate(invLogAgreement, "node %d committed a different entry at index %d than another node", n.id, index)
	}
	c.committed[index] = sum
}

// afterStep checks the replica of n after one Step: its newest state hash
// against the others' at that epoch, and, when it finished an epoch, the
// index delivered at its end.
func (c *checks) afterStep(n *node, progress replica.Progress) {
	if c.s.faulty(n) {
		return
	}
	st := n.p.rep.Status()
	if st.LastHashAt != 0 && st.LastHashAt != c.hashChecked[n.id] {
		c.hashChecked[n.id] = st.LastHashAt
		first, ok := c.hashes[st.LastHashAt]
		switch {
		case !ok:
			c.hashes[st.LastHashAt] = nodeHash{n.id, st.LastHash}
		case first.hash != st.LastHash:
			c.s.violate(invStateHashes, "at epoch %d node %d has state hash %x, node %d had %x",
				st.LastHashAt, n.id, st.LastHash[:8], first.node, first.hash[:8])
		}
	}
	if progress != replica.Ran {
		return
	}
	ended := st.Epoch - 1
	if first, ok := c.delivered[ended]; ok && first != st.Delivered {
		c.s.violate(invDeliveries, "at the end of epoch %d node %d had delivered through index %d, another node through %d",
			ended, n.id, st.Delivered, first)
	}
	c.delivered[ended] = st.Delivered
}

// performing checks that the output a device of n is about to act on,
// for connection conn, is n's to perform.
func (c *checks) performing(n *node, conn entry.ConnID) {
	o := n.p.routing
	if o.Node != n.id || conn.Node != n.id {
		c.s.violate(invOutputNode, "node %d performs output #%d (%v), addressed to node %d", n.id, o.Seq, o.Action, o.Node)
	}
}

// performed records that n's device acted on a live connection for the
// output being routed.
func (c *checks) performed(n *node) {
	o := n.p.routing
	if by, ok := c.performedBy[o.Seq]; ok {
		c.s.violate(invOutputOnce, "output #%d (%v) performed by node %d, and again by node %d", o.Seq, o.Action, by, n.id)
	}
	c.performedBy[o.Seq] = n.id
}

// computed records, in a Byzantine run, the output a correct replica
// computed, and checks it against the other correct replicas'.
func (c *checks) computed(n *node, o outputs.Output) {
	if c.s.byz == nil || c.s.faulty(n) {
		return
	}
	d := outputs.Digest(o)
	if first, ok := c.outputs[o.Seq]; ok && first != d {
		c.s.violate(invOutputsAgree, "node %d computed output #%d (%v) unlike another correct replica", n.id, o.Seq, o.Action)
	}
	c.outputs[o.Seq] = d
}

// performs is called as n's router performs o, with its certificate: it
// tells the output checks which output the devices act on, and in a
// Byzantine run checks the certificate against the members' keys, as
// synod proxy and the disk server do, and the output against what the
// correct replicas computed.
func (c *checks) performs(n *node, o outputs.Output, cert outputs.Certificate) {
	n.p.routing = o
	s := c.s
	if s.byz == nil || !outputs.NeedsCertificate(o.Action) {
		return
	}
	if err := outputs.Verify(s.clusterID(), s.memberKeys, o, cert); err != nil {
		s.byzCounts.Uncertified++
		s.violate(invCertified, "node %d performs output #%d (%v) without a certificate: %v", n.id, o.Seq, o.Action, err)
		return
	}
	if want, ok := c.outputs[o.Seq]; ok && want != outputs.Digest(o) {
		s.byzCounts.Uncertified++
		s.violate(invCertified, "node %d performs output #%d (%v), certified, but not the one the correct replicas computed", n.id, o.Seq, o.Action)
		return
	}
	s.byzCounts.Certified++
}

// guestClockEvery is how often, in virtual time, the guest clock of one
// replica is read, the replicas in turn. A reading costs a snapshot of
// the replica (guestRealtime), about a millisecond.
const guestClockEvery = 250 * time.Millisecond

// guestClockReading is the guest's realtime clock as a node's replica
// read it, and where in the guest's history: every replica goes through
// the same history, in which the instructions executed and the log index
// delivered only grow, so readings of all replicas, and of one replica
// before and after a restart or a restored snapshot, are comparable.
type guestClockReading struct {
	instructions, delivered uint64
	realtime                int64
	node                    consensus.NodeID
}

func (r guestClockReading) String() string {
	return fmt.Sprintf("%d ns on node %d (instruction %d, delivered %d)", r.realtime, r.node, r.instructions, r.delivered)
}

func compareGuestHistory(a, b guestClockReading) int {
	if c := cmp.Compare(a.instructions, b.instructions); c != 0 {
		return c
	}
	return cmp.Compare(a.delivered, b.delivered)
}

// sampleGuestClock reads the guest clock of the next replica in turn,
// every guestClockEvery, and checks it against the readings taken before
// and after it in the guest's history. The replica shows its guest's
// clock only inside its snapshots: if guestRealtime cannot read them, the
// check is off for the run, the trace says so, and TestGuestClock fails.
func (s *Sim) sampleGuestClock() {
	if s.now%guestClockEvery != 0 || s.checks.guestClockUnreadable {
		return
	}
	n := s.nodes[int(s.now/guestClockEvery)%len(s.nodes)]
	if !n.up() {
		return
	}
	st := n.p.rep.Status()
	if !st.Booted {
		return
	}
	snap, _, err := n.p.rep.Snapshot()
	var realtime int64
	if err == nil {
		realtime, err = guestRealtime(snap, st.Instructions)
	}
	if err != nil {
		s.checks.guestClockUnreadable = true
		s.trace.note(s.now, n.id, "cannot read the guest clock, which is not checked from now on: %v", err)
		return
	}
	s.checks.guestClockReading(guestClockReading{st.Instructions, st.Delivered, realtime, n.id})
}

// guestClockReading checks that r is no earlier than the reading before
// it in the guest's history, and no later than the one after it.
func (c *checks) guestClockReading(r guestClockReading) {
	i, found := slices.BinarySearchFunc(c.guestClock, r, compareGuestHistory)
	if i > 0 && c.guestClock[i-1].realtime > r.realtime {
		c.s.violate(invGuestClock, "the guest clock went back: %v, after %v", r, c.guestClock[i-1])
	}
	if i < len(c.guestClock) && c.guestClock[i].realtime < r.realtime {
		c.s.violate(invGuestClock, "the guest clock went back: %v, after %v", c.guestClock[i], r)
	}
	if !found {
		c.guestClock = slices.Insert(c.guestClock, i, r)
	}
}

// guestRealtime reads the guest's realtime clock, at the given count of
// instructions executed, out of a replica snapshot: the replica shows the
// clock nowhere else.
func guestRealtime(snapshot []byte, instructions uint64) (int64, error) {
	clock, err := replica.SnapshotClock(snapshot, instructions)
	return clock.Realtime, err
}
