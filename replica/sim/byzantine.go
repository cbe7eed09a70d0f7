package sim

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/outputs"
)

// A Byzantine run (Options.Byzantine) runs n = 3f+1 = 4 members of the
// Byzantine engine (consensus/bft) instead of raft cores, with outputs
// certified by f+1 members (outputs.Certifier), and makes one member
// faulty in one way, the Behaviour, for the whole run. The faulty member
// runs the same code as the others; what it does wrong is done to what
// it sends (engine messages rewritten and signed with its key, output
// signatures over wrong digests, proposals changed), to its clock, or by
// a second core under its identity.

// byzantineNodes is the size of a Byzantine run's cluster: the smallest
// that tolerates one faulty member.
const byzantineNodes = 4

// Behaviour is what the faulty member of a Byzantine run does wrong.
type Behaviour string

// The behaviours, one per fault the Byzantine engine and the output
// certificates must tolerate.
const (
	// Correct: no member is faulty.
	Correct Behaviour = "none"
	// Equivocate: the primary sends members 3 and 4 another batch than
	// the one it sends the others, for every sequence number.
	Equivocate Behaviour = "equivocation"
	// WrongOutputs: the member signs a wrong digest for every output of
	// the others.
	WrongOutputs Behaviour = "wrong-outputs"
	// WrongState: the member proposes wrong state hashes and signs
	// checkpoints of a wrong state.
	WrongState Behaviour = "wrong-state"
	// ForgedMessages: beside each message, the member sends a copy with
	// a flipped signature bit, a truncated copy, another member's
	// message as its own, and an old message of its own again.
	ForgedMessages Behaviour = "forged-messages"
	// ForgeInputs: the member types a write of its own into every other
	// node's client session it sees, as the next bytes of the stream;
	// in a journal seed it also sends the disk server a forged copy of
	// every disk write its replica computes (forgeDiskWrite).
	ForgeInputs Behaviour = "forge-inputs"
	// FutureClock: the member's clock is ten years ahead.
	FutureClock Behaviour = "future-clock"
	// Silent: the member sends nothing at all.
	Silent Behaviour = "silent"
	// Slow: the member sends everything, slowDelay late.
	Slow Behaviour = "slow"
	// GarbageFlood: beside each message, the member sends random bytes
	// and validly signed messages with random bodies.
	GarbageFlood Behaviour = "garbage-flood"
	// Twins: two processes run the member under one identity (its key):
	// each correct, together they sign conflicting messages.
	Twins Behaviour = "twins"
)

// Behaviours lists every behaviour, in the order a seed draws from.
var Behaviours = []Behaviour{
	Correct, Equivocate, WrongOutputs, WrongState, ForgedMessages, ForgeInputs,
	FutureClock, Silent, Slow, GarbageFlood, Twins,
}

// ParseBehaviour reads a behaviour's name.
func ParseBehaviour(s string) (Behaviour, error) {
	for _, b := range Behaviours {
		if string(b) == s {
			return b, nil
		}
	}
	names := make([]string, len(Behaviours))
	for i, b := range Behaviours {
		names[i] = string(b)
	}
	return "", fmt.Errorf("unknown behaviour %q (behaviours: %s)", s, strings.Join(names, ", "))
}

// Timings of the faulty behaviours.
const (
	// slowDelay is how late a slow member's messages go out: longer
	// than any request timeout the plans draw, so a slow primary is
	// replaced.
	slowDelay = 3 * time.Second
	// futureClockAhead is how far ahead a future-clock member's clock is.
	futureClockAhead = 10 * 365 * 24 * time.Hour
	// maxByzantineSkew bounds how far the correct members' clocks stray
	// from the run's, jumps included: a correct member whose clock runs
	// more than replica.MaxClockAhead ahead of the others has its
	// requests refused (docs/byzantine.md), which is not a fault the
	// cluster is meant to mask.
	maxByzantineSkew = time.Second
)

// byzantinePlan is what a Byzantine seed decides about its faulty member.
type byzantinePlan struct {
	behaviour Behaviour
	// faulty is the faulty member; 0 when none is.
	faulty consensus.NodeID
	// checkpointInterval is the engine's, short so that runs take many
	// checkpoints and lagging members take state.
	checkpointInterval uint64
}

// newByzantinePlan draws the faulty member's behaviour (unless forced is
// set) from a stream of its own, so that the rest of the plan is the
// same whatever the behaviour. A behaviour aimed at the primary is given
// member 1, the primary of the first view; any other, a member drawn.
func newByzantinePlan(seed uint64, forced Behaviour) byzantinePlan {
	rng := rand.New(rand.NewPCG(splitmix(seed+7), splitmix(seed+8)))
	p := byzantinePlan{behaviour: pick(rng, Behaviours...), checkpointInterval: pick[uint64](rng, 8, 16, 32)}
	if forced != "" {
		p.behaviour = forced
	}
	member := consensus.NodeID(1 + rng.IntN(byzantineNodes))
	switch p.behaviour {
	case Correct:
	case Equivocate, Silent, Slow, FutureClock, Twins:
		p.faulty = 1
	default:
		p.faulty = member
	}
	return p
}

func (p byzantinePlan) String() string {
	s := fmt.Sprintf("byzantine, checkpoint every %d", p.checkpointInterval)
	if p.faulty == 0 {
		return s + ", no faulty member"
	}
	return s + fmt.Sprintf(", member %d faulty: %s", p.faulty, p.behaviour)
}

// byzantineDiskDownAfter is how long, in a Byzantine run, a member may
// owe a disk completion before the others declare it down
// (replica.RuntimeConfig.DiskDownAfter): well past what a correct
// member's I/O takes here (a few milliseconds, a second more for a
// repeat after a cut connection, half a second a batch for a member
// that changed view alone and learns of decisions by asking), and short
// enough that a faulty member on the journal's path is passed over
// within the liveness bound.
const byzantineDiskDownAfter = 5 * time.Second

// diskDownAfter is the runtime's DiskDownAfter in this run: none in a
// raft run, whose members fail only by stopping.
func (s *Sim) diskDownAfter() time.Duration {
	if s.byz == nil {
		return 0
	}
	return byzantineDiskDownAfter
}

// memberKey is member id's ed25519 key in the run of seed.
func memberKey(seed uint64, id consensus.NodeID) ed25519.PrivateKey {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:], seed)
	binary.BigEndian.PutUint64(b[8:], uint64(id))
	k := sha256.Sum256(append([]byte("synod sim member key "), b[:]...))
	return ed25519.NewKeyFromSeed(k[:])
}

// faulty reports whether n is the run's faulty member.
func (s *Sim) faulty(n *node) bool {
	return s.byz != nil && s.byz.faulty == n.id
}

// clusterID is the cluster id the run's output signatures carry.
func (s *Sim) clusterID() string { return fmt.Sprintf("sim-%d", s.opts.Seed) }

// ByzantineCounts is what a Byzantine run counted.
type ByzantineCounts struct {
	// Certified counts the outputs performed with a certificate that
	// checks out: f+1 members' valid signatures over the output the
	// correct replicas computed.
	Certified uint64
	// Uncertified counts the outputs performed without one; each is also
	// a violation of output-certified.
	Uncertified uint64
	// Mismatched counts the signatures over another digest than their
	// target's own that the correct members' certifiers received.
	Mismatched uint64
	// Tampered counts the messages the faulty member rewrote or added.
	Tampered uint64
	// ForgedInputsDropped counts the inputs the replicas dropped because
	// a member proposed them in another's name (counted on every node).
	ForgedInputsDropped uint64
	// WritesRefused counts the writes the disk server of a journal seed
	// refused for want of a valid certificate.
	WritesRefused uint64
}

// Add sums two counts.
func (c ByzantineCounts) Add(o ByzantineCounts) ByzantineCounts {
	return ByzantineCounts{
		Certified: c.Certified + o.Certified, Uncertified: c.Uncertified + o.Uncertified,
		Mismatched: c.Mismatched + o.Mismatched, Tampered: c.Tampered + o.Tampered,
		ForgedInputsDropped: c.ForgedInputsDropped + o.ForgedInputsDropped,
		WritesRefused:       c.WritesRefused + o.WritesRefused,
	}
}

// correctNodes are the nodes that are not faulty: the ones clients use.
func (s *Sim) correctNodes() []*node {
	var correct []*node
	for _, n := range s.nodes {
		if !s.faulty(n) {
			correct = append(correct, n)
		}
	}
	return correct
}

// reachable is the members n's transport is connected to: those up and
// on its side of the partition, itself included.
func (s *Sim) reachable(n *node) []consensus.NodeID {
	var ids []consensus.NodeID
	for _, m := range s.nodes {
		if m.up() && (s.group == nil || s.group[m.id] == s.group[n.id]) {
			ids = append(ids, m.id)
		}
	}
	return ids
}

// mismatched is what the certifier of n, if it is a correct member that
// is up, counted of signatures over wrong digests.
func (n *node) mismatched() uint64 {
	if n.p == nil || n.p.router.Certify == nil || n.sim.faulty(n) {
		return 0
	}
	return n.p.router.Certify.Counts().Mismatched
}

// forgedWrite is what a member faulty with forge-inputs types into other
// nodes' client sessions: a write of a value no client writes, so that
// the history's checks see it if it ever runs.
func (s *Sim) forgedWrite() []byte {
	k, v := s.keys[0], "forged"
	return fmt.Appendf(nil, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(k), k, len(v), v)
}

// forgeInputs, on a member faulty with forge-inputs, proposes the forged
// write as the next bytes of every other node's client whose bytes just
// committed.
func (n *node) forgeInputs(e entry.Entry) {
	s := n.sim
	batch, ok := e.(entry.Inputs)
	if !s.faulty(n) || s.byz.behaviour != ForgeInputs || !ok {
		return
	}
	forged := entry.Inputs{Time: batch.Time}
	for _, in := range batch.Entries {
		if d, ok := in.(entry.ConnData); ok && d.Conn.Node != n.id {
			forged.Entries = append(forged.Entries, entry.ConnData{Conn: d.Conn, Offset: d.Offset + uint64(len(d.Data)), Data: s.forgedWrite()})
		}
	}
	if len(forged.Entries) > 0 {
		s.byzCounts.Tampered += uint64(len(forged.Entries))
		n.propose(forged)
	}
}

// forgeDiskWrite, on a member faulty with forge-inputs in a journal
// seed, sends the disk server, beside disk write o that its replica
// computed (for whichever node), a write of other bytes to the same place
// under the same sequence number, signed by itself alone: the server
// must refuse it, or the record it lands on is not the guest's
// (disk-records), and the guest's own write is answered from the
// exactly-once table without being applied.
func (n *node) forgeDiskWrite(o outputs.Output) {
	s := n.sim
	w, ok := o.Action.(outputs.DiskWrite)
	if !s.faulty(n) || s.byz.behaviour != ForgeInputs || s.journal == nil || !ok {
		return
	}
	data := make([]byte, len(w.Data))
	for i, b := range w.Data {
		data[i] = ^b
	}
	forged := outputs.Output{Seq: o.Seq, Node: n.id, Action: outputs.DiskWrite{Disk: w.Disk, Offset: w.Offset, Data: data}}
	cert := outputs.Certificate{outputs.SignOutput(s.clusterID(), n.id, memberKey(s.opts.Seed, n.id), forged)}
	s.byzCounts.Tampered++
	s.trace.note(s.now, n.id, "forges disk write #%d: %d bytes at %d", o.Seq, len(data), w.Offset)
	// On a connection of its own: the server's answer is for nobody.
	s.journal.server.send(diskMessage{conn: &diskConn{dev: n.p.disks}, o: forged, cert: outputs.AppendCertificate(nil, cert)})
}

// ByzantineTable writes the fault table of Byzantine runs: one line per
// behaviour, its runs added up. Uncertified outputs performed must be 0
// everywhere; the service was available in a run when no request of the
// clients (which use the correct members) waited past the liveness bound
// and every correct member served the final reads, or in a journal run
// when its guest finished (its acknowledgements reach one node's console,
// which may be the faulty member's).
func ByzantineTable(w io.Writer, results []Result) {
	type total struct {
		runs      int
		counts    ByzantineCounts
		available bool
	}
	totals := map[Behaviour]*total{}
	for _, r := range results {
		t := totals[r.Behaviour]
		if t == nil {
			t = &total{available: true}
			totals[r.Behaviour] = t
		}
		t.runs++
		t.counts = t.counts.Add(r.Byzantine)
		t.available = t.available && (r.Operations > 0 || r.GuestFinished) && !slices.ContainsFunc(r.Violations, func(v Violation) bool {
			return v.Invariant == invLiveness
		})
	}
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "BEHAVIOUR (SIMULATOR)\tRUNS\tCERTIFIED OUTPUTS\tUNCERTIFIED OUTPUTS PERFORMED\tSERVICE AVAILABLE\tMISMATCHED SIGNATURES\tTAMPERED MESSAGES\tFORGED INPUTS DROPPED\tDISK WRITES REFUSED")
	for _, b := range Behaviours {
		t := totals[b]
		if t == nil {
			continue
		}
		available := "yes"
		if !t.available {
			available = "NO"
		}
		c := t.counts
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%d\t%d\t%d\t%d\n", b, t.runs, c.Certified, c.Uncertified, available, c.Mismatched, c.Tampered, c.ForgedInputsDropped, c.WritesRefused)
	}
	tw.Flush()
}
