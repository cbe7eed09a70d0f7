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
const snapshotMagic = "synod-replica-2\n"

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

// Snapshot serializes the whole replicated state as of the last delivered
// log index (returned): the log after that index, replayed into the
// restored replica, brings it to where this one is. Outputs not yet
// collected are not included: collect them first.
func (r *Replica) Snapshot() ([]byte, uint64, error) {
	if r.proc == nil {
		return nil, 0, errors.New("snapshot: machine not booted")
	}
	h := header{
		Boot: *r.boot, Epoch: r.epoch, Ran: r.ran, Ended: r.ended, Wait: r.wait,
		Delivered: r.delivered, SealedThrough: r.sealedThrough,
		Own: r.checks.own, Votes: r.checks.votes, LastEpoch: r.checks.lastEpoch, LastHash: r.checks.lastHash,
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return nil, 0, fmt.Errorf("snapshot header: %w", err)
	}
	pb, err := r.proc.Snapshot()
	if err != nil {
		return nil, 0, fmt.Errorf("snapshot process: %w", err)
	}
	wb, err := r.world.encode()
	if err != nil {
		return nil, 0, fmt.Errorf("snapshot: %w", err)
	}
	var buf bytes.Buffer
	buf.WriteString(snapshotMagic)
	for _, section := range [][]byte{hb, wb, pb} {
		buf.Write(binary.BigEndian.AppendUint64(nil, uint64(len(section))))
		buf.Write(section)
	}
	return buf.Bytes(), r.delivered, nil
}

// Restore replaces all replicated state with a snapshot. Entries committed
// after the snapshot's index must then be fed again with Commit.
func (r *Replica) Restore(b []byte) error {
	rd := bytes.NewReader(b)
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(rd, magic); err != nil || string(magic) != snapshotMagic {
		return errors.New("restore: not a replica snapshot (bad magic)")
	}
	var sections [3][]byte
	for i := range sections {
		var n uint64
		if err := binary.Read(rd, binary.BigEndian, &n); err != nil {
			return fmt.Errorf("restore: section %d: %w", i, err)
		}
		if n > uint64(rd.Len()) {
			return fmt.Errorf("restore: section %d claims %d bytes, %d left", i, n, rd.Len())
		}
		sections[i] = make([]byte, n)
		if _, err := io.ReadFull(rd, sections[i]); err != nil {
			return fmt.Errorf("restore: section %d: %w", i, err)
		}
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
