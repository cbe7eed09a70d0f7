package raftlog

import (
	"fmt"
	"hash/crc32"
	"runtime/debug"

	pb "go.etcd.io/raft/v3/raftpb"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"
)

// A leader reads its stored snapshot each time it sends one to a
// follower. Read into the heap, 500 MiB took the leader 2.7 s of CPU
// (the memory is fresh, and the kernel hands it out a page at a time),
// on the node that serves clients, just as the catch-up began; mapped,
// the file's pages come from the page cache where writing it left them,
// and checking its checksum takes a tenth of a second. So the snapshot
// read ahead for sending is mapped (mapSnapshot), and unmapped once the
// transport is done with it (readAhead.release). A mapped file is not
// removed while it is mapped. Everywhere else (the snapshot a node starts
// from, which the user keeps) the data is read into the heap.

// snapshotMapper is a Store that can map its snapshot's data file.
type snapshotMapper interface {
	// mapSnapshot returns the stored snapshot with its data mapped from
	// its file and checked against its checksum, and the function that
	// unmaps it, to be called once when the data is no longer used.
	mapSnapshot() (*pb.Snapshot, func(), error)
}

var _ snapshotMapper = (*BoltStore)(nil)

func (s *BoltStore) mapSnapshot() (*pb.Snapshot, func(), error) {
	s.mu.RLock()
	meta, file := s.snapMeta, s.snapFile
	s.mu.RUnlock()
	snap := pb.EnsureSnapshot(&pb.Snapshot{Metadata: proto.Clone(meta).(*pb.SnapshotMetadata)})
	if meta.GetIndex() == 0 {
		return snap, func() {}, nil
	}
	name := file.name()
	s.filesMu.Lock()
	s.mapped[name]++ // before the file is looked at, so that it stays
	s.filesMu.Unlock()
	data, err := mapChecked(s.dir, file, meta)
	if err != nil {
		s.unmapped(name)
		return nil, nil, fmt.Errorf("raft store %s: map snapshot: %w", s.path, err)
	}
	snap.Data = data
	return snap, func() {
		if len(data) > 0 {
			_ = unix.Munmap(data)
		}
		s.unmapped(name)
	}, nil
}

// unmapped ends a mapping of the file name, which may then be removed if
// it is no longer the store's snapshot.
func (s *BoltStore) unmapped(name string) {
	s.filesMu.Lock()
	s.mapped[name]--
	if s.mapped[name] <= 0 {
		delete(s.mapped, name)
	}
	s.filesMu.Unlock()
	s.mu.RLock()
	defer s.mu.RUnlock()
	s.dropOldSnapshotFiles()
}

// mapChecked maps f, the data file of the snapshot meta describes,
// read-only and checks its size and checksum. An empty file is not mapped.
func mapChecked(dir string, f snapshotFile, meta *pb.SnapshotMetadata) ([]byte, error) {
	in, err := f.open(dir, meta)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	if f.size == 0 {
		return nil, nil
	}
	path := in.Name()
	data, err := unix.Mmap(int(in.Fd()), 0, int(f.size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", path, err)
	}
	sum, err := checksumMapped(data)
	switch {
	case err != nil:
		err = fmt.Errorf("%w: snapshot data file %s could not be read: %w", ErrCorruptStore, path, err)
	case sum != f.crc:
		err = fmt.Errorf("%w: snapshot data file %s (index %d) fails its checksum", ErrCorruptStore, path, f.index)
	}
	if err != nil {
		_ = unix.Munmap(data)
		return nil, err
	}
	return data, nil
}

// checksumMapped is the CRC-32C of data, a mapped file. Reading a page
// the disk fails to deliver faults; that fault is an error here rather
// than the end of the process.
func checksumMapped(data []byte) (sum uint32, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("fault while reading: %v", r)
		}
	}()
	return crc32.Checksum(data, castagnoli), nil
}
