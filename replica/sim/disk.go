package sim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"slices"
	"strings"
	"syscall"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/memnet"
	"github.com/synodvm/synod/consensus/raftlog"
)

// A node's disk holds its raft store with the semantics of the real one
// (raftlog.BoltStore): each Save, SaveSnapshot and SetCaughtUp is one
// transaction, synced before it returns and atomic across a crash; a
// snapshot's data is a file of its own, written and synced before the
// transaction that points to it; every stored value carries a CRC-32C,
// and a store whose values fail it is refused when it opens, rather than
// read as if it were what the cluster agreed on. Bytes on the disk are
// never changed in place: a flipped bit replaces the value it is in, so
// no entry or snapshot already handed to raft changes under it.
//
// Its faults (FaultDisk), at the rates of the seed's plan:
//
//   - the process dies inside a write, before it is synced: the
//     transaction is lost whole (bbolt's commit is atomic), and a snapshot
//     file being written is left torn under its temporary name, or whole
//     but pointed to by nothing; the next open removes it, as the real
//     store removes the files a crash orphaned;
//   - a write fails (an fsync error, a full disk): the raft core must stop
//     the process without acknowledging it. After a failed fsync the
//     transaction may or may not be on the disk (bbolt cannot tell);
//     after ENOSPC it is not;
//   - a bit flips in the store of a node that is down: its next start
//     must refuse the store (damaged-store-refused), and the operator
//     replaces it as lost (synod node --rejoin).

// errDiskFault is wrapped by every error a disk fault causes, so that the
// raft core's stop it causes is told apart from a failure of the code.
var errDiskFault = errors.New("sim: disk fault")

// castagnoli is the CRC-32C the real store checks snapshot files with.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// The values are stored in the real store's forms (raftlog.Seal and the
// forms built on it), so that a flipped bit is refused as the real store
// refuses it.

func unsealUint64(v []byte, what string) (uint64, error) {
	b, err := raftlog.Unseal(v, what)
	if err != nil {
		return 0, err
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("%w: %s is %d bytes", raftlog.ErrCorruptStore, what, len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

func sealUint64(v uint64) []byte { return raftlog.Seal(binary.BigEndian.AppendUint64(nil, v)) }

func marshalSealed(m proto.Message) []byte {
	b, err := raftlog.MarshalSealed(m)
	if err != nil {
		panic(fmt.Sprintf("sim: marshal %T: %v", m, err)) // raft's own messages always marshal
	}
	return b
}

func encodeEntry(e *pb.Entry) []byte {
	b, err := raftlog.EncodeEntry(e)
	if err != nil {
		panic(fmt.Sprintf("sim: marshal entry %d: %v", e.GetIndex(), err))
	}
	return b
}

type entryID struct{ index, term uint64 }

// snapshotFile describes a snapshot's data file, as the store's record of
// it says: it is named after the snapshot's index, term and checksum.
type snapshotFile struct {
	index, term, size uint64
	crc               uint32
}

func (f snapshotFile) name() string {
	return fmt.Sprintf("snapshot-%016x-%016x-%08x.snap", f.index, f.term, f.crc)
}

func (f snapshotFile) record() []byte {
	b := binary.BigEndian.AppendUint64(nil, f.index)
	b = binary.BigEndian.AppendUint64(b, f.term)
	b = binary.BigEndian.AppendUint64(b, f.size)
	return raftlog.Seal(binary.BigEndian.AppendUint32(b, f.crc))
}

func readSnapshotRecord(v []byte) (snapshotFile, error) {
	if v == nil {
		return snapshotFile{}, nil
	}
	b, err := raftlog.Unseal(v, "snapshot file record")
	if err != nil {
		return snapshotFile{}, err
	}
	if len(b) != 28 {
		return snapshotFile{}, fmt.Errorf("%w: snapshot file record is %d bytes", raftlog.ErrCorruptStore, len(b))
	}
	return snapshotFile{
		index: binary.BigEndian.Uint64(b), term: binary.BigEndian.Uint64(b[8:]),
		size: binary.BigEndian.Uint64(b[16:]), crc: binary.BigEndian.Uint32(b[24:]),
	}, nil
}

// disk is a node's storage device: the store file and the snapshot data
// files beside it, as synced. It outlives the node's processes; each
// start opens a diskStore on it, as synod node opens its store.
type disk struct {
	n *node
	// The store file: bbolt's keys as plain fields, its values sealed
	// (nil: not set). entries holds the log from index first on.
	hardState, snapMeta, snapRecord, compacted, voteFloor []byte
	rejoining                                             bool
	first                                                 uint64
	entries                                               [][]byte
	// files are the snapshot data files by name: the one snapRecord names,
	// and any a crash left behind.
	files map[string][]byte

	// store is the running process's store, nil while the node is down.
	store *diskStore
	// Faults armed for the running process: its next write dies with it,
	// or fails. The disk is full until fullUntil.
	crashNextWrite, failNextWrite bool
	fullUntil                     time.Duration
	// damaged is set when a bit flipped, in flippedIn, while the node was
	// down: its next start must refuse the store. refused is set once one
	// did; the operator then replaces the store at replaceAt, and waiting
	// says he waits for another node to finish rejoining first.
	damaged, refused, waiting bool
	flippedIn                 string
	replaceAt                 time.Duration
}

// newDisk is a node's disk with an empty store, as synod init makes it;
// rejoining marks it as replacing a lost one (synod node --rejoin).
func newDisk(n *node, rejoining bool) *disk {
	return &disk{n: n, rejoining: rejoining, first: 1, files: map[string][]byte{}}
}

// open opens the store on the disk, checking every value as the real
// store does, so that a damaged store is refused now rather than read
// mid-run. The snapshot's data is checked against its checksum whenever
// it is read, the first time by the raft core as it starts.
func (d *disk) open() (*diskStore, error) {
	st, err := d.load()
	if err != nil {
		return nil, fmt.Errorf("store of node %d: %w", d.n.id, err)
	}
	current := ""
	if st.snapMeta.GetIndex() > 0 {
		current = st.snapFile.name()
	}
	for name := range d.files {
		if name != current {
			delete(d.files, name) // orphaned by a crash, or replaced
		}
	}
	d.store = st
	return st, nil
}

func (d *disk) load() (*diskStore, error) {
	st := &diskStore{d: d, rejoining: d.rejoining, hardState: &pb.HardState{}, snapMeta: &pb.SnapshotMetadata{}}
	var err error
	if d.voteFloor != nil {
		if st.voteFloor, err = unsealUint64(d.voteFloor, "vote floor"); err != nil {
			return nil, err
		}
	}
	if err := raftlog.UnmarshalSealed(d.hardState, st.hardState, "hard state"); err != nil {
		return nil, err
	}
	if err := raftlog.UnmarshalSealed(d.snapMeta, st.snapMeta, "snapshot metadata"); err != nil {
		return nil, err
	}
	st.snapMeta = pb.EnsureSnapshotMetadata(st.snapMeta)
	if st.snapFile, err = readSnapshotRecord(d.snapRecord); err != nil {
		return nil, err
	}
	if d.compacted != nil {
		b, err := raftlog.Unseal(d.compacted, "compaction marker")
		if err != nil {
			return nil, err
		}
		if len(b) != 16 {
			return nil, fmt.Errorf("%w: compaction marker is %d bytes", raftlog.ErrCorruptStore, len(b))
		}
		st.compacted = entryID{binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])}
	}
	if len(d.entries) > 0 && d.first != st.compacted.index+1 {
		return nil, fmt.Errorf("%w: the log starts at %d, after entry %d was compacted", raftlog.ErrCorruptStore, d.first, st.compacted.index)
	}
	for i, v := range d.entries {
		if _, err := raftlog.DecodeEntry(d.first+uint64(i), v); err != nil {
			return nil, err
		}
	}
	st.last = st.compacted.index + uint64(len(d.entries))
	if m := st.snapMeta; m.GetIndex() > 0 {
		f := st.snapFile
		data, ok := d.files[f.name()]
		switch {
		case f.index != m.GetIndex() || f.term != m.GetTerm():
			return nil, fmt.Errorf("%w: snapshot at index %d has no data file record", raftlog.ErrCorruptStore, m.GetIndex())
		case !ok:
			return nil, fmt.Errorf("%w: snapshot data file %s is missing", raftlog.ErrCorruptStore, f.name())
		case uint64(len(data)) != f.size:
			return nil, fmt.Errorf("%w: snapshot data file %s has %d bytes, not %d", raftlog.ErrCorruptStore, f.name(), len(data), f.size)
		}
	}
	return st, nil
}

// full reports whether the disk has no room for a write now.
func (d *disk) full() bool { return d.n.sim.now < d.fullUntil }

// close ends the running process's hold on the disk: its store, and the
// faults armed for it.
func (d *disk) close() {
	if d.store != nil {
		d.store.closed = true
		d.store = nil
	}
	d.crashNextWrite, d.failNextWrite = false, false
}

// heal ends the disk's faults but for damage already done: nothing armed,
// room for every write.
func (d *disk) heal() {
	d.crashNextWrite, d.failNextWrite, d.fullUntil = false, false, 0
}

// flipBit flips one bit of a stored value the store reads: the
// snapshot's data, a log entry, or the store's metadata. It says what it
// flipped, and false when the disk holds nothing to flip.
func (d *disk) flipBit(s *Sim) (string, bool) {
	var choices []string
	if f, err := readSnapshotRecord(d.snapRecord); err == nil && len(d.files[f.name()]) > 0 {
		choices = append(choices, "snapshot data file "+f.name())
	}
	if len(d.entries) > 0 {
		choices = append(choices, "log entry")
	}
	meta := map[string]*[]byte{
		"hard state": &d.hardState, "snapshot metadata": &d.snapMeta, "snapshot file record": &d.snapRecord,
		"compaction marker": &d.compacted, "vote floor": &d.voteFloor,
	}
	var metaSet []string
	for _, what := range slices.Sorted(maps.Keys(meta)) {
		if len(*meta[what]) > 0 {
			metaSet = append(metaSet, what)
		}
	}
	if len(metaSet) > 0 {
		choices = append(choices, "metadata")
	}
	if len(choices) == 0 {
		return "", false
	}
	what := choices[s.rng.IntN(len(choices))]
	switch what {
	case "log entry":
		i := s.rng.IntN(len(d.entries))
		d.entries[i] = flipped(s, d.entries[i])
		what = fmt.Sprintf("log entry %d", d.first+uint64(i))
	case "metadata":
		what = metaSet[s.rng.IntN(len(metaSet))]
		*meta[what] = flipped(s, *meta[what])
	default:
		name := strings.TrimPrefix(what, "snapshot data file ")
		d.files[name] = flipped(s, d.files[name])
	}
	d.damaged = true
	return what, true
}

// flipped is a copy of v with one bit, drawn at random, flipped.
func flipped(s *Sim, v []byte) []byte {
	v = slices.Clone(v)
	bit := s.rng.IntN(8 * len(v))
	v[bit/8] ^= 1 << (bit % 8)
	return v
}

// diskStore is the store one process has open on its node's disk
// (raftlog.Store): the state the real store caches from its file, and the
// writes, which reach the disk as the disk's faults decide.
type diskStore struct {
	d            *disk
	compacted    entryID // the last entry discarded; the log holds (compacted.index, last]
	last         uint64
	hardState    *pb.HardState
	snapMeta     *pb.SnapshotMetadata
	snapFile     snapshotFile
	rejoining    bool
	voteFloor    uint64
	closed, dead bool // dead: the process died inside a write
	// unstopped describes a write of entries or of a snapshot that failed
	// during the current raft call, which must stop the raft core.
	unstopped string
}

var _ raftlog.Store = (*diskStore)(nil)

// InitialState implements raft.Storage.
func (st *diskStore) InitialState() (*pb.HardState, *pb.ConfState, error) {
	return proto.Clone(st.hardState).(*pb.HardState), proto.Clone(pb.EnsureConfState(st.snapMeta.GetConfState())).(*pb.ConfState), nil
}

// FirstIndex implements raft.Storage.
func (st *diskStore) FirstIndex() (uint64, error) { return st.compacted.index + 1, nil }

// LastIndex implements raft.Storage.
func (st *diskStore) LastIndex() (uint64, error) { return st.last, nil }

// Term implements raft.Storage. It reads the term in front of the entry
// without checking the entry's checksum, as the real store does: every
// entry was checked when the store opened, and is again whenever it is
// read whole.
func (st *diskStore) Term(i uint64) (uint64, error) {
	switch {
	case i == st.compacted.index:
		return st.compacted.term, nil
	case i < st.compacted.index:
		return 0, raft.ErrCompacted
	case i > st.last:
		return 0, raft.ErrUnavailable
	}
	v := st.d.entries[i-st.d.first]
	if len(v) < raftlog.ChecksumSize+8 {
		return 0, fmt.Errorf("%w: log entry %d is truncated", raftlog.ErrCorruptStore, i)
	}
	return binary.BigEndian.Uint64(v[raftlog.ChecksumSize:]), nil
}

// Entries implements raft.Storage: entries [lo, hi), at least one, at most
// maxSize bytes in all, each checked against its checksum.
func (st *diskStore) Entries(lo, hi, maxSize uint64) ([]*pb.Entry, error) {
	switch {
	case lo <= st.compacted.index:
		return nil, raft.ErrCompacted
	case hi > st.last+1 || lo >= hi:
		return nil, fmt.Errorf("store of node %d: entries [%d,%d) requested, log holds (%d,%d]", st.d.n.id, lo, hi, st.compacted.index, st.last)
	}
	var out []*pb.Entry
	var size uint64
	for i := lo; i < hi; i++ {
		e, err := raftlog.DecodeEntry(i, st.d.entries[i-st.d.first])
		if err != nil {
			return nil, fmt.Errorf("store of node %d: %w", st.d.n.id, err)
		}
		size += uint64(proto.Size(e))
		if len(out) > 0 && size > maxSize {
			break
		}
		out = append(out, e)
	}
	return out, nil
}

// Snapshot implements raft.Storage. The data is read from its file and
// checked against its checksum each time.
func (st *diskStore) Snapshot() (*pb.Snapshot, error) {
	m, f := st.snapMeta, st.snapFile
	snap := &pb.Snapshot{Metadata: proto.Clone(m).(*pb.SnapshotMetadata)}
	if m.GetIndex() > 0 {
		data := st.d.files[f.name()]
		switch {
		case uint64(len(data)) != f.size:
			return nil, fmt.Errorf("store of node %d: %w: snapshot data file %s has %d bytes, not %d", st.d.n.id, raftlog.ErrCorruptStore, f.name(), len(data), f.size)
		case crc32.Checksum(data, castagnoli) != f.crc:
			return nil, fmt.Errorf("store of node %d: %w: snapshot data file %s (index %d) fails its checksum", st.d.n.id, raftlog.ErrCorruptStore, f.name(), f.index)
		}
		snap.Data = data
	}
	return pb.EnsureSnapshot(snap), nil
}

// Rejoin implements raftlog.Store.
func (st *diskStore) Rejoin() (bool, uint64) { return st.rejoining, st.voteFloor }

// Close implements raftlog.Store.
func (st *diskStore) Close() error {
	st.d.close()
	return nil
}

// writeFate is what the disk does with one write.
type writeFate uint8

const (
	synced writeFate = iota
	// diesInFile: the process dies while writing the snapshot's data file.
	diesInFile
	// diesBeforeSync: the process dies before the transaction is synced.
	diesBeforeSync
	// fsyncFails: the write fails at its fsync.
	fsyncFails
	// diskFull: ENOSPC, nothing written.
	diskFull
)

// fate decides what becomes of the write the process makes now; file
// says whether it writes a snapshot data file.
func (d *disk) fate(file bool) writeFate {
	s := d.n.sim
	dies := func() writeFate {
		if file && s.rng.IntN(2) == 0 {
			return diesInFile
		}
		return diesBeforeSync
	}
	switch {
	case d.full():
		return diskFull
	case d.crashNextWrite:
		d.crashNextWrite = false
		return dies()
	case d.failNextWrite:
		d.failNextWrite = false
		return fsyncFails
	case file && !s.faultsOver && s.plan.snapshotCrash > 0 && s.rng.Float64() < s.plan.snapshotCrash:
		return dies()
	}
	return synced
}

// usable refuses a write of a process that died or closed its store.
func (st *diskStore) usable(what string) error {
	switch {
	case st.dead:
		return fmt.Errorf("%w: store of node %d: %s after the process died", errDiskFault, st.d.n.id, what)
	case st.closed:
		return fmt.Errorf("store of node %d: %s on a closed store", st.d.n.id, what)
	}
	return nil
}

// die ends the process inside a write: nothing after this point of it
// happens (diesInWrite), and the raft core gets an error it stops on.
func (st *diskStore) die(what string, fate writeFate, install bool) error {
	st.dead = true
	s := st.d.n.sim
	s.counts.WriteCrashes++
	if install {
		s.counts.InstallCrashes++
	}
	how := "before the write is synced"
	if fate == diesInFile {
		s.counts.TornSnapshots++
		how = "while writing the snapshot data file, leaving it torn"
	}
	st.d.n.diesInWrite(fmt.Sprintf("dies inside %s, %s", what, how))
	return fmt.Errorf("%w: store of node %d: the process died inside %s", errDiskFault, st.d.n.id, what)
}

// failed is the error of a write that failed on the disk; mustStop says
// the raft core must stop on it: a write of entries or of a snapshot
// (which only persisting a Ready makes), or of the end of a rejoin.
func (st *diskStore) failed(what string, fate writeFate, mustStop bool) error {
	s := st.d.n.sim
	errno := syscall.ENOSPC
	if fate == fsyncFails {
		errno = syscall.EIO
		s.counts.WriteErrors++
	}
	s.trace.note(s.now, st.d.n.id, "%s fails: %v", what, errno)
	if mustStop {
		st.unstopped = fmt.Sprintf("%s: %v", what, errno)
	}
	return fmt.Errorf("%w: store of node %d: %s: %w", errDiskFault, st.d.n.id, what, errno)
}

// writeSnapshotFile writes a snapshot's data file as its fate says: the
// process may die while writing it (a torn file under its temporary name)
// or after (a whole file nothing points to yet); either is an orphan the
// next open removes.
func (st *diskStore) writeSnapshotFile(index, term uint64, data []byte, fate writeFate) snapshotFile {
	f := snapshotFile{index: index, term: term, size: uint64(len(data)), crc: crc32.Checksum(data, castagnoli)}
	if fate == diesInFile {
		st.d.files[f.name()+".tmp"] = slices.Clone(data[:st.d.n.sim.rng.IntN(len(data)+1)])
		return f
	}
	st.d.files[f.name()] = data
	return f
}

// Save implements raftlog.Store: a leader's snapshot (its data file
// first), then entries, then the hard state, in one transaction.
func (st *diskStore) Save(hs *pb.HardState, entries []*pb.Entry, snap *pb.Snapshot) error {
	const what = "save"
	if err := st.usable(what); err != nil {
		return err
	}
	hasSnap := snap != nil && !raft.IsEmptySnap(snap)
	next := *st
	if hasSnap {
		m := snap.GetMetadata()
		next.compacted = entryID{m.GetIndex(), m.GetTerm()}
		next.last = m.GetIndex()
		next.snapMeta = m
	}
	if len(entries) > 0 {
		first := entries[0].GetIndex()
		if first <= next.compacted.index || first > next.last+1 {
			return fmt.Errorf("store of node %d: save: append at %d to a log holding (%d,%d]", st.d.n.id, first, next.compacted.index, next.last)
		}
		next.last = entries[len(entries)-1].GetIndex()
	}
	if hs != nil {
		next.hardState = proto.Clone(hs).(*pb.HardState)
	}
	mustStop := hasSnap || len(entries) > 0
	fate := st.d.fate(hasSnap)
	if fate == diskFull {
		return st.failed(what, fate, mustStop)
	}
	if hasSnap {
		next.snapFile = st.writeSnapshotFile(next.compacted.index, next.compacted.term, snap.GetData(), fate)
	}
	switch fate {
	case diesInFile, diesBeforeSync:
		return st.die(what, fate, hasSnap)
	case fsyncFails:
		if st.d.n.sim.rng.IntN(2) == 0 {
			// Whether a transaction whose fsync failed reached the disk,
			// bbolt cannot tell.
			st.d.applySave(&next, entries, hasSnap)
		}
		return st.failed(what, fate, mustStop)
	}
	st.d.applySave(&next, entries, hasSnap)
	*st = next
	return nil
}

// applySave writes a Save's transaction, whose outcome is next, to the
// disk.
func (d *disk) applySave(next *diskStore, entries []*pb.Entry, hasSnap bool) {
	if hasSnap {
		d.snapMeta = marshalSealed(next.snapMeta)
		d.snapRecord = next.snapFile.record()
		d.compacted = raftlog.CompactedMarker(next.compacted.index, next.compacted.term)
		d.entries, d.first = nil, next.compacted.index+1
		d.dropOldSnapshotFiles(next.snapFile)
	}
	if len(entries) > 0 {
		keep := entries[0].GetIndex() - d.first
		d.entries = d.entries[:keep]
		for _, e := range entries {
			d.entries = append(d.entries, encodeEntry(e))
		}
	}
	if next.hardState != nil {
		d.hardState = marshalSealed(next.hardState)
	}
}

// dropOldSnapshotFiles removes every snapshot data file but current, once
// the store points to it.
func (d *disk) dropOldSnapshotFiles(current snapshotFile) {
	for name := range d.files {
		if name != current.name() {
			delete(d.files, name)
		}
	}
}

// SaveSnapshot implements raftlog.Store: the snapshot's data file, then a
// transaction that points to it and discards the entries through
// compactTo.
func (st *diskStore) SaveSnapshot(snap *pb.Snapshot, compactTo uint64) error {
	const what = "save snapshot"
	if err := st.usable(what); err != nil {
		return err
	}
	m := snap.GetMetadata()
	if m.GetIndex() <= st.snapMeta.GetIndex() || m.GetIndex() > st.last || compactTo > m.GetIndex() {
		return fmt.Errorf("store of node %d: snapshot at %d compacting to %d does not fit: last snapshot %d, log (%d,%d]",
			st.d.n.id, m.GetIndex(), compactTo, st.snapMeta.GetIndex(), st.compacted.index, st.last)
	}
	fate := st.d.fate(true)
	switch fate {
	case diskFull, fsyncFails:
		return st.failed(what, fate, false) // writing the data file failed: nothing points to it
	}
	file := st.writeSnapshotFile(m.GetIndex(), m.GetTerm(), snap.GetData(), fate)
	if fate != synced {
		return st.die(what, fate, false)
	}
	d := st.d
	d.snapMeta, d.snapRecord = marshalSealed(m), file.record()
	d.dropOldSnapshotFiles(file)
	st.snapMeta, st.snapFile = m, file
	if compactTo > st.compacted.index {
		term, err := st.Term(compactTo)
		if err != nil {
			return fmt.Errorf("store of node %d: save snapshot: term of %d: %w", d.n.id, compactTo, err)
		}
		st.compacted = entryID{compactTo, term}
		d.entries = slices.Clone(d.entries[compactTo+1-d.first:])
		d.first = compactTo + 1
		d.compacted = raftlog.CompactedMarker(st.compacted.index, st.compacted.term)
	}
	return nil
}

// SetCaughtUp implements raftlog.Store.
func (st *diskStore) SetCaughtUp(term uint64) error {
	const what = "record that the node caught up"
	if err := st.usable(what); err != nil {
		return err
	}
	fate := st.d.fate(false)
	switch fate {
	case diesBeforeSync:
		return st.die(what, fate, false)
	case diskFull:
		return st.failed(what, fate, true)
	case fsyncFails:
		if st.d.n.sim.rng.IntN(2) == 0 {
			st.d.rejoining, st.d.voteFloor = false, sealUint64(term)
		}
		return st.failed(what, fate, true)
	}
	st.d.rejoining, st.d.voteFloor = false, sealUint64(term)
	st.rejoining, st.voteFloor = false, term
	return nil
}

// processTransport is a process's transport: a process that died inside
// a write sends nothing more, though its raft core may go on for the rest
// of the call it died in.
type processTransport struct {
	*memnet.Endpoint
	p *process
}

func (t processTransport) Send(to consensus.NodeID, msg []byte) error {
	if t.p.failed != "" {
		return consensus.ErrUnreachable
	}
	return t.Endpoint.Send(to, msg)
}

func (t processTransport) SendSnapshot(to consensus.NodeID, head, body []byte) error {
	if t.p.failed != "" {
		return consensus.ErrUnreachable
	}
	return t.Endpoint.SendSnapshot(to, head, body)
}

// injectDiskFaults arms the disk faults the plan's rates call for: the
// next write of a node that is up dies with its process, or fails at its
// fsync; or a node's disk fills up for a while.
func (s *Sim) injectDiskFaults() {
	pl := s.plan
	if s.chance(pl.writeCrashEvery) {
		if n := s.anyUpNode(); n != nil {
			n.disk.crashNextWrite = true
		}
	}
	if s.chance(pl.writeErrorEvery) {
		if n := s.anyUpNode(); n != nil {
			n.disk.failNextWrite = true
		}
	}
	if s.chance(pl.fullEvery) {
		n := s.nodes[s.rng.IntN(len(s.nodes))]
		n.disk.fullUntil = s.now + between(s.rng, stepLength, pl.fullFor)
		s.counts.FullDisks++
		s.trace.note(s.now, n.id, "disk full until %.3fs", n.disk.fullUntil.Seconds())
	}
}

// damageWhileDown flips a bit in the store of n, which just stopped, at
// the plan's rate, as a failing disk may while the node is down.
func (s *Sim) damageWhileDown(n *node) {
	if s.faultsOver || s.plan.bitFlip == 0 || !s.mayLoseStore() || s.rng.Float64() >= s.plan.bitFlip {
		return
	}
	if what, ok := n.disk.flipBit(s); ok {
		n.disk.flippedIn = what
		s.counts.BitFlips++
		s.trace.note(s.now, n.id, "a bit flips in its stored %s", what)
	}
}

// diesInWrite ends the process at the point of a write it dies in:
// nothing of it happens after (raftCall, ready and processTransport look
// at p.failed). Its supervisor restarts it after up to diskDownFor.
func (n *node) diesInWrite(why string) {
	n.p.failed = why
	n.restartAt = n.sim.now + between(n.sim.rng, stepLength, n.sim.plan.diskDownFor)
}

// stopsOnFailedWrite stops the process whose raft core stopped, as it
// must, on a write its disk failed. Its supervisor restarts it after up to
// diskDownFor, with what the disk holds.
func (n *node) stopsOnFailedWrite(err error) {
	n.p.failed = "its raft core stopped on a failed write"
	n.disk.store.unstopped = ""
	n.restartAt = n.sim.now + between(n.sim.rng, stepLength, n.sim.plan.diskDownFor)
	n.sim.trace.note(n.sim.now, n.id, "raft core stops: %v", err)
}

// checkStoppedOnFailedWrite checks, after a raft call that did not fail,
// that no write of entries or of a snapshot failed during it: the core
// must not go on as if such a write had happened.
func (d *disk) checkStoppedOnFailedWrite(call string) {
	st := d.store
	if st == nil || st.unstopped == "" {
		return
	}
	d.n.sim.violate(invWriteStops, "node %d: %s: the raft core went on after its store failed: %s", d.n.id, call, st.unstopped)
	d.n.p.failed = "its raft core went on after a failed write"
}

// restart starts a node that is down once its time has come, as its
// supervisor does. A start that refuses a damaged store leaves the node
// down until the operator replaces the store as lost (synod node
// --rejoin), up to replaceAfter later, and only once no other node is
// rejoining: a second store replaced before the first has caught up could
// lose committed entries. A start that accepts a damaged store is a
// violation.
func (s *Sim) restart(n *node) {
	if d := n.disk; d.refused {
		if s.now < d.replaceAt {
			return
		}
		// The node's own store may be the rejoining one (it was damaged
		// before it caught up): it held nothing the cluster counts on.
		if s.anyRejoining(n) {
			if !d.waiting {
				d.waiting = true
				s.trace.note(s.now, n.id, "the operator waits for the rejoining node to catch up before replacing this store")
			}
			return
		}
		n.disk = newDisk(n, true)
		s.counts.StoresReplaced++
		s.trace.note(s.now, n.id, "the operator replaces the refused store; the node rejoins with an empty one")
	}
	d := n.disk
	err := n.start()
	switch {
	case err == nil && d.damaged:
		s.violate(invDamageRefused, "node %d started on its store although a bit flipped in its %s", n.id, d.flippedIn)
	case err == nil:
	case d.damaged && errors.Is(err, raftlog.ErrCorruptStore):
		d.refused = true
		d.replaceAt = s.now + between(s.rng, stepLength, s.plan.replaceAfter)
		s.trace.note(s.now, n.id, "refuses to start: %v", err)
	default:
		s.violate(invRaftRuns, "node %d does not restart: %v", n.id, err)
	}
}
