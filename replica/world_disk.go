package replica

import (
	"maps"
	"slices"
	"strings"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/machine/linux"
	"github.com/synodvm/synod/outputs"
)

// diskDir is where the guest finds its disk paths: one device file per
// (disk, node) pair, /dev/synod/<disk>.<node>, so that the guest chooses
// the node an I/O goes through and fails over between paths itself.
const diskDir = "/dev/synod/"

// maxDiskIO bounds the bytes of one disk I/O: a longer pread or pwrite
// transfers this much, as a short transfer, so that a read's completion
// stays a modest log entry (a guest's loop for short transfers does the
// rest, as it must on Linux too).
const maxDiskIO = 256 << 10

// diskWorld is the guest's disks as replicated state: the paths the boot
// entry named, the open device files, and the I/O each has outstanding.
//
// A device file takes one I/O at a time, as a blocking pread or pwrite
// does. The I/O becomes an output addressed to the path's node, and the
// guest thread waits (EAGAIN, and the kernel polls) until that node's
// entry.Completion commits, or until the node is declared down: then the
// I/O completes as uncertain (EIO), since it may or may not have reached
// the disk, and every new I/O on that node's paths fails at once until
// NodeUp. The guest's driver decides what to do with an uncertain write;
// reissuing it on another path is safe for a block device.
type diskWorld struct {
	paths   map[string]entry.DiskPath // by device file name
	handles map[linux.Handle]*diskHandle
	// awaiting maps the sequence number of each output waiting for its
	// completion to the handle it belongs to.
	awaiting map[uint64]linux.Handle
}

type diskHandle struct {
	path     string // device file name
	writable bool
	pos      int64 // for read and write; pread and pwrite ignore it
	io       *diskIO
}

// diskIO is a handle's I/O: outstanding until done, then kept until the
// guest's retried call takes its result.
type diskIO struct {
	seq    uint64
	write  bool
	offset int64
	length int    // bytes asked for
	data   []byte // a write's bytes; a read's result once done
	done   bool
	errno  linux.Errno
	n      int // bytes a completed write wrote
}

func newDiskWorld(paths []entry.DiskPath) diskWorld {
	d := diskWorld{
		paths:    map[string]entry.DiskPath{},
		handles:  map[linux.Handle]*diskHandle{},
		awaiting: map[uint64]linux.Handle{},
	}
	for _, p := range paths {
		d.paths[p.Name()] = p
	}
	return d
}

// openDisk opens a device file under /dev/synod.
func (w *world) openDisk(path string, flags uint32) (linux.Handle, linux.Errno) {
	name, ok := strings.CutPrefix(path, diskDir)
	if !ok {
		return 0, linux.ENOENT
	}
	if _, ok := w.disks.paths[name]; !ok {
		return 0, linux.ENOENT
	}
	h := w.newHandle(&object{kind: kindDisk})
	w.disks.handles[h] = &diskHandle{path: name, writable: flags&linux.O_ACCMODE != linux.O_RDONLY}
	return h, 0
}

// diskIO starts or finishes one I/O on a device file. The kernel calls
// the same pread or pwrite again once the handle polls ready, so a call
// that matches the handle's completed I/O takes its result.
func (w *world) diskIO(h linux.Handle, write bool, data []byte, length int, offset int64) ([]byte, int, linux.Errno) {
	d := w.disks.handles[h]
	p := w.disks.paths[d.path]
	if io := d.io; io != nil {
		if !io.done {
			return nil, 0, linux.EAGAIN
		}
		d.io = nil
		if io.write == write && io.offset == offset && io.length == length {
			return io.data, io.n, io.errno
		}
		// A result the guest no longer asks for (its call was interrupted):
		// drop it and start the I/O it asks for now.
	}
	switch {
	case write && !d.writable:
		return nil, 0, linux.EBADF
	case offset < 0:
		return nil, 0, linux.EINVAL
	case w.down[p.Node]:
		return nil, 0, linux.EIO
	case offset >= p.Size:
		if write && length > 0 {
			return nil, 0, linux.ENOSPC
		}
		return nil, 0, 0
	case length == 0:
		return nil, 0, 0
	}
	length = int(min(int64(length), p.Size-offset, maxDiskIO))
	io := &diskIO{write: write, offset: offset, length: length}
	var action outputs.Action = outputs.DiskRead{Disk: p.Disk, Offset: offset, Length: length}
	if write {
		io.data = append([]byte(nil), data[:length]...)
		action = outputs.DiskWrite{Disk: p.Disk, Offset: offset, Data: io.data}
	}
	w.emit(p.Node, action)
	io.seq = w.seq
	d.io = io
	w.disks.awaiting[io.seq] = h
	return nil, 0, linux.EAGAIN
}

// complete applies a node's completion of one of its outputs.
func (w *world) complete(c entry.Completion) {
	h, ok := w.disks.awaiting[c.Seq]
	if !ok {
		return // a duplicate, or its device file was closed
	}
	d := w.disks.handles[h]
	if w.disks.paths[d.path].Node != c.Node {
		return // only the node the output named may complete it
	}
	io := d.io
	if c.Errno == 0 && !io.write {
		// A part counts only where the answer so far ends: one proposed
		// again is dropped, and one after a lost part waits for the node
		// to answer the read again, from its start.
		if c.From != uint64(len(io.data)) {
			return
		}
		io.data = append(io.data, c.Data[:min(len(c.Data), io.length-len(io.data))]...)
		if c.More && len(io.data) < io.length {
			return
		}
	}
	delete(w.disks.awaiting, c.Seq)
	io.done = true
	io.errno = linux.Errno(c.Errno)
	switch {
	case io.errno != 0:
		io.data = nil
	case io.write:
		io.data, io.n = nil, int(min(c.N, uint64(io.length)))
	}
}

// uncertainDisks completes every I/O outstanding on node n as uncertain:
// n was declared down before it answered.
func (w *world) uncertainDisks(n consensus.NodeID) {
	for _, seq := range slices.Sorted(maps.Keys(w.disks.awaiting)) {
		h := w.disks.awaiting[seq]
		d := w.disks.handles[h]
		if w.disks.paths[d.path].Node != n {
			continue
		}
		delete(w.disks.awaiting, seq)
		d.io.done, d.io.errno, d.io.data = true, linux.EIO, nil
	}
}

// closeDisk forgets a device file; a completion of its outstanding I/O
// is ignored when it comes.
func (w *world) closeDisk(h linux.Handle) {
	if d := w.disks.handles[h]; d != nil && d.io != nil && !d.io.done {
		delete(w.disks.awaiting, d.io.seq)
	}
	delete(w.disks.handles, h)
}

// pollDisk: a device file is ready unless its I/O is outstanding.
func (w *world) pollDisk(h linux.Handle) linux.PollEvents {
	if d := w.disks.handles[h]; d.io != nil && !d.io.done {
		return 0
	}
	return linux.PollIn | linux.PollOut
}

// statDisk describes a device file as a regular file of the disk's size,
// so that lseek(SEEK_END) and fstat find the size without an ioctl.
func (w *world) statDisk(name string) linux.Stat {
	p := w.disks.paths[name]
	return linux.Stat{Mode: linux.S_IFREG | 0o600, Nlink: 1, Size: p.Size, Blksize: 4096, Blocks: (p.Size + 511) / 512}
}

// awaited is the handle of the disk output awaiting at seq and the path
// it went through, and so the node whose completion it awaits
// (path.Node).
func (w *world) awaited(seq uint64) (*diskHandle, entry.DiskPath) {
	d := w.disks.handles[w.disks.awaiting[seq]]
	return d, w.disks.paths[d.path]
}

// owedDisks are the outputs awaiting node n's completion, oldest first.
func (w *world) owedDisks(n consensus.NodeID) []outputs.Output {
	var owed []outputs.Output
	for _, seq := range slices.Sorted(maps.Keys(w.disks.awaiting)) {
		if _, p := w.awaited(seq); p.Node == n {
			owed = append(owed, w.awaitedOutput(seq))
		}
	}
	return owed
}

// awaitedOutput is the disk output awaiting its completion at seq, as
// the replica emitted it.
func (w *world) awaitedOutput(seq uint64) outputs.Output {
	d, p := w.awaited(seq)
	var a outputs.Action = outputs.DiskRead{Disk: p.Disk, Offset: d.io.offset, Length: d.io.length}
	if d.io.write {
		a = outputs.DiskWrite{Disk: p.Disk, Offset: d.io.offset, Data: d.io.data}
	}
	return outputs.Output{Seq: seq, Node: p.Node, Action: a}
}

// oldestOwedDisk is the sequence number of the oldest output awaiting
// node n's completion: owedDisks(n)[0].Seq, without building the list.
func (w *world) oldestOwedDisk(n consensus.NodeID) (uint64, bool) {
	var oldest uint64
	found := false
	for seq := range w.disks.awaiting {
		if found && seq >= oldest {
			continue
		}
		if _, p := w.awaited(seq); p.Node == n {
			oldest, found = seq, true
		}
	}
	return oldest, found
}

// state is the disks in canonical form, sorted by name and by handle.
func (d *diskWorld) state() ([]entry.DiskPath, []diskHandleState) {
	paths := slices.SortedFunc(maps.Values(d.paths), func(a, b entry.DiskPath) int { return strings.Compare(a.Name(), b.Name()) })
	var handles []diskHandleState
	for _, h := range slices.Sorted(maps.Keys(d.handles)) {
		dh := d.handles[h]
		hs := diskHandleState{Handle: h, Path: dh.path, Writable: dh.writable, Pos: dh.pos}
		if io := dh.io; io != nil {
			hs.IO = &diskIOState{Seq: io.seq, Write: io.write, Offset: io.offset, Length: io.length,
				Data: io.data, Done: io.done, Errno: io.errno, N: io.n}
		}
		handles = append(handles, hs)
	}
	return paths, handles
}

func restoreDisks(paths []entry.DiskPath, handles []diskHandleState) diskWorld {
	d := newDiskWorld(paths)
	for _, hs := range handles {
		dh := &diskHandle{path: hs.Path, writable: hs.Writable, pos: hs.Pos}
		if io := hs.IO; io != nil {
			dh.io = &diskIO{seq: io.Seq, write: io.Write, offset: io.Offset, length: io.Length,
				data: io.Data, done: io.Done, errno: io.Errno, n: io.N}
			if !io.Done {
				d.awaiting[io.Seq] = hs.Handle
			}
		}
		d.handles[hs.Handle] = dh
	}
	return d
}
