package replica

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"time"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
)

// keepCheckpoints bounds how many of its own hashes a replica remembers
// while it waits for the others' votes on them.
const keepCheckpoints = 64

// checkpoints tracks this replica's state hashes and the votes of all
// replicas delivered through the log. Votes are delivered at the same point
// everywhere, so every correct replica judges a checkpoint at the same
// epoch; only the replica whose own hash differs stops.
type checkpoints struct {
	own   map[uint64]entry.StateHash // epoch → this replica's hash
	votes map[uint64]map[consensus.NodeID]entry.StateHash
	// lastEpoch and lastHash are the most recent own checkpoint, for status.
	lastEpoch uint64
	lastHash  [32]byte
	// lastTime is the guest's realtime clock at the last own checkpoint.
	lastTime int64
	// agreed counts the checkpoints a quorum judged equal to this
	// replica's own.
	agreed uint64
}

func (c *checkpoints) last() (uint64, [32]byte) { return c.lastEpoch, c.lastHash }

// record keeps the replica's own hash without its node id: the
// bookkeeping is replicated state in a snapshot, and must be the same on
// every replica.
func (c *checkpoints) record(h entry.StateHash) {
	h.Node = 0
	if c.own == nil {
		c.own = map[uint64]entry.StateHash{}
	}
	c.own[h.Epoch] = h
	c.lastEpoch, c.lastHash = h.Epoch, h.Hash
	dropOldest(c.own)
}

// dropOldest keeps a per-epoch map within keepCheckpoints entries; a
// checkpoint that old will never be judged (its votes are long delivered).
func dropOldest[V any](m map[uint64]V) {
	if len(m) <= keepCheckpoints {
		return
	}
	oldest := uint64(1<<64 - 1)
	for e := range m {
		oldest = min(oldest, e)
	}
	delete(m, oldest)
}

func (c *checkpoints) vote(v entry.StateHash) {
	if c.votes == nil {
		c.votes = map[uint64]map[consensus.NodeID]entry.StateHash{}
	}
	if c.votes[v.Epoch] == nil {
		c.votes[v.Epoch] = map[consensus.NodeID]entry.StateHash{}
	}
	c.votes[v.Epoch][v.Node] = v
	dropOldest(c.votes)
}

// verdict returns a vote whose hash a quorum of members agrees on for
// epoch, if any.
func (c *checkpoints) verdict(epoch uint64, members int) (entry.StateHash, bool) {
	count := map[[32]byte]int{}
	for _, v := range c.votes[epoch] {
		count[v.Hash]++
		if count[v.Hash] > members/2 {
			return v, true
		}
	}
	return entry.StateHash{}, false
}

// forget drops everything about a judged epoch.
func (c *checkpoints) forget(epoch uint64) {
	delete(c.votes, epoch)
	delete(c.own, epoch)
}

// stateParts names the parts of a state hash, in the order of
// entry.StateHash.Parts.
var stateParts = [...]string{"threads and kernel", "memory", "world"}

// stateHash is the digest of all replicated state, made of the hashes of
// its parts: the guest process (registers and kernel state; memory) and
// the world around it.
func (r *Replica) stateHash() entry.StateHash {
	threads, memory := r.proc.StateHashParts()
	parts := [][32]byte{threads, memory, sha256.Sum256(r.world.encode())}
	h := sha256.New()
	for _, p := range parts {
		h.Write(p[:])
	}
	sh := entry.StateHash{Node: r.cfg.Self, Epoch: r.epoch, Parts: parts}
	h.Sum(sh.Hash[:0])
	return sh
}

// differingParts names the parts of own that are not those of quorum.
func differingParts(own, quorum entry.StateHash) []string {
	var names []string
	for i, name := range stateParts {
		if i >= len(own.Parts) || i >= len(quorum.Parts) || own.Parts[i] != quorum.Parts[i] {
			names = append(names, name)
		}
	}
	return names
}

// hashAtLeastEvery is the guest time after which a non-empty epoch is a
// checkpoint even when its number is not a multiple of HashEvery, so that
// a quiet cluster's hashes stay recent enough for an operator to compare
// (synod status, the cluster page). Guest time is replicated state (seals
// carry it), so every replica decides alike.
const hashAtLeastEvery = int64(5 * time.Second)

// checkpoint hashes the state at the end of every K-th epoch, or of an
// epoch hashAtLeastEvery of guest time after the last checkpoint, and
// proposes the hash, so the replicas can compare notes through the log.
func (r *Replica) checkpoint() {
	instructions := r.proc.Instructions()
	if !r.hashDue(r.epoch, instructions) {
		return
	}
	h := r.stateHash()
	r.checks.record(h)
	r.checks.lastTime = r.world.Clock(instructions).Realtime
	r.proposals = append(r.proposals, h)
}

// hashDue reports whether the end of epoch, the guest having executed
// instructions by then, is a checkpoint.
func (r *Replica) hashDue(epoch, instructions uint64) bool {
	k := r.boot.HashEvery
	if k == 0 {
		return false
	}
	now := r.world.Clock(instructions).Realtime
	return epoch%k == 0 || now-r.checks.lastTime >= hashAtLeastEvery
}

// judge compares the votes delivered for an epoch with this replica's own
// hash, once a quorum agrees. A replica outvoted by a quorum has diverged:
// it stops, turning a silent fault into a crash the others mask, and says
// which part of its state differs.
func (r *Replica) judge(epoch uint64) {
	quorum, ok := r.checks.verdict(epoch, len(r.boot.Members))
	if !ok {
		return
	}
	own, known := r.checks.own[epoch]
	r.checks.forget(epoch)
	switch {
	case known && own.Hash != quorum.Hash:
		r.stop(fmt.Errorf("%w at epoch %d: this replica's state hash is %x, a quorum has %x; differing: %s",
			ErrDiverged, epoch, own.Hash[:8], quorum.Hash[:8], strings.Join(differingParts(own, quorum), ", ")))
	case known:
		r.checks.agreed++
	}
}

// finalCheckpoint records the state hash at the guest's exit, so that
// operators can compare the replicas' final states. It is not proposed:
// nobody executes past this point to be judged.
func (r *Replica) finalCheckpoint() {
	h := r.stateHash()
	r.checks.record(h)
}
