package replica

import (
	"crypto/sha256"
	"fmt"

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
	own   map[uint64][32]byte // epoch → this replica's hash
	votes map[uint64]map[consensus.NodeID][32]byte
	// lastEpoch and lastHash are the most recent own checkpoint, for status.
	lastEpoch uint64
	lastHash  [32]byte
}

func (c *checkpoints) last() (uint64, [32]byte) { return c.lastEpoch, c.lastHash }

func (c *checkpoints) record(epoch uint64, h [32]byte) {
	if c.own == nil {
		c.own = map[uint64][32]byte{}
	}
	c.own[epoch] = h
	c.lastEpoch, c.lastHash = epoch, h
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
		c.votes = map[uint64]map[consensus.NodeID][32]byte{}
	}
	if c.votes[v.Epoch] == nil {
		c.votes[v.Epoch] = map[consensus.NodeID][32]byte{}
	}
	c.votes[v.Epoch][v.Node] = v.Hash
	dropOldest(c.votes)
}

// verdict returns the hash a quorum of members agrees on for epoch, if any.
func (c *checkpoints) verdict(epoch uint64, members int) ([32]byte, bool) {
	count := map[[32]byte]int{}
	for _, h := range c.votes[epoch] {
		count[h]++
		if count[h] > members/2 {
			return h, true
		}
	}
	return [32]byte{}, false
}

// forget drops everything about a judged epoch.
func (c *checkpoints) forget(epoch uint64) {
	delete(c.votes, epoch)
	delete(c.own, epoch)
}

// stateHash is the digest of all replicated state: the guest process
// (registers, memory, kernel) and the world around it.
func (r *Replica) stateHash() ([32]byte, error) {
	p, err := r.proc.StateHash()
	if err != nil {
		return [32]byte{}, fmt.Errorf("state hash: %w", err)
	}
	w, err := r.world.encode()
	if err != nil {
		return [32]byte{}, fmt.Errorf("state hash: %w", err)
	}
	h := sha256.New()
	h.Write(p[:])
	h.Write(w)
	var sum [32]byte
	h.Sum(sum[:0])
	return sum, nil
}

// checkpoint hashes the state at the end of every K-th epoch and proposes
// the hash, so the replicas can compare notes through the log.
func (r *Replica) checkpoint() {
	k := r.boot.HashEvery
	if k == 0 || r.epoch%k != 0 {
		return
	}
	h, err := r.stateHash()
	if err != nil {
		r.stop(err)
		return
	}
	r.checks.record(r.epoch, h)
	r.proposals = append(r.proposals, entry.StateHash{Node: r.cfg.Self, Epoch: r.epoch, Hash: h})
}

// judge compares the votes delivered for an epoch with this replica's own
// hash, once a quorum agrees. A replica outvoted by a quorum has diverged:
// it stops, turning a silent fault into a crash the others mask.
func (r *Replica) judge(epoch uint64) {
	quorum, ok := r.checks.verdict(epoch, len(r.boot.Members))
	if !ok {
		return
	}
	own, known := r.checks.own[epoch]
	r.checks.forget(epoch)
	if known && own != quorum {
		r.stop(fmt.Errorf("%w at epoch %d: this replica's state hash is %x, a quorum has %x",
			ErrDiverged, epoch, own[:8], quorum[:8]))
	}
}

// finalCheckpoint records the state hash at the guest's exit, so that
// operators can compare the replicas' final states. It is not proposed:
// nobody executes past this point to be judged.
func (r *Replica) finalCheckpoint() {
	h, err := r.stateHash()
	if err != nil {
		r.stop(err)
		return
	}
	r.checks.record(r.epoch, h)
}
