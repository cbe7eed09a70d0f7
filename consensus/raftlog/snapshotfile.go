package raftlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/synodvm/synod/internal/durable"
)

// snapshotFile describes the data file of the store's snapshot. The file
// is named after the snapshot's index, term and checksum, so a new
// snapshot never overwrites the file the store still points to: a crash
// between writing the file and committing the transaction that points to
// it leaves the old snapshot intact, and the orphan is removed on open.
type snapshotFile struct {
	index, term uint64
	size        uint64
	crc         uint32
}

const (
	snapshotFilePrefix = "snapshot-"
	snapshotFileSuffix = ".snap"
	snapshotRecordSize = 8 + 8 + 8 + 4
)

func (f snapshotFile) name() string {
	return fmt.Sprintf("%s%016x-%016x-%08x%s", snapshotFilePrefix, f.index, f.term, f.crc, snapshotFileSuffix)
}

// record is the sealed form stored under keySnapFile.
func (f snapshotFile) record() []byte {
	b := binary.BigEndian.AppendUint64(nil, f.index)
	b = binary.BigEndian.AppendUint64(b, f.term)
	b = binary.BigEndian.AppendUint64(b, f.size)
	return Seal(binary.BigEndian.AppendUint32(b, f.crc))
}

func readSnapshotFileRecord(v []byte) (snapshotFile, error) {
	if v == nil {
		return snapshotFile{}, nil
	}
	b, err := Unseal(v, "snapshot file record")
	if err != nil {
		return snapshotFile{}, err
	}
	if len(b) != snapshotRecordSize {
		return snapshotFile{}, fmt.Errorf("%w: snapshot file record is %d bytes", ErrCorruptStore, len(b))
	}
	return snapshotFile{
		index: binary.BigEndian.Uint64(b),
		term:  binary.BigEndian.Uint64(b[8:]),
		size:  binary.BigEndian.Uint64(b[16:]),
		crc:   binary.BigEndian.Uint32(b[24:]),
	}, nil
}

// writeSnapshotFile writes data, the snapshot at index and term, durably
// into the store's directory (paced: writePaced) and describes it. The
// file is the store's to keep until forgetUnsaved: removeStaleSnapshotFiles
// leaves it alone while a transaction that points to it may still come.
func (s *BoltStore) writeSnapshotFile(index, term uint64, data []byte) (snapshotFile, error) {
	f := snapshotFile{index: index, term: term, size: uint64(len(data))}
	s.filesMu.Lock()
	out, err := os.CreateTemp(s.dir, fmt.Sprintf("%s%016x-%016x-*%s.tmp", snapshotFilePrefix, index, term, snapshotFileSuffix))
	if err == nil {
		s.unsaved[filepath.Base(out.Name())] = true
	}
	s.filesMu.Unlock()
	if err != nil {
		return f, fmt.Errorf("write snapshot file: %w", err)
	}
	tmp := out.Name()
	defer s.forgetUnsaved(filepath.Base(tmp))
	f.crc, err = writePaced(out, data)
	if err = errors.Join(err, out.Sync(), out.Close()); err != nil {
		return f, errors.Join(fmt.Errorf("write snapshot file %s: %w", tmp, err), os.Remove(tmp))
	}
	path := filepath.Join(s.dir, f.name())
	s.filesMu.Lock()
	err = os.Rename(tmp, path)
	if err == nil {
		s.unsaved[f.name()] = true
	}
	s.filesMu.Unlock()
	if err != nil {
		return f, errors.Join(fmt.Errorf("write snapshot file: %w", err), os.Remove(tmp))
	}
	if err := durable.SyncDir(s.dir); err != nil {
		s.forgetUnsaved(f.name())
		return f, fmt.Errorf("write snapshot file %s: %w", path, err)
	}
	return f, nil
}

// forgetUnsaved ends writeSnapshotFile's hold on a file: the store now
// points to it, or it is to be removed.
func (s *BoltStore) forgetUnsaved(name string) {
	s.filesMu.Lock()
	delete(s.unsaved, name)
	s.filesMu.Unlock()
}

// read returns the file's data after checking it against the record and
// the snapshot metadata it belongs to.
func (f snapshotFile) read(dir string, meta *pb.SnapshotMetadata) ([]byte, error) {
	in, err := f.open(dir, meta)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	path := in.Name()
	data, sum, err := readChecksummed(in, int64(f.size))
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return nil, fmt.Errorf("%w: snapshot data file %s ended before its %d bytes", ErrCorruptStore, path, f.size)
	case err != nil:
		return nil, fmt.Errorf("read snapshot data file %s: %w", path, err)
	case sum != f.crc:
		return nil, fmt.Errorf("%w: snapshot data file %s (index %d) fails its checksum", ErrCorruptStore, path, f.index)
	}
	return data, nil
}

// checkSnapshotFile makes sure the snapshot's data file is there with the
// size recorded; its checksum is checked whenever it is read (the engine
// reads it as it starts).
func (s *BoltStore) checkSnapshotFile() error {
	if s.snapMeta.GetIndex() == 0 {
		return nil
	}
	if s.snapFile.index != s.snapMeta.GetIndex() || s.snapFile.term != s.snapMeta.GetTerm() {
		return fmt.Errorf("%w: snapshot at index %d has no data file record", ErrCorruptStore, s.snapMeta.GetIndex())
	}
	return s.snapFile.check(s.dir, s.snapMeta)
}

// open opens f, the data file of the snapshot meta describes, once check
// has passed.
func (f snapshotFile) open(dir string, meta *pb.SnapshotMetadata) (*os.File, error) {
	if err := f.check(dir, meta); err != nil {
		return nil, err
	}
	return os.Open(filepath.Join(dir, f.name()))
}

// check makes sure f is the data file of the snapshot meta describes and
// has the size recorded.
func (f snapshotFile) check(dir string, meta *pb.SnapshotMetadata) error {
	if f.index != meta.GetIndex() || f.term != meta.GetTerm() {
		return fmt.Errorf("%w: snapshot at index %d term %d points to a data file for index %d term %d",
			ErrCorruptStore, meta.GetIndex(), meta.GetTerm(), f.index, f.term)
	}
	path := filepath.Join(dir, f.name())
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%w: snapshot data file %s is missing", ErrCorruptStore, path)
	case err != nil:
		return fmt.Errorf("snapshot data file: %w", describeOSError(err))
	case uint64(fi.Size()) != f.size:
		return fmt.Errorf("%w: snapshot data file %s has %d bytes, not %d", ErrCorruptStore, path, fi.Size(), f.size)
	}
	return nil
}

// removeStaleSnapshotFiles deletes every snapshot data file but the
// current one and those being written or mapped: replaced snapshots, and
// files a crash left unreferenced. A large file is cut down off the caller's
// goroutine (reaper). The store's file lock makes this process the
// directory's only user.
func (s *BoltStore) removeStaleSnapshotFiles() error {
	s.filesMu.Lock()
	defer s.filesMu.Unlock()
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("raft store %s: list snapshot files: %w", s.path, err)
	}
	current := ""
	if s.snapMeta.GetIndex() > 0 {
		current = s.snapFile.name()
	}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, snapshotFilePrefix) || name == current || s.unsaved[name] || s.mapped[name] > 0 {
			continue
		}
		if !strings.HasSuffix(name, snapshotFileSuffix) && !strings.HasSuffix(name, snapshotFileSuffix+".tmp") {
			continue
		}
		var size int64
		if fi, err := e.Info(); err == nil {
			size = fi.Size()
		}
		if err := s.reaper.remove(filepath.Join(s.dir, name), size); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("raft store %s: remove old snapshot files: %w", s.path, err)
	}
	return nil
}

// dropOldSnapshotFiles removes replaced snapshot files once a new one is
// in force. A failure costs only disk space and must not fail the write
// that succeeded: the next snapshot and the next open try again.
func (s *BoltStore) dropOldSnapshotFiles() { _ = s.removeStaleSnapshotFiles() }
