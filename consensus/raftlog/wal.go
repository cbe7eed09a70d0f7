package raftlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"slices"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/synodvm/synod/internal/durable"
)

// WALFileName is the write-ahead log beside the store's bbolt file.
//
// Each Save that carries no snapshot is one record appended to it and one
// fdatasync; bbolt, whose every commit costs two (pages, then meta page),
// receives the records later, many in one transaction (walflush.go). The
// file is written with zeros before records go into it, so that an
// fdatasync after a record changes no file metadata and costs one write to
// the disk. Layout: a header (magic, generation, CRC-32C), then records,
// each a 4-byte length, the CRC-32C of its payload and the payload: the
// hard state (length-prefixed, empty for none) and the entries (each
// length-prefixed), padded with zeros to a multiple of 8 bytes, so that a
// record's length and checksum never straddle two disk sectors: a crash
// leaves them whole or not written at all. After the last record the file
// holds zeros.
//
// The generation tells which records bbolt already holds: bbolt records
// the generation and offset up to which it has taken the log in
// (keyWAL). Once it has taken in every record, the used part of the file
// is zeroed and the header names the next generation (reset).
const WALFileName = "raft.wal"

const (
	walMagic      = "synodwal"
	walHeaderSize = 8 + 8 + ChecksumSize + 4 // padded to 8 bytes
	walRecordHead = 4 + ChecksumSize
	walAlign      = 8
	// walInitialSize is the size of a new log file, small so that a store
	// fits on a nearly full disk; the file doubles as records need room,
	// by at most walMaxGrowth at a time.
	walInitialSize = 64 << 10
	walMaxGrowth   = 8 << 20
	// walSectorSize is the unit a disk writes atomically: a record cut
	// short by a crash leaves a whole sector of the zeros written before.
	walSectorSize = 512
)

// walFile is the open log: records go at used, the file holds size bytes.
type walFile struct {
	f          *os.File
	path       string
	generation uint64
	used       int64
	size       int64
}

// walRecord is what one Save wrote.
type walRecord struct {
	hardState *pb.HardState
	entries   []*pb.Entry
	// end is the offset just past the record.
	end int64
}

func walHeader(generation uint64) []byte {
	b := binary.BigEndian.AppendUint64([]byte(walMagic), generation)
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	return append(b, 0, 0, 0, 0)
}

// walRecordSize is the size of a record of n payload bytes, padded.
func walRecordSize(n int64) int64 { return (walRecordHead + n + walAlign - 1) / walAlign * walAlign }

// createWAL writes an empty log of the given generation at path,
// atomically, replacing any file there.
func createWAL(path string, generation uint64) error {
	content := make([]byte, walInitialSize)
	copy(content, walHeader(generation))
	return durable.WriteFile(path, content, 0o600)
}

// openWAL opens the log at path and checks its header.
func openWAL(path string) (*walFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, errors.Join(err, f.Close())
	}
	w := &walFile{f: f, path: path, size: fi.Size(), used: walHeaderSize}
	head := make([]byte, walHeaderSize)
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, w.size), head); err != nil ||
		string(head[:8]) != walMagic || !bytes.Equal(head, walHeader(binary.BigEndian.Uint64(head[8:]))) {
		return nil, errors.Join(fmt.Errorf("%w: write-ahead log %s has no valid header", ErrCorruptStore, path), f.Close())
	}
	w.generation = binary.BigEndian.Uint64(head[8:])
	return w, nil
}

// records reads the records from offset from on (walHeaderSize or more)
// and leaves used after the last one. A record cut short at the end of the
// log (a crash during its write, before it was acknowledged) ends the
// records; any other damage is ErrCorruptStore.
func (w *walFile) records(from int64) ([]walRecord, error) {
	content := make([]byte, w.size)
	if _, err := w.f.ReadAt(content, 0); err != nil {
		return nil, fmt.Errorf("read write-ahead log %s: %w", w.path, err)
	}
	if from < walHeaderSize || from > w.size {
		return nil, fmt.Errorf("%w: the store has taken in write-ahead log %s up to offset %d, beyond its %d bytes",
			ErrCorruptStore, w.path, from, w.size)
	}
	var out []walRecord
	off := from
	for {
		rec, end, err := decodeWALRecord(content, off)
		switch {
		case errors.Is(err, errWALEnd):
			w.used = off
			return out, nil
		case err != nil && isTornTail(content, off, end):
			w.used = off
			return out, w.zeroFrom(off)
		case err != nil:
			return nil, fmt.Errorf("%w: write-ahead log %s: the record at offset %d %v", ErrCorruptStore, w.path, off, err)
		}
		rec.end = end
		out = append(out, rec)
		off = end
	}
}

var errWALEnd = errors.New("end of the log")

// decodeWALRecord decodes the record at off in content. end is where the
// record ends (within content), also when it fails.
func decodeWALRecord(content []byte, off int64) (rec walRecord, end int64, err error) {
	size := int64(len(content))
	if off+walRecordHead > size {
		return rec, size, errWALEnd
	}
	n := int64(binary.BigEndian.Uint32(content[off:]))
	sum := binary.BigEndian.Uint32(content[off+4:])
	if n == 0 && sum == 0 {
		return rec, off, errWALEnd
	}
	end = off + walRecordSize(n)
	if end > size {
		// The length is never torn (see WALFileName): it is damaged.
		return rec, off + walRecordHead, fmt.Errorf("claims %d bytes, beyond the end of the file", n)
	}
	payload := content[off+walRecordHead : off+walRecordHead+n]
	if crc32.Checksum(payload, castagnoli) != sum {
		return rec, end, errors.New("fails its checksum")
	}
	rec, err = decodeWALPayload(payload)
	return rec, end, err
}

// isTornTail reports whether a record that fails, spanning [off, end),
// is one a crash cut short: nothing but zeros after it, and one of the
// sectors it spans still holds nothing but the zeros the file was made
// with. A flipped bit leaves no zero sector; a damaged record with valid
// ones after it is in the middle of the log. (etcd's WAL tells a torn
// write the same way.)
func isTornTail(content []byte, off, end int64) bool {
	if len(bytes.Trim(content[end:], "\x00")) > 0 {
		return false
	}
	for start := off; start < end; {
		stop := min((start/walSectorSize+1)*walSectorSize, end)
		if len(bytes.Trim(content[start:stop], "\x00")) == 0 {
			return true
		}
		start = stop
	}
	return false
}

// appendWALPayload appends the payload of a record to b.
func appendWALPayload(b []byte, hs *pb.HardState, entries []*pb.Entry) ([]byte, error) {
	b, err := appendWALField(b, hs)
	for _, e := range entries {
		if err != nil {
			return nil, err
		}
		b, err = appendWALField(b, e)
	}
	return b, err
}

// appendWALField appends m, marshalled, after its length (0 for nil).
func appendWALField[M interface {
	proto.Message
	comparable
}](b []byte, m M) ([]byte, error) {
	at := len(b)
	b = append(b, 0, 0, 0, 0)
	var zero M
	if m == zero {
		return b, nil
	}
	b, err := proto.MarshalOptions{}.MarshalAppend(b, m)
	binary.BigEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	return b, err
}

func decodeWALPayload(b []byte) (walRecord, error) {
	var rec walRecord
	next := func() ([]byte, bool) {
		if len(b) < 4 || uint32(len(b)-4) < binary.BigEndian.Uint32(b) {
			return nil, false
		}
		n := binary.BigEndian.Uint32(b)
		field := b[4 : 4+n]
		b = b[4+n:]
		return field, true
	}
	hs, ok := next()
	if !ok {
		return rec, errors.New("is truncated")
	}
	if len(hs) > 0 {
		rec.hardState = &pb.HardState{}
		if err := proto.Unmarshal(hs, rec.hardState); err != nil {
			return rec, fmt.Errorf("holds an undecodable hard state: %w", err)
		}
	}
	for len(b) > 0 {
		v, ok := next()
		if !ok {
			return rec, errors.New("is truncated")
		}
		e := &pb.Entry{}
		if err := proto.Unmarshal(v, e); err != nil {
			return rec, fmt.Errorf("holds an undecodable entry: %w", err)
		}
		if n := len(rec.entries); n > 0 && e.GetIndex() != rec.entries[n-1].GetIndex()+1 {
			return rec, fmt.Errorf("holds entry %d after entry %d", e.GetIndex(), rec.entries[n-1].GetIndex())
		}
		rec.entries = append(rec.entries, e)
	}
	return rec, nil
}

// zeroFrom writes zeros over a record a crash cut short, so that the
// records written after it end in zeros.
func (w *walFile) zeroFrom(off int64) error {
	if _, err := w.f.WriteAt(make([]byte, w.size-off), off); err != nil {
		return fmt.Errorf("write-ahead log %s: cut the torn record at offset %d: %w", w.path, off, err)
	}
	if err := durable.Datasync(w.f); err != nil {
		return fmt.Errorf("write-ahead log %s: cut the torn record at offset %d: %w", w.path, off, err)
	}
	return nil
}

// encodeWALRecord is the record of one Save: length, checksum, payload.
// The payload is encoded in place after the head: its entries hold every
// request of the Ready, so a copy of it was a copy per request.
func encodeWALRecord(hs *pb.HardState, entries []*pb.Entry) ([]byte, error) {
	rec, err := appendWALPayload(make([]byte, walRecordHead, walRecordHead+64+128*len(entries)), hs, entries)
	if err != nil {
		return nil, err
	}
	payload := rec[walRecordHead:]
	binary.BigEndian.PutUint32(rec, uint32(len(payload)))
	binary.BigEndian.PutUint32(rec[4:], crc32.Checksum(payload, castagnoli))
	size := int(walRecordSize(int64(len(payload))))
	rec = slices.Grow(rec, size-len(rec))[:size]
	clear(rec[walRecordHead+len(payload):])
	return rec, nil
}

// fits reports whether a record of n bytes fits in the file as it is.
func (w *walFile) fits(n int) bool { return w.used+int64(n) <= w.size }

// append writes one record, which fits, and syncs it: one fdatasync.
func (w *walFile) append(rec []byte) error {
	if err := durable.WriteAppend(w.f, rec, w.used); err != nil {
		return fmt.Errorf("write-ahead log %s: %w", w.path, err)
	}
	if err := durable.DatasyncAppend(w.f); err != nil {
		return fmt.Errorf("write-ahead log %s: sync: %w", w.path, err)
	}
	w.used += int64(len(rec))
	return nil
}

// grow writes zeros up to at least need bytes. The next sync makes them
// durable with the record that needed them. On a full disk the file
// keeps its size.
func (w *walFile) grow(need int64) error {
	size := max(need, min(2*w.size, w.size+walMaxGrowth))
	if _, err := w.f.WriteAt(make([]byte, size-w.size), w.size); err != nil {
		return errors.Join(fmt.Errorf("write-ahead log %s: grow to %d bytes: %w", w.path, size, err), w.f.Truncate(w.size))
	}
	w.size = size
	return nil
}

// reset empties the log, once bbolt has taken in every record, and
// starts the given generation: the records are zeroed and synced before
// the header changes, so a crash between the two leaves the old
// generation with no records after the offset bbolt recorded.
func (w *walFile) reset(generation uint64) error {
	if _, err := w.f.WriteAt(make([]byte, w.used-walHeaderSize), walHeaderSize); err != nil {
		return fmt.Errorf("write-ahead log %s: reset: %w", w.path, err)
	}
	if err := durable.Datasync(w.f); err != nil {
		return fmt.Errorf("write-ahead log %s: reset: %w", w.path, err)
	}
	if _, err := w.f.WriteAt(walHeader(generation), 0); err != nil {
		return fmt.Errorf("write-ahead log %s: reset: %w", w.path, err)
	}
	if err := durable.Datasync(w.f); err != nil {
		return fmt.Errorf("write-ahead log %s: reset: %w", w.path, err)
	}
	w.generation, w.used = generation, walHeaderSize
	return nil
}

// release gives the disk back the room of the records before offset
// upTo, which bbolt holds, for a store that closes on a full disk:
// bbolt may need that room to take in the last records. The file keeps
// its size; the records read as zeros and are never read again.
func (w *walFile) release(upTo int64) error {
	if err := punchHole(w.f, walHeaderSize, upTo-walHeaderSize); err != nil {
		return fmt.Errorf("write-ahead log %s: give back the room of the records before offset %d: %w", w.path, upTo, err)
	}
	return nil
}

func (w *walFile) close() error { return w.f.Close() }
