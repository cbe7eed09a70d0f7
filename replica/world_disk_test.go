package replica

import (
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/machine/linux"
	"github.com/synodvm/synod/outputs"
)

const testDiskSize = 1 << 20

// diskWorldForTest is a world of nodes 1..3 with disk "journal" reachable
// from nodes 1 and 2.
func diskWorldForTest(t *testing.T) *world {
	t.Helper()
	w := newWorld(entry.Boot{
		Time: 1_000_000, NanosPerInstruction: 10, Members: []consensus.NodeID{1, 2, 3},
		Disks: []entry.DiskPath{{Disk: "journal", Node: 1, Size: testDiskSize}, {Disk: "journal", Node: 2, Size: testDiskSize}},
	}, nil)
	w.drain()
	return w
}

func openPath(t *testing.T, w *world, name string) linux.Handle {
	t.Helper()
	h, errno := w.Open("/dev/synod/"+name, linux.O_RDWR, 0)
	require.Zero(t, errno, name)
	return h
}

// oneOutput drains the world's outputs, which must be exactly one.
func oneOutput(t *testing.T, w *world) outputs.Output {
	t.Helper()
	outs := w.drain()
	require.Len(t, outs, 1)
	return outs[0]
}

// startRead has the guest pread length bytes at offset of h, which waits
// for the read's one output, and returns that output.
func startRead(t *testing.T, w *world, h linux.Handle, length int, offset int64) outputs.Output {
	t.Helper()
	_, errno := w.Pread(h, length, offset)
	require.Equal(t, linux.EAGAIN, errno)
	return oneOutput(t, w)
}

func TestDiskPathsAreTheBootEntrys(t *testing.T) {
	w := diskWorldForTest(t)
	for _, name := range []string{"journal.3", "other.1", "journal", "../journal.1"} {
		_, errno := w.Open("/dev/synod/"+name, linux.O_RDWR, 0)
		assert.Equal(t, linux.ENOENT, errno, name)
	}
	st, errno := w.StatPath("/dev/synod/journal.2", true)
	require.Zero(t, errno)
	assert.Equal(t, int64(testDiskSize), st.Size)
	h := openPath(t, w, "journal.1")
	end, errno := w.Seek(h, 0, io.SeekEnd)
	require.Zero(t, errno)
	assert.Equal(t, int64(testDiskSize), end)
}

// A write is an output to the path's node; the guest waits until that
// node, and only that node, completes it.
func TestDiskWriteWaitsForItsCompletion(t *testing.T) {
	w := diskWorldForTest(t)
	h := openPath(t, w, "journal.1")
	_, errno := w.Pwrite(h, []byte("record 1"), 4096)
	require.Equal(t, linux.EAGAIN, errno)
	o := oneOutput(t, w)
	assert.Equal(t, outputs.Output{Seq: o.Seq, Node: 1, Action: outputs.DiskWrite{Disk: "journal", Offset: 4096, Data: []byte("record 1")}}, o)
	assert.Equal(t, []outputs.Output{o}, w.owed(1).Disk, "node 1 owes the completion")
	assert.Zero(t, w.poll(h), "not ready until completed")

	_, errno = w.Pwrite(h, []byte("record 1"), 4096)
	require.Equal(t, linux.EAGAIN, errno, "a retry before the completion waits on")
	assert.Empty(t, w.drain(), "and emits nothing")

	w.deliver(0, entry.Completion{Node: 2, Seq: o.Seq, N: 8})
	assert.Zero(t, w.poll(h), "node 2 cannot complete node 1's output")

	w.deliver(0, entry.Completion{Node: 1, Seq: o.Seq, N: 8})
	assert.NotZero(t, w.poll(h)&linux.PollOut)
	n, errno := w.Pwrite(h, []byte("record 1"), 4096)
	require.Zero(t, errno)
	assert.Equal(t, 8, n)
	assert.Empty(t, w.owed(1).Disk)

	w.deliver(0, entry.Completion{Node: 1, Seq: o.Seq, N: 8})
	_, errno = w.Pwrite(h, []byte("record 2"), 8192)
	require.Equal(t, linux.EAGAIN, errno, "a duplicate completion changes nothing")
}

func TestDiskReadReturnsTheCompletionsData(t *testing.T) {
	w := diskWorldForTest(t)
	h := openPath(t, w, "journal.2")
	o := startRead(t, w, h, 6, 10)
	assert.Equal(t, outputs.DiskRead{Disk: "journal", Offset: 10, Length: 6}, o.Action)
	assert.Equal(t, consensus.NodeID(2), o.Node)
	w.deliver(0, entry.Completion{Node: 2, Seq: o.Seq, Data: []byte("abcdefgh")})
	b, errno := w.Pread(h, 6, 10)
	require.Zero(t, errno)
	assert.Equal(t, "abcdef", string(b), "never more than asked for")

	w.deliver(0, entry.Completion{Node: 2, Seq: o.Seq + 1})
	_, errno = w.Read(h, 4)
	require.Equal(t, linux.EAGAIN, errno)
	o = oneOutput(t, w)
	assert.Equal(t, outputs.DiskRead{Disk: "journal", Offset: 0, Length: 4}, o.Action, "read uses the file position")
	w.deliver(0, entry.Completion{Node: 2, Seq: o.Seq, Errno: uint32(linux.EIO)})
	_, errno = w.Read(h, 4)
	assert.Equal(t, linux.EIO, errno, "the disk's error reaches the guest")
}

// A read's answer in parts (a Byzantine engine's requests are smaller
// than a read) reaches the guest whole once its last part commits; a part
// proposed twice counts once, and one after a lost part waits for the
// node to answer again.
func TestDiskReadAnsweredInParts(t *testing.T) {
	w := diskWorldForTest(t)
	h := openPath(t, w, "journal.1")
	o := startRead(t, w, h, 10, 0)
	parts := entry.Completion{Node: 1, Seq: o.Seq, Data: []byte("0123456789")}.Parts(4)
	require.Len(t, parts, 3)

	w.deliver(0, parts[0])
	w.deliver(0, parts[2])
	assert.Zero(t, w.poll(h), "a part after a lost one is not taken")
	w.deliver(0, parts[0])
	w.deliver(0, parts[1])
	assert.Zero(t, w.poll(h), "not ready before the last part")
	assert.Equal(t, []outputs.Output{o}, w.owed(1).Disk, "node 1 still owes the answer")
	w.deliver(0, parts[2])
	b, errno := w.Pread(h, 10, 0)
	require.Zero(t, errno)
	assert.Equal(t, "0123456789", string(b))
	assert.Empty(t, w.owed(1).Disk)
}

// When a node is declared down, its outstanding I/O completes as
// uncertain and its paths fail at once until it is up again; the other
// node's path to the same disk carries on.
func TestDiskPathsOfANodeDownFailFast(t *testing.T) {
	w := diskWorldForTest(t)
	p1, p2 := openPath(t, w, "journal.1"), openPath(t, w, "journal.2")
	_, errno := w.Pwrite(p1, []byte("x"), 0)
	require.Equal(t, linux.EAGAIN, errno)
	lost := oneOutput(t, w)

	w.deliver(0, entry.NodeDown{Node: 1})
	w.drain() // the random pool's refill moves to another node
	assert.NotZero(t, w.poll(p1))
	_, errno = w.Pwrite(p1, []byte("x"), 0)
	assert.Equal(t, linux.EIO, errno, "uncertain")
	_, errno = w.Pread(p1, 1, 0)
	assert.Equal(t, linux.EIO, errno, "fails fast while down")
	assert.Empty(t, w.drain())
	w.deliver(0, entry.Completion{Node: 1, Seq: lost.Seq, N: 1})
	_, errno = w.Pread(p1, 1, 0)
	assert.Equal(t, linux.EIO, errno, "a late completion changes nothing")

	_, errno = w.Pwrite(p2, []byte("x"), 0)
	require.Equal(t, linux.EAGAIN, errno)
	assert.Equal(t, consensus.NodeID(2), oneOutput(t, w).Node, "the other path works")

	w.deliver(0, entry.NodeUp{Node: 1})
	w.drain()
	_, errno = w.Pread(p1, 1, 0)
	assert.Equal(t, linux.EAGAIN, errno, "back once up")
}

func TestDiskBounds(t *testing.T) {
	w := diskWorldForTest(t)
	h := openPath(t, w, "journal.1")
	b, errno := w.Pread(h, 10, testDiskSize)
	assert.Zero(t, errno)
	assert.Empty(t, b, "end of disk")
	_, errno = w.Pwrite(h, []byte("x"), testDiskSize)
	assert.Equal(t, linux.ENOSPC, errno)
	_, errno = w.Pread(h, 1, -1)
	assert.Equal(t, linux.EINVAL, errno)
	_, errno = w.Pwrite(h, []byte("abcd"), testDiskSize-2)
	require.Equal(t, linux.EAGAIN, errno)
	assert.Equal(t, outputs.DiskWrite{Disk: "journal", Offset: testDiskSize - 2, Data: []byte("ab")}, oneOutput(t, w).Action,
		"a write across the end is cut at it")

	long := openPath(t, w, "journal.1")
	_, errno = w.Pread(long, 1<<20, 0)
	require.Equal(t, linux.EAGAIN, errno)
	assert.Equal(t, outputs.DiskRead{Disk: "journal", Offset: 0, Length: maxDiskIO}, oneOutput(t, w).Action,
		"a long read is cut to a short one")

	ro, errno := w.Open("/dev/synod/journal.2", linux.O_RDONLY, 0)
	require.Zero(t, errno)
	_, errno = w.Pwrite(ro, []byte("x"), 0)
	assert.Equal(t, linux.EBADF, errno)
}

// A snapshot taken while an I/O is outstanding restores it: the
// completion that commits after the snapshot still wakes the guest.
func TestDiskStateRoundTrip(t *testing.T) {
	w := diskWorldForTest(t)
	h := openPath(t, w, "journal.1")
	_, errno := w.Pwrite(h, []byte("abc"), 100)
	require.Equal(t, linux.EAGAIN, errno)
	o := oneOutput(t, w)
	done := openPath(t, w, "journal.2")
	_, errno = w.Seek(done, 7, io.SeekStart)
	require.Zero(t, errno)

	enc := w.encode()
	again, err := decodeWorld(enc)
	require.NoError(t, err)
	reenc := again.encode()
	require.Equal(t, string(enc), string(reenc), "the encoding is canonical")

	assert.Equal(t, []outputs.Output{o}, again.owed(1).Disk)
	again.deliver(0, entry.Completion{Node: 1, Seq: o.Seq, N: 3})
	n, errno := again.Pwrite(h, []byte("abc"), 100)
	require.Zero(t, errno)
	assert.Equal(t, 3, n)
	pos, errno := again.Seek(done, 0, io.SeekCurrent)
	require.Zero(t, errno)
	assert.Equal(t, int64(7), pos)
}
