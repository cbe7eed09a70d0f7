package bft

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strconv"

	"github.com/synodvm/synod/internal/durable"
)

// FileStorage is a Storage in one append-only file: each Append is one
// write and one fdatasync. The core persists a Ready before any of its
// messages leave, and a request waits for three such Readies in turn
// (pre-prepare, prepare, commit), so what a Ready costs to persist is paid
// three times per request; bbolt's commit pays two syncs (pages, then its
// meta page).
//
// The file is a header, then records, each
//
//	length(4) crc32c(4) payload
//
// and zeros after the last one: the file is grown in fileGrowth steps of
// zeros ahead of the records, so that an append does not change the
// file's size and its fdatasync need not write the inode. A zero length
// ends the records. The length's top bit (recordContinues) says the next
// record belongs to the same Append: an Append is atomic (Storage), and
// a crash in the middle of the last one may leave any prefix of its bytes
// on the disk. Loading drops that Append whole, from its first record:
// the records it left, complete or cut short (bad checksum, nothing but
// zeros after it), were never acknowledged, since nothing is sent before
// Append returns. A bad record anywhere else is damage
// (ErrCorruptStorage).
//
// Append with replace writes the whole new content to a temporary file,
// syncs it and renames it over the old one, so a crash leaves either.
type FileStorage struct {
	path string
	f    *os.File
	end  int64 // where the next record goes
	size int64 // the file's size: zeros from end to size
	// opened are the records Open read, for the first Load: the engine
	// loads once as it starts, and a stable checkpoint holds the whole
	// machine, not to be read twice.
	opened [][]byte
}

const (
	// fileFormat numbers the records' format: 2 since requests carry
	// several proposals and signatures cover the cluster's id. A new
	// record kind, or any change an older synod would misread, takes the
	// next number: an older synod then says the file is of a later
	// format instead of calling its records malformed.
	fileFormat     = 2
	fileHeaderName = "synod-bft-records-"
	fileRecordHead = 8
	// fileGrowth is how far ahead of the records the file is zeroed. A
	// compaction writes that much again, and a growth step's sync writes
	// the inode too: larger steps mean fewer such syncs but more zeros
	// written; between two checkpoints a busy cluster appends a few
	// hundred KiB.
	fileGrowth = 256 << 10
	// recordContinues marks, in a record's length, a record that is not
	// its Append's last. Files written before it existed have it clear
	// everywhere: each record read as an Append of its own.
	recordContinues = 1 << 31
	maxRecordBytes  = recordContinues - 1
)

// fileHeader is the first line of a record file of this format, made
// from fileFormat so that a new format is one number to change.
var fileHeader = fileHeaderName + strconv.Itoa(fileFormat) + "\n"

// OpenFileStorage opens the storage file at path, creating it if it does
// not exist.
func OpenFileStorage(path string) (*FileStorage, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		if _, err := writeRecordsFile(path, nil); err != nil {
			return nil, err
		}
		f, err = os.OpenFile(path, os.O_RDWR, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("bft: open storage %s: %w", path, err)
	}
	s := &FileStorage{path: path, f: f}
	if s.opened, err = s.read(); err != nil {
		_ = f.Close()
		return nil, err
	}
	return s, nil
}

// Load implements Storage.
func (s *FileStorage) Load() ([][]byte, error) {
	if records := s.opened; records != nil {
		s.opened = nil
		return records, nil
	}
	return s.read()
}

// read returns the records stored. It also finds where the next record
// goes, and zeroes a torn last record so that it is not found again.
func (s *FileStorage) read() ([][]byte, error) {
	content, err := io.ReadAll(io.NewSectionReader(s.f, 0, 1<<62))
	if err != nil {
		return nil, fmt.Errorf("bft: read storage %s: %w", s.path, err)
	}
	if !bytes.HasPrefix(content, []byte(fileHeader)) {
		return nil, s.wrongHeader(content)
	}
	var records, write [][]byte     // write: the records of an Append not yet ended
	whole := int64(len(fileHeader)) // where the last whole Append ends
	off := whole
	for off+fileRecordHead <= int64(len(content)) {
		length := binary.BigEndian.Uint32(content[off:])
		if length == 0 {
			break
		}
		end := off + fileRecordHead + int64(length&^recordContinues)
		if end <= int64(len(content)) {
			payload := content[off+fileRecordHead : end]
			if crc32.Checksum(payload, crcTable) == binary.BigEndian.Uint32(content[off+4:]) {
				write = append(write, bytes.Clone(payload))
				off = end
				if length&recordContinues == 0 {
					records, write, whole = append(records, write...), nil, off
				}
				continue
			}
		}
		if !allZero(content[min(end, int64(len(content))):]) {
			return nil, fmt.Errorf("%w: record at byte %d of %s fails its checksum", ErrCorruptStorage, off, s.path)
		}
		off = min(end, int64(len(content)))
		break
	}
	if off > whole {
		// The last Append was cut short: zero what it left, so that it is
		// not found again after the next Append.
		if _, err := s.f.WriteAt(make([]byte, off-whole), whole); err != nil {
			return nil, fmt.Errorf("bft: cut the torn last write of %s: %w", s.path, err)
		}
	}
	s.end, s.size = whole, int64(len(content))
	return records, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Append implements Storage.
func (s *FileStorage) Append(records [][]byte, replace bool) error {
	s.opened = nil
	if replace {
		return s.replace(records)
	}
	if len(records) == 0 {
		return nil
	}
	buf, err := encodeRecords(records)
	if err != nil {
		return fmt.Errorf("bft: write %d records to %s: %w", len(records), s.path, err)
	}
	if need := s.end + int64(len(buf)) + fileRecordHead; need > s.size {
		grown := (need/fileGrowth + 1) * fileGrowth
		if _, err := s.f.WriteAt(make([]byte, grown-s.size), s.size); err != nil {
			return fmt.Errorf("bft: grow %s: %w", s.path, err)
		}
		s.size = grown
	}
	if err := durable.WriteAppend(s.f, buf, s.end); err != nil {
		return fmt.Errorf("bft: write %d records to %s: %w", len(records), s.path, err)
	}
	if err := durable.DatasyncAppend(s.f); err != nil {
		return fmt.Errorf("bft: sync %s: %w", s.path, err)
	}
	s.end += int64(len(buf))
	return nil
}

func (s *FileStorage) replace(records [][]byte) error {
	end, err := writeRecordsFile(s.path, records)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(s.path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("bft: reopen storage %s: %w", s.path, err)
	}
	_ = s.f.Close()
	s.f, s.end, s.size = f, end, end+fileGrowth
	return nil
}

func encodeRecords(records [][]byte) ([]byte, error) {
	var buf []byte
	for i, rec := range records {
		if len(rec) == 0 || len(rec) > maxRecordBytes {
			return nil, fmt.Errorf("a record of %d bytes", len(rec))
		}
		length := uint32(len(rec))
		if i < len(records)-1 {
			length |= recordContinues
		}
		buf = binary.BigEndian.AppendUint32(buf, length)
		buf = binary.BigEndian.AppendUint32(buf, crc32.Checksum(rec, crcTable))
		buf = append(buf, rec...)
	}
	return buf, nil
}

// writeRecordsFile makes path a record file holding records, atomically,
// with fileGrowth zeros after them. It returns where the next record goes.
func writeRecordsFile(path string, records [][]byte) (end int64, err error) {
	buf, err := encodeRecords(records)
	if err != nil {
		return 0, fmt.Errorf("bft: write %s: %w", path, err)
	}
	content := append([]byte(fileHeader), buf...)
	end = int64(len(content))
	content = append(content, make([]byte, fileGrowth)...)
	if err := durable.WriteFile(path, content, 0o600); err != nil {
		return 0, fmt.Errorf("bft: %w", err)
	}
	return end, nil
}

// Close implements Storage.
func (s *FileStorage) Close() error { return s.f.Close() }

// wrongHeader says why content, which does not start with this format's
// header, cannot be read: a record file of an earlier or a later synod
// is not damage, and only an earlier one is for recreating the cluster.
func (s *FileStorage) wrongHeader(content []byte) error {
	line, _, whole := bytes.Cut(content, []byte("\n"))
	version, isHeader := bytes.CutPrefix(line, []byte(fileHeaderName))
	format, err := strconv.Atoi(string(version))
	switch {
	case !whole || !isHeader || err != nil:
		return fmt.Errorf("%w: %s is not a record file of this version", ErrCorruptStorage, s.path)
	case format > fileFormat:
		return fmt.Errorf("%w: %s holds records of format %d, written by a later synod than this one (format %d): run that synod",
			ErrLaterFormat, s.path, format, fileFormat)
	default:
		return fmt.Errorf("%w: %s holds records of an earlier synod, which this one does not read; create the cluster again (synod init --byzantine)",
			ErrEarlierFormat, s.path)
	}
}
