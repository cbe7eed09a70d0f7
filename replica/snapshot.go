package replica

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/machine/canon"
	"github.com/synodvm/synod/machine/linux"
)

// snapshotMagic starts every replica snapshot; the digit is the format
// version of the snapshot and of the header and world encodings in it,
// bumped on any incompatible change. (Version 3 encoded them as JSON;
// version 4 had no file tree, version 5 no pending entries, version 6 no
// random draws or connection serials.)
const snapshotMagic = "synod-replica-7\n"

// header is the replica's own bookkeeping in a snapshot. header() and
// setHeader mirror each other; TestHeaderRestoresEveryField fails when a
// field is added to one and not the other.
type header struct {
	Boot          entry.Boot
	Epoch         uint64
	Ran           uint64
	Ended         bool
	Wait          linux.WaitSet
	Delivered     uint64
	SealedThrough uint64
	Pending       []pendingEntry
	Own           map[uint64]entry.StateHash
	Votes         map[uint64]map[consensus.NodeID]entry.StateHash
	LastEpoch     uint64
	LastHash      [32]byte
	// LastHashTime is the guest time of the last checkpoint, from which
	// the next one is due (hashAtLeastEvery).
	LastHashTime int64
}

// Frozen is the replicated state at one instant (Freeze), to be encoded
// by Encode on any goroutine while the replica runs on: the bookkeeping
// and the world are already encoded, the process is an image that shares
// its memory with the running process until the process writes it.
type Frozen struct {
	header, world []byte
	proc          *linux.Image
	// Index is the last log index given to the replica, which the state
	// covers: the entries not yet delivered to the guest are part of it.
	Index uint64
}

// Freeze takes the whole replicated state as of the last log index given
// to the replica: the log after that index, replayed into the restored
// replica, brings it to where this one is. It costs milliseconds however
// large the guest's memory. Outputs not yet collected are not included:
// collect them first.
//
// Taken while Step waits for the log, the state is a function of the
// entries given alone, the same on every correct replica: every epoch
// they seal has run and the next has run to its end
// (NodeConfig.SnapshotsAtRest).
func (r *Replica) Freeze() (*Frozen, error) {
	if r.proc == nil {
		return nil, errors.New("snapshot: machine not booted")
	}
	h := r.header()
	enc := canon.NewEncoder(nil)
	codeHeader(enc, &h)
	return &Frozen{header: enc.Bytes(), world: r.world.encode(), proc: r.proc.Freeze(), Index: r.given()}, nil
}

// given is the index of the last entry given to the replica.
func (r *Replica) given() uint64 {
	if len(r.pending) > 0 {
		return r.pending[len(r.pending)-1].Index
	}
	return r.delivered
}

func (r *Replica) header() header {
	return header{
		Boot: *r.boot, Epoch: r.epoch, Ran: r.ran, Ended: r.ended, Wait: r.wait,
		Delivered: r.delivered, SealedThrough: r.sealedThrough, Pending: r.pending,
		Own: r.checks.own, Votes: r.checks.votes, LastEpoch: r.checks.lastEpoch, LastHash: r.checks.lastHash,
		LastHashTime: r.checks.lastTime,
	}
}

// setHeader restores what header() records, and resets what follows
// from it.
func (r *Replica) setHeader(h header) {
	r.boot = &h.Boot
	r.epoch, r.ran, r.ended, r.wait = h.Epoch, h.Ran, h.Ended, h.Wait
	r.delivered, r.sealedThrough = h.Delivered, h.SealedThrough
	r.sched = schedule{highest: h.SealedThrough}
	for _, p := range h.Pending {
		r.sched.add(p.Index, p.Entry)
	}
	r.pending = h.Pending
	// agreed counts this replica's verdicts for operators, not state: it
	// goes on counting across a restore.
	r.checks = checkpoints{own: h.Own, votes: h.Votes, lastEpoch: h.LastEpoch, lastHash: h.LastHash, lastTime: h.LastHashTime,
		agreed: r.checks.agreed}
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

// Snapshot serializes the whole replicated state as of the last log index
// given to the replica (returned): Freeze and Encode at once.
func (r *Replica) Snapshot() ([]byte, uint64, error) {
	f, err := r.Freeze()
	if err != nil {
		return nil, 0, err
	}
	return f.Encode(), f.Index, nil
}

// Restore replaces all replicated state with a snapshot. Entries committed
// after the snapshot's index must then be fed again with Commit. The
// guest's memory refers to b's pages in place (linux.Restore): b must not
// change afterwards.
func (r *Replica) Restore(b []byte) error { return r.RestoreKeeping(b, nil) }

// RestoreKeeping is Restore from a snapshot outside the Go heap that stays
// valid while keep is reachable (consensus.Snapshot.Keep): the guest
// keeps it so while its memory may read the snapshot's pages.
func (r *Replica) RestoreKeeping(b []byte, keep any) error {
	sections, err := snapshotSections(b)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	var h header
	dec := canon.NewDecoder(sections[0])
	codeHeader(dec, &h)
	if err := dec.Finish(); err != nil {
		return fmt.Errorf("restore: header: %w", err)
	}
	if err := r.notGiven(h.Boot); err != nil {
		return fmt.Errorf("restore: the snapshot's boot entry %w", err)
	}
	w, err := decodeWorld(sections[1])
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	proc, err := linux.RestoreKeeping(sections[2], keep, w, r.log)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	proc.SetEngine(r.cfg.Engine)
	if r.world != nil {
		w.counts = r.world.counts
	}
	r.proc, r.world = proc, w
	r.setHeader(h)
	r.stopped = nil
	r.proposals = nil
	return nil
}

// snapshotSections splits a snapshot into its header, world and process
// sections. They are read in place: the process section holds the
// guest's memory, hundreds of megabytes that the restored guest reads in
// place.
func snapshotSections(b []byte) ([3][]byte, error) {
	var sections [3][]byte
	rest, ok := bytes.CutPrefix(b, []byte(snapshotMagic))
	if !ok {
		return sections, errors.New("not a replica snapshot of this version (bad magic)")
	}
	for i := range sections {
		if len(rest) < 8 {
			return sections, fmt.Errorf("section %d: %w", i, io.ErrUnexpectedEOF)
		}
		n := binary.BigEndian.Uint64(rest)
		rest = rest[8:]
		if n > uint64(len(rest)) {
			return sections, fmt.Errorf("section %d claims %d bytes, %d left", i, n, len(rest))
		}
		sections[i], rest = rest[:n], rest[n:]
	}
	if len(rest) != 0 {
		return sections, fmt.Errorf("%d bytes after the sections", len(rest))
	}
	return sections, nil
}

// SnapshotClock is the guest's clock after the given count of
// instructions, as the world in a replica snapshot keeps it (its base and
// rate): for checks, such as the simulator's, that see a replica's guest
// time only through its snapshots.
func SnapshotClock(snapshot []byte, instructions uint64) (linux.Clock, error) {
	sections, err := snapshotSections(snapshot)
	if err != nil {
		return linux.Clock{}, fmt.Errorf("snapshot clock: %w", err)
	}
	w, err := decodeWorld(sections[1])
	if err != nil {
		return linux.Clock{}, fmt.Errorf("snapshot clock: %w", err)
	}
	return w.Clock(instructions), nil
}

// The header's encoding (package canon), in the order of its declaration.
// The log entries in it are in their log encoding (package entry).

func codeHeader(c *canon.Codec, h *header) {
	codeEntry(c, &h.Boot)
	canon.Uint64(c, &h.Epoch)
	canon.Uint64(c, &h.Ran)
	canon.Bool(c, &h.Ended)
	codeWaitSet(c, &h.Wait)
	canon.Uint64(c, &h.Delivered)
	canon.Uint64(c, &h.SealedThrough)
	canon.Slice(c, &h.Pending, func(c *canon.Codec, p *pendingEntry) {
		canon.Uint64(c, &p.Index)
		codeLogEntry(c, &p.Entry)
	})
	canon.Map(c, &h.Own, canon.Uint64, codeEntry)
	canon.Map(c, &h.Votes, canon.Uint64, func(c *canon.Codec, votes *map[consensus.NodeID]entry.StateHash) {
		canon.Map(c, votes, canon.Uint64, codeEntry)
	})
	canon.Uint64(c, &h.LastEpoch)
	canon.Fixed(c, h.LastHash[:])
	canon.Int64(c, &h.LastHashTime)
}

func codeWaitSet(c *canon.Codec, w *linux.WaitSet) {
	canon.Int64(c, &w.Deadline)
	canon.Bool(c, &w.HasDeadline)
	canon.Slice(c, &w.Handles, func(c *canon.Codec, r *linux.PollRequest) {
		canon.Uint32(c, &r.Handle)
		canon.Uint16(c, &r.Events)
	})
	canon.Bool(c, &w.Random)
}

// codeLogEntry codes any log entry as codeEntry does, and a nil one (an
// entry that did not decode) as no bytes.
func codeLogEntry(c *canon.Codec, e *entry.Entry) {
	none := !c.Decoding() && *e == nil
	canon.Bool(c, &none)
	if none {
		*e = nil
		return
	}
	codeEntry(c, e)
}

// codeEntry codes a log entry of type E as the bytes entry.Encode makes.
func codeEntry[E entry.Entry](c *canon.Codec, e *E) {
	var b []byte
	if !c.Decoding() {
		b = entry.Encode(*e)
	}
	canon.Bytes(c, &b)
	if !c.Decoding() {
		return
	}
	decoded, err := entry.Decode(b)
	if err != nil {
		c.Fail("%w", err)
		return
	}
	v, ok := decoded.(E)
	if !ok {
		c.Fail("a %s entry where a %T belongs", decoded.Kind(), *e)
		return
	}
	// The log's decoder takes some encodings its encoder does not make
	// (a field's varint padded out, say); a snapshot has one encoding.
	if !bytes.Equal(entry.Encode(v), b) {
		c.Fail("a %s entry not in the form its encoder makes", decoded.Kind())
		return
	}
	*e = v
}
