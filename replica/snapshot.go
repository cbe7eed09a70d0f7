package replica

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/machine/linux"
)

// snapshotMagic starts every replica snapshot; the digit is the format
// version, bumped on any incompatible change.
const snapshotMagic = "synod-replica-3\n"

// header is the replica's own bookkeeping in a snapshot.
type header struct {
	Boot          entry.Boot
	Epoch         uint64
	Ran           uint64
	Ended         bool
	Wait          linux.WaitSet
	Delivered     uint64
	SealedThrough uint64
	Own           map[uint64]entry.StateHash
	Votes         map[uint64]map[consensus.NodeID]entry.StateHash
	LastEpoch     uint64
	LastHash      [32]byte
}

// Frozen is the replicated state at one instant (Freeze), to be encoded
// by Encode on any goroutine while the replica runs on: the bookkeeping
// and the world are already encoded, the process is an image that shares
// its memory with the running process until the process writes it.
type Frozen struct {
	header, world []byte
	proc          *linux.Image
	// Index is the last delivered log index, which the state covers.
	Index uint64
}

// Freeze takes the whole replicated state as of the last delivered log
// index: the log after that index, replayed into the restored replica,
// brings it to where this one is. It costs milliseconds however large the
// guest's memory. Outputs not yet collected are not included: collect
// them first.
func (r *Replica) Freeze() (*Frozen, error) {
	if r.proc == nil {
		return nil, errors.New("snapshot: machine not booted")
	}
	h := header{
		Boot: *r.boot, Epoch: r.epoch, Ran: r.ran, Ended: r.ended, Wait: r.wait,
		Delivered: r.delivered, SealedThrough: r.sealedThrough,
		Own: r.checks.own, Votes: r.checks.votes, LastEpoch: r.checks.lastEpoch, LastHash: r.checks.lastHash,
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("snapshot header: %w", err)
	}
	wb, err := r.world.encode()
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	img, err := r.proc.Freeze()
	if err != nil {
		return nil, fmt.Errorf("snapshot process: %w", err)
	}
	return &Frozen{header: hb, world: wb, proc: img, Index: r.delivered}, nil
}

// Encode is the snapshot's bytes, in one allocation.
func (f *Frozen) Encode() []byte {
	b := make([]byte, 0, len(snapshotMagic)+3*8+len(f.header)+len(f.world)+f.proc.SizeBound())
	b = append(b, snapshotMagic...)
	for _, section := range [][]byte{f.header, f.world} {
		b = binary.BigEndian.AppendUint64(b, uint64(len(section)))
		b = append(b, section...)
	}
	lenAt := len(b)
	b = f.proc.AppendTo(binary.BigEndian.AppendUint64(b, 0))
	binary.BigEndian.PutUint64(b[lenAt:], uint64(len(b)-lenAt-8))
	return b
}

// Snapshot serializes the whole replicated state as of the last delivered
// log index (returned): Freeze and Encode at once.
func (r *Replica) Snapshot() ([]byte, uint64, error) {
	f, err := r.Freeze()
	if err != nil {
		return nil, 0, err
	}
	return f.Encode(), f.Index, nil
}

// Restore replaces all replicated state with a snapshot. Entries committed
// after the snapshot's index must then be fed again with Commit.
func (r *Replica) Restore(b []byte) error {
	rest, ok := bytes.CutPrefix(b, []byte(snapshotMagic))
	if !ok {
		return errors.New("restore: not a replica snapshot (bad magic)")
	}
	// The sections are read in place: the process section holds the
	// guest's memory, hundreds of megabytes that restoring copies once.
	var sections [3][]byte
	for i := range sections {
		if len(rest) < 8 {
			return fmt.Errorf("restore: section %d: %w", i, io.ErrUnexpectedEOF)
		}
		n := binary.BigEndian.Uint64(rest)
		rest = rest[8:]
		if n > uint64(len(rest)) {
			return fmt.Errorf("restore: section %d claims %d bytes, %d left", i, n, len(rest))
		}
		sections[i], rest = rest[:n], rest[n:]
	}
	var h header
	if err := json.Unmarshal(sections[0], &h); err != nil {
		return fmt.Errorf("restore: header: %w", err)
	}
	if h.Boot.GuestDigest != GuestDigest(r.cfg.Guest) {
		return fmt.Errorf("restore: snapshot is of guest %x, this node runs %x",
			h.Boot.GuestDigest[:8], GuestDigest(r.cfg.Guest))
	}
	w, err := decodeWorld(sections[1])
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	r.boot = &h.Boot
	proc, err := linux.Restore(sections[2], w, r.log)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	r.proc, r.world = proc, w
	r.epoch, r.ran, r.ended, r.wait = h.Epoch, h.Ran, h.Ended, h.Wait
	r.delivered, r.sealedThrough = h.Delivered, h.SealedThrough
	r.sched = schedule{highest: h.SealedThrough}
	r.checks = checkpoints{own: h.Own, votes: h.Votes, lastEpoch: h.LastEpoch, lastHash: h.LastHash}
	r.stopped = nil
	r.proposals = nil
	return nil
}
