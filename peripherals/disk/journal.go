package disk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"github.com/synodvm/synod/internal/durable"
)

// journalMagic opens a sequence table's journal file; the last byte is
// the format's version.
var journalMagic = []byte("SYNODSQ\x01")

// The journal's record types.
const (
	recordResult = 'R' // a write's answer
	recordBelow  = 'B' // a client's seqs below this are forgotten
)

// journal persists a seqTable: an append-only file of records, each
//
//	u32  length of type and payload
//	u8   type
//	     payload: u8 client length, client, u64 seq, then for a result
//	     u32 digest, u8 status, u64 value, u16 text length, text
//	u32  CRC-32C of type and payload
//
// A write's record is appended and fsynced after the image is, and
// before the write is answered. When the file holds many more records
// than the table, it is rewritten with just the table.
type journal struct {
	path    string
	file    *os.File
	records int // in the file
	logger  *slog.Logger
}

// journalPath is where the table of the image at image is kept.
func journalPath(image string) string { return image + ".seqs" }

// openJournal opens the journal at path, or creates an empty one, and
// loads it into t. A record torn by a crash at the end of the file is
// cut off; a damaged record with more after it is an error, since what
// follows cannot be trusted either.
func openJournal(path string, t *seqTable, logger *slog.Logger) (*journal, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open sequence table: %w", err)
	}
	j := &journal{path: path, file: f, logger: logger}
	if err := j.load(t); err != nil {
		f.Close()
		return nil, err
	}
	return j, nil
}

func (j *journal) load(t *seqTable) error {
	data, err := io.ReadAll(j.file)
	if err != nil {
		return fmt.Errorf("read sequence table %s: %w", j.path, err)
	}
	if len(data) == 0 {
		if _, err := j.file.Write(journalMagic); err != nil {
			return fmt.Errorf("write sequence table %s: %w", j.path, err)
		}
		if err := j.file.Sync(); err != nil {
			return fmt.Errorf("sync sequence table %s: %w", j.path, err)
		}
		return durable.SyncDir(filepath.Dir(j.path))
	}
	if !bytes.HasPrefix(data, journalMagic) {
		return fmt.Errorf("%s is not a disk server's sequence table (it does not start with %q)", j.path, journalMagic)
	}
	off := len(journalMagic)
	for off < len(data) {
		n, err := j.apply(t, data[off:])
		if err != nil {
			if !tornTail(data[off:]) {
				return fmt.Errorf("sequence table %s: damaged record at offset %d with %d bytes after it (%w); "+
					"move the file aside to start with an empty table, knowing that writes replayed from then on may be applied twice",
					j.path, off, len(data)-off, err)
			}
			j.logger.Warn("cutting a record torn by a crash off the sequence table",
				"table", j.path, "offset", off, "bytes", len(data)-off, "reason", err)
			return j.cut(int64(off))
		}
		off += n
		j.records++
	}
	return nil
}

// tornTail says whether a bad record at the start of rest is the last
// one, as a crash in the middle of an append leaves it: shorter than its
// length says, reaching to the end, or zeros where the file grew.
func tornTail(rest []byte) bool {
	if len(rest) < 4 || 4+int(binary.BigEndian.Uint32(rest))+4 >= len(rest) {
		return true
	}
	return !slices.ContainsFunc(rest, func(b byte) bool { return b != 0 })
}

// apply decodes the record at the start of b into t and says how long it
// was.
func (j *journal) apply(t *seqTable, b []byte) (int, error) {
	if len(b) < 4 {
		return 0, errors.New("truncated length")
	}
	n := int(binary.BigEndian.Uint32(b))
	if n < 1 || len(b) < 4+n+4 {
		return 0, fmt.Errorf("a record of %d bytes runs past the end", n)
	}
	body := b[4 : 4+n]
	if sum := binary.BigEndian.Uint32(b[4+n:]); sum != crc32.Checksum(body, castagnoli) {
		return 0, errors.New("checksum mismatch")
	}
	c := cursor{b: body[1:]}
	client := string(c.next(int(c.uint(1))))
	seq := c.uint(8)
	switch body[0] {
	case recordBelow:
		if c.bad || len(c.b) != 0 {
			return 0, errors.New("a malformed forgotten-below record")
		}
		t.setBelow(client, seq)
	case recordResult:
		k := keptResult{seq: seq, digest: uint32(c.uint(4))}
		k.result.status = Status(c.uint(1))
		k.result.value = c.uint(8)
		k.result.text = string(c.next(int(c.uint(2))))
		if c.bad || len(c.b) != 0 {
			return 0, errors.New("a malformed result record")
		}
		t.record(client, k)
	default:
		return 0, fmt.Errorf("unknown record type %q", body[0])
	}
	return 4 + n + 4, nil
}

// cursor reads big-endian fields off a byte slice; bad is set once a
// field runs past its end.
type cursor struct {
	b   []byte
	bad bool
}

func (c *cursor) next(n int) []byte {
	if c.bad || n > len(c.b) {
		c.bad = true
		return nil
	}
	v := c.b[:n]
	c.b = c.b[n:]
	return v
}

func (c *cursor) uint(n int) uint64 {
	var v uint64
	for _, b := range c.next(n) {
		v = v<<8 | uint64(b)
	}
	return v
}

// cut truncates the file at off, dropping a torn record.
func (j *journal) cut(off int64) error {
	if err := j.file.Truncate(off); err != nil {
		return fmt.Errorf("cut sequence table %s at %d: %w", j.path, off, err)
	}
	if err := j.file.Sync(); err != nil {
		return fmt.Errorf("sync sequence table %s: %w", j.path, err)
	}
	return nil
}

func appendRecord(dst []byte, typ byte, client string, seq uint64, k *keptResult) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, typ, uint8(len(client)))
	dst = append(dst, client...)
	dst = binary.BigEndian.AppendUint64(dst, seq)
	if k != nil {
		text := k.result.text
		if len(text) > maxText {
			text = text[:maxText]
		}
		dst = binary.BigEndian.AppendUint32(dst, k.digest)
		dst = append(dst, uint8(k.result.status))
		dst = binary.BigEndian.AppendUint64(dst, k.result.value)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(text)))
		dst = append(dst, text...)
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst[start+4:], castagnoli))
}

// appendResults makes a batch of writes' answers durable.
func (j *journal) appendResults(client []string, kept []keptResult) error {
	var buf []byte
	for i := range kept {
		buf = appendRecord(buf, recordResult, client[i], kept[i].seq, &kept[i])
	}
	if _, err := j.file.Seek(0, io.SeekEnd); err != nil {
		return fmt.Errorf("append to sequence table %s: %w", j.path, err)
	}
	if _, err := j.file.Write(buf); err != nil {
		return fmt.Errorf("append to sequence table %s: %w", j.path, err)
	}
	if err := durable.Datasync(j.file); err != nil {
		return fmt.Errorf("sync sequence table %s: %w", j.path, err)
	}
	j.records += len(kept)
	return nil
}

// compactDue says whether the file holds enough records that the table
// no longer keeps to be worth rewriting.
func (j *journal) compactDue(t *seqTable) bool {
	return j.records > 4*t.size()+4096
}

// compact rewrites the file with only what t keeps: a new file, synced,
// renamed over the old one.
func (j *journal) compact(t *seqTable) error {
	buf := slices.Clone(journalMagic)
	records := 0
	for client, c := range t.clients {
		buf = appendRecord(buf, recordBelow, client, c.below, nil)
		records++
		for i := range c.kept {
			buf = appendRecord(buf, recordResult, client, c.kept[i].seq, &c.kept[i])
			records++
		}
	}
	tmp := j.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("compact sequence table: %w", err)
	}
	if _, err := f.Write(buf); err != nil {
		f.Close()
		return fmt.Errorf("compact sequence table: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("compact sequence table: sync %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, j.path); err != nil {
		f.Close()
		return fmt.Errorf("compact sequence table: %w", err)
	}
	if err := durable.SyncDir(filepath.Dir(j.path)); err != nil {
		f.Close()
		return err
	}
	j.file.Close()
	j.file, j.records = f, records
	return nil
}

func (j *journal) close() error { return j.file.Close() }
