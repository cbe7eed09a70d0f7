package raftlog

import (
	"hash/crc32"
	"io"
	"os"
	"sync"
	"time"
)

// A snapshot data file is hundreds of megabytes, and writing or deleting
// one at the disk's full speed stalls the small fsyncs that every commit
// waits for. Written in one go, it sits in the page cache until its own
// fsync flushes all of it at once, and the filesystem journal commit that
// the next fsync of raft.db needs waits behind that flush: the fsync of a
// few kilobytes took up to 0.8 s while a 500 MiB snapshot was written
// beside it, long enough for a node to miss an election timeout. Deleting
// the replaced file frees all its blocks in one journal commit (with
// discard on, the disk is told about each) and stalled the fsyncs after
// it by 100–200 ms. So a snapshot file is written a chunk at a time, at a
// bounded rate, each chunk handed to the disk as soon as it is written
// (write-behind) so that no more than two chunks are ever waiting; and a
// large replaced file is cut down a slice at a time before it is removed,
// off the event loop.

const (
	// snapshotWriteChunk is how much of a snapshot file is written and
	// handed to the disk at a time.
	snapshotWriteChunk = 4 << 20
	// snapshotWriteRate bounds the average speed of a snapshot file
	// write, in bytes per second: a 500 MiB snapshot takes 4 s, and the
	// disk keeps most of its bandwidth for the log.
	snapshotWriteRate = 128 << 20
	// snapshotWriteBurst is written at full speed, so that a snapshot of
	// a few megabytes is never slowed.
	snapshotWriteBurst = 16 << 20
	// reapSlice is how much of a replaced snapshot file is freed at a
	// time, and reapPause the pause between slices.
	reapSlice = 32 << 20
	reapPause = 20 * time.Millisecond
)

// writePaced writes data to f at no more than snapshotWriteRate after the
// first snapshotWriteBurst bytes, starting the disk write of each chunk
// as soon as it is written, and returns the CRC-32C of data, computed a
// chunk at a time as it is written. The caller still syncs f: write-behind
// bounds what the final sync has left to do, it does not replace it.
func writePaced(f *os.File, data []byte) (uint32, error) {
	start := time.Now()
	var sum uint32
	for off := 0; off < len(data); off += snapshotWriteChunk {
		end := min(off+snapshotWriteChunk, len(data))
		chunk := data[off:end]
		sum = crc32.Update(sum, castagnoli, chunk)
		if _, err := f.Write(chunk); err != nil {
			return 0, err
		}
		startWriteback(f, int64(off), int64(len(chunk)))
		if off > 0 {
			awaitWriteback(f, int64(off-snapshotWriteChunk), snapshotWriteChunk)
		}
		if paced := end - snapshotWriteBurst; paced > 0 {
			due := start.Add(time.Duration(float64(paced) / snapshotWriteRate * float64(time.Second)))
			time.Sleep(time.Until(due))
		}
	}
	return sum, nil
}

// readChecksummed reads size bytes from f a chunk at a time and returns
// them with their CRC-32C, computed on each chunk as it arrives, while
// it is still in the processor's cache: a second pass over hundreds of
// megabytes, from memory, cost the leader about a second of CPU when it
// read a snapshot to send it.
func readChecksummed(f *os.File, size int64) ([]byte, uint32, error) {
	data := make([]byte, size)
	var sum uint32
	for off := 0; off < len(data); off += snapshotWriteChunk {
		chunk := data[off:min(off+snapshotWriteChunk, len(data))]
		if _, err := io.ReadFull(f, chunk); err != nil {
			return nil, 0, err
		}
		sum = crc32.Update(sum, castagnoli, chunk)
	}
	return data, sum, nil
}

// reaper removes replaced snapshot files off the event loop, freeing a
// large one a slice at a time (see above). When the store closes, what is
// left of them is removed at once.
type reaper struct {
	mu      sync.Mutex
	closed  bool
	reaping map[string]bool // paths being cut down
	stop    chan struct{}
	done    sync.WaitGroup
}

func newReaper() *reaper {
	return &reaper{reaping: map[string]bool{}, stop: make(chan struct{})}
}

// remove removes the file at path: at once if it is small, else on a
// goroutine of its own. Only removal itself can fail here, and only for a
// small file; a large one that cannot be removed stays until the next
// open tries again.
func (r *reaper) remove(path string, size int64) error {
	if size <= reapSlice {
		return os.Remove(path)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.reaping[path] {
		return nil
	}
	r.reaping[path] = true
	r.done.Go(func() {
		r.cutDown(path)
		r.mu.Lock()
		delete(r.reaping, path)
		r.mu.Unlock()
	})
	return nil
}

// cutDown truncates the file at path a slice at a time, then removes it;
// after close, it removes the rest at once.
func (r *reaper) cutDown(path string) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		_ = os.Remove(path)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		_ = os.Remove(path)
		return
	}
	for size := fi.Size(); size > 0; {
		size = max(0, size-reapSlice)
		if f.Truncate(size) != nil {
			break
		}
		select {
		case <-r.stop:
			size = 0
		case <-time.After(reapPause):
		}
	}
	// A file of the same name written meanwhile is not the one cut down.
	if now, err := os.Lstat(path); err == nil && os.SameFile(fi, now) {
		_ = os.Remove(path)
	}
}

// close stops the reaping and waits for it to end.
func (r *reaper) close() {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.stop)
	}
	r.mu.Unlock()
	r.done.Wait()
}
