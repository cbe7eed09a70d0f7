package replica

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/machine/linux"
	"github.com/synodvm/synod/outputs"
)

func testWorld(t *testing.T) *world {
	t.Helper()
	w := newWorld(entry.Boot{
		Time:                1_000_000,
		NanosPerInstruction: 10,
		Members:             []consensus.NodeID{3, 1, 2},
		AuxRandom:           [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
	}, nil)
	require.Equal(t, []outputs.Output{{Seq: 1, Node: 1, Action: outputs.Refill{Bytes: randomBatch}}}, w.drain(),
		"the pool starts below the low-water mark: the first live node refills it")
	return w
}

// listenOn makes the guest listen on port and returns the listener handle.
func listenOn(t *testing.T, w *world, port uint16) linux.Handle {
	t.Helper()
	h, errno := w.Socket(linux.AF_INET, linux.SOCK_STREAM, 0)
	require.Zero(t, errno)
	require.Zero(t, w.Bind(h, netip.AddrPortFrom(netip.IPv4Unspecified(), port)))
	require.Zero(t, w.Listen(h, 16))
	return h
}

func kinds(outs []outputs.Output) []string {
	var s []string
	for _, o := range outs {
		s = append(s, o.Action.String())
	}
	return s
}

func TestWorldClientConversation(t *testing.T) {
	w := testWorld(t)
	l := listenOn(t, w, 6379)
	listens := w.drain()
	require.Len(t, listens, 3, "every live node serves the port")
	for i, o := range listens {
		require.Equal(t, consensus.NodeID(i+1), o.Node)
		require.Equal(t, outputs.Listen{Port: 6379}, o.Action)
	}

	_, _, errno := w.Accept(l)
	require.Equal(t, linux.EAGAIN, errno)
	ready := make([]linux.PollEvents, 1)
	w.Poll([]linux.PollRequest{{Handle: l, Events: linux.PollIn}}, ready)
	require.Zero(t, ready[0])

	conn := entry.ConnID{Node: 2, Serial: 77}
	w.deliver(0, entry.ConnOpen{Conn: conn, Port: 6379, PeerIP: [4]byte{127, 0, 0, 1}, PeerPort: 4000})
	w.Poll([]linux.PollRequest{{Handle: l, Events: linux.PollIn}}, ready)
	require.Equal(t, linux.PollIn, ready[0])
	c, peer, errno := w.Accept(l)
	require.Zero(t, errno)
	require.Equal(t, "127.0.0.1:4000", peer.String())

	_, errno = w.Read(c, 100)
	require.Equal(t, linux.EAGAIN, errno)
	w.deliver(0, entry.ConnData{Conn: conn, Offset: 0, Data: []byte("PING\r\n")})
	got, errno := w.Read(c, 100)
	require.Zero(t, errno)
	require.Equal(t, "PING\r\n", string(got))

	n, errno := w.Write(c, []byte("+PONG\r\n"))
	require.Zero(t, errno)
	require.Equal(t, 7, n)
	require.Equal(t, []outputs.Output{{Seq: 5, Node: 2, Action: outputs.Send{Conn: conn, Data: []byte("+PONG\r\n")}}}, w.drain(),
		"the reply is performed by the node the client is connected to")

	w.deliver(0, entry.ConnClose{Conn: conn})
	got, errno = w.Read(c, 100)
	require.Zero(t, errno)
	require.Empty(t, got, "end of file after the client closed")
	require.Zero(t, w.Close(c))
	require.Equal(t, []string{"close conn 2/77"}, kinds(w.drain()))
	require.Empty(t, w.conns)
}

func TestWorldStreamIntegrity(t *testing.T) {
	w := testWorld(t)
	l := listenOn(t, w, 80)
	w.drain()
	conn := entry.ConnID{Node: 1, Serial: 1}
	w.deliver(0, entry.ConnOpen{Conn: conn, Port: 80})
	c, _, _ := w.Accept(l)

	w.deliver(0, entry.ConnData{Conn: conn, Offset: 0, Data: []byte("abc")})
	w.deliver(0, entry.ConnData{Conn: conn, Offset: 0, Data: []byte("abc")}) // duplicate
	w.deliver(0, entry.ConnData{Conn: conn, Offset: 2, Data: []byte("cde")}) // overlaps by one
	got, _ := w.Read(c, 100)
	require.Equal(t, "abcde", string(got), "duplicates and overlaps are trimmed")
	require.Empty(t, w.drain())

	w.deliver(0, entry.ConnData{Conn: conn, Offset: 9, Data: []byte("zz")}) // bytes 5..8 lost
	_, errno := w.Read(c, 100)
	require.Equal(t, linux.EAGAIN, errno, "bytes after a hole wait for the hole to be filled")
	w.deliver(0, entry.ConnData{Conn: conn, Offset: 5, Data: []byte("fghi")})
	w.deliver(0, entry.ConnData{Conn: conn, Offset: 9, Data: []byte("zz")})
	got, errno = w.Read(c, 100)
	require.Zero(t, errno)
	require.Equal(t, "fghizz", string(got), "the node's retransmission fills the hole")
	require.Empty(t, w.drain())
}

func TestWorldRefusesConnectionsItCannotTake(t *testing.T) {
	w := testWorld(t)
	w.deliver(0, entry.ConnOpen{Conn: entry.ConnID{Node: 3, Serial: 9}, Port: 8080})
	require.Equal(t, []outputs.Output{{Seq: 2, Node: 3, Action: outputs.RefuseConn{
		Conn: entry.ConnID{Node: 3, Serial: 9}, Reason: "nothing listens on the guest port"}}}, w.drain())

	l, _ := w.Socket(linux.AF_INET, linux.SOCK_STREAM, 0)
	require.Zero(t, w.Bind(l, netip.AddrPortFrom(netip.IPv4Unspecified(), 8080)))
	require.Zero(t, w.Listen(l, 1))
	w.drain()
	w.deliver(0, entry.ConnOpen{Conn: entry.ConnID{Node: 3, Serial: 10}, Port: 8080})
	w.deliver(0, entry.ConnOpen{Conn: entry.ConnID{Node: 3, Serial: 11}, Port: 8080})
	require.Equal(t, []string{"refuse conn 3/11: the guest's listen queue is full"}, kinds(w.drain()))
	c, _, errno := w.Accept(l)
	require.Zero(t, errno)
	w.deliver(0, entry.ConnOpen{Conn: entry.ConnID{Node: 3, Serial: 12}, Port: 8080})
	require.Empty(t, w.drain(), "once the guest accepts, the queue has room again")
	require.Zero(t, w.Close(c))
	require.Equal(t, []string{"close conn 3/10"}, kinds(w.drain()))
}

// A connection's opening ordered a second time (a node proposed it again,
// and the first proposal was ordered after all, long after the retry) is
// no new connection: once the guest has closed and forgotten the
// connection, its bytes must not run again. Nor does an opening ordered
// after a later connection of the same node, whose serials only grow.
func TestWorldOpensEachConnectionOnce(t *testing.T) {
	w := testWorld(t)
	l := listenOn(t, w, 6379)
	w.drain()
	first := entry.ConnID{Node: 2, Serial: 50}
	w.deliver(0, entry.ConnOpen{Conn: first, Port: 6379})
	w.deliver(0, entry.ConnData{Conn: first, Data: []byte("SET k old\r\n")})
	c, _, errno := w.Accept(l)
	require.Zero(t, errno)
	got, errno := w.Read(c, 100)
	require.Zero(t, errno)
	require.Equal(t, "SET k old\r\n", string(got))
	require.Zero(t, w.Close(c))
	w.drain()

	w.deliver(0, entry.ConnOpen{Conn: first, Port: 6379})
	w.deliver(0, entry.ConnData{Conn: first, Data: []byte("SET k old\r\n")})
	_, _, errno = w.Accept(l)
	require.Equal(t, linux.EAGAIN, errno, "the late opening is not a new connection")
	require.Equal(t, []string{"refuse conn 2/50: its node opened this connection or a later one before"}, kinds(w.drain()))

	w.deliver(0, entry.ConnOpen{Conn: entry.ConnID{Node: 2, Serial: 49}, Port: 6379})
	require.Equal(t, []string{"refuse conn 2/49: its node opened this connection or a later one before"}, kinds(w.drain()))
	_, _, errno = w.Accept(l)
	require.Equal(t, linux.EAGAIN, errno)

	w.deliver(0, entry.ConnOpen{Conn: entry.ConnID{Node: 3, Serial: 7}, Port: 6379})
	_, _, errno = w.Accept(l)
	require.Zero(t, errno, "serials are per node")
}

func TestWorldNodeDown(t *testing.T) {
	w := testWorld(t)
	l := listenOn(t, w, 6379)
	w.drain()
	on1 := entry.ConnID{Node: 1, Serial: 1}
	on2 := entry.ConnID{Node: 2, Serial: 1}
	w.deliver(0, entry.ConnOpen{Conn: on1, Port: 6379})
	w.deliver(0, entry.ConnOpen{Conn: on2, Port: 6379})
	c1, _, _ := w.Accept(l)
	c2, _, _ := w.Accept(l)

	w.deliver(0, entry.NodeDown{Node: 1})
	require.Equal(t, []outputs.Output{
		{Seq: 5, Node: 1, Action: outputs.CloseConn{Conn: on1}},
		{Seq: 6, Node: 3, Action: outputs.Refill{Bytes: randomBatch}},
	}, w.drain(), "node 1 hangs up on its clients if it is still running; "+
		"its outstanding refill moves on, round robin over the live nodes 2 and 3")
	got, errno := w.Read(c1, 10)
	require.Zero(t, errno)
	require.Empty(t, got, "connections through the dead node end")
	_, errno = w.Read(c2, 10)
	require.Equal(t, linux.EAGAIN, errno, "other connections carry on")

	_, errno = w.Write(linux.Stdout, []byte("hello\n"))
	require.Zero(t, errno)
	require.Equal(t, []outputs.Output{{Seq: 7, Node: 2, Action: outputs.Console{Stream: 1, Data: []byte("hello\n")}}}, w.drain(),
		"the console moves to the lowest live node")
	_, errno = w.Write(c1, []byte("late reply"))
	require.Equal(t, linux.EPIPE, errno)
	require.Zero(t, w.Close(c1))
	require.Empty(t, w.drain(), "the connection was closed once")

	late := entry.ConnID{Node: 1, Serial: 2}
	w.deliver(0, entry.ConnOpen{Conn: late, Port: 6379})
	require.Equal(t, []outputs.Output{{Seq: 8, Node: 1, Action: outputs.RefuseConn{Conn: late, Reason: "its node was declared down"}}}, w.drain(),
		"a connection node 1 accepted that reaches the log after node 1 was declared down is refused")
	_, _, errno = w.Accept(l)
	require.Equal(t, linux.EAGAIN, errno)

	w.deliver(0, entry.NodeUp{Node: 1})
	require.Equal(t, []outputs.Output{{Seq: 9, Node: 1, Action: outputs.Listen{Port: 6379}}}, w.drain(),
		"a node back up serves the guest's ports again")
}

// Console output its node has not acknowledged is performed again by the
// next console node when that node fails; acknowledged output is not.
func TestWorldConsoleSurvivesItsNode(t *testing.T) {
	w := testWorld(t)
	console := func(s string) {
		t.Helper()
		_, errno := w.Write(linux.Stdout, []byte(s))
		require.Zero(t, errno)
	}
	console("one\n")
	console("two\n")
	console("three\n")
	require.Equal(t, []outputs.Output{
		{Seq: 2, Node: 1, Action: outputs.Console{Stream: 1, Data: []byte("one\n")}},
		{Seq: 3, Node: 1, Action: outputs.Console{Stream: 1, Data: []byte("two\n")}},
		{Seq: 4, Node: 1, Action: outputs.Console{Stream: 1, Data: []byte("three\n")}},
	}, w.drain())
	w.deliver(0, entry.ConsoleDone{Node: 1, Seq: 3})
	w.deliver(0, entry.ConsoleDone{Node: 2, Seq: 4}) // not node 2's output: no effect
	require.Empty(t, w.drain())

	w.deliver(0, entry.NodeDown{Node: 1})
	require.Equal(t, []outputs.Output{
		{Seq: 5, Node: 3, Action: outputs.Refill{Bytes: randomBatch}},
		{Seq: 6, Node: 2, Action: outputs.Console{Stream: 1, Data: []byte("three\n")}},
	}, w.drain(), "what node 1 had not acknowledged, node 2 performs")
	console("four\n")
	require.Equal(t, []string{"console 1: 5 bytes"}, kinds(w.drain()))

	enc := w.encode()
	again, err := decodeWorld(enc)
	require.NoError(t, err)
	again.deliver(0, entry.NodeDown{Node: 2})
	require.Equal(t, []outputs.Output{
		{Seq: 8, Node: 3, Action: outputs.Console{Stream: 1, Data: []byte("three\n")}},
		{Seq: 9, Node: 3, Action: outputs.Console{Stream: 1, Data: []byte("four\n")}},
	}, again.drain(), "a snapshot keeps the unacknowledged output")
}

func TestWorldRandomPool(t *testing.T) {
	w := testWorld(t)
	require.Equal(t, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, w.Random(100),
		"the boot entry's bytes come first (AT_RANDOM)")
	require.Empty(t, w.Random(8), "dry until the refill lands")
	require.Empty(t, w.drain(), "one refill outstanding at a time")

	w.deliver(0, entry.Random{Node: 2, Data: bytes.Repeat([]byte{0xee}, randomBatch)})
	require.Empty(t, w.Random(8), "a batch no refill asked for is no random bytes")
	w.deliver(0, entry.Random{Node: 1, Data: make([]byte, randomBatch)})
	w.deliver(0, entry.Random{Node: 1, Data: bytes.Repeat([]byte{0xee}, randomBatch)})
	require.Equal(t, make([]byte, randomBatch), w.Random(2*randomBatch), "the batch asked for, not its repeat")
	require.Equal(t, []outputs.Output{{Seq: 2, Node: 2, Action: outputs.Refill{Bytes: randomBatch}}}, w.drain(),
		"below the low-water mark the next node, round robin, refills")
}

func TestWorldClock(t *testing.T) {
	w := testWorld(t)
	require.Equal(t, int64(1_000_000), w.Clock(0).Realtime)
	require.Equal(t, int64(1_000_500), w.Clock(50).Realtime, "time runs with instructions")

	w.deliver(100, entry.Seal{Time: 5_000_000})
	require.Equal(t, int64(5_000_000), w.Clock(100).Realtime, "a seal carries the clock forward")
	w.deliver(200, entry.Seal{Time: 10})
	require.Equal(t, int64(5_001_000), w.Clock(200).Realtime, "and never backwards")
	require.Equal(t, int64(5_001_000-1_000_000+monotonicOrigin), w.Clock(200).Monotonic)
}

func TestWorldStateRoundTrip(t *testing.T) {
	w := testWorld(t)
	l := listenOn(t, w, 6379)
	conn := entry.ConnID{Node: 2, Serial: 5}
	w.deliver(0, entry.ConnOpen{Conn: conn, Port: 6379, PeerIP: [4]byte{10, 0, 0, 1}, PeerPort: 9})
	c, _, _ := w.Accept(l)
	w.deliver(0, entry.ConnData{Conn: conn, Data: []byte("GET k\r\n")})
	w.deliver(0, entry.ConnOpen{Conn: entry.ConnID{Node: 3, Serial: 1}, Port: 6379})
	w.deliver(0, entry.NodeDown{Node: 1})
	w.deliver(30, entry.Seal{Time: 7_000_000})
	w.drain()

	enc := w.encode()
	again, err := decodeWorld(enc)
	require.NoError(t, err)
	reenc := again.encode()
	require.Equal(t, enc, reenc, "the encoding is canonical")

	got, errno := again.Read(c, 100)
	require.Zero(t, errno)
	require.Equal(t, "GET k\r\n", string(got), "the restored world carries on")
	_, _, errno = again.Accept(l)
	require.Zero(t, errno)

	_, err = decodeWorld([]byte("{"))
	require.Error(t, err)
}

// TestWorldFiles: the guest's files live in the world: a boot without a
// root starts empty, what the guest writes it reads back (also after the
// world went through its encoding, as in a snapshot), the console and
// sockets keep fixed metadata, and device files stay under /dev/synod.
func TestWorldFiles(t *testing.T) {
	w := testWorld(t)
	_, errno := w.Open("/etc/passwd", linux.O_RDONLY, 0)
	require.Equal(t, linux.ENOENT, errno, "the root starts empty")
	require.Zero(t, w.Mkdir("/tmp", 0o1777))
	h, errno := w.Open("/tmp/out", linux.O_CREAT|linux.O_WRONLY, 0o644)
	require.Zero(t, errno)
	n, errno := w.Write(h, []byte("written once"))
	require.Zero(t, errno)
	require.Equal(t, 12, n)
	st, errno := w.StatPath("/tmp/out", true)
	require.Zero(t, errno)
	require.Equal(t, int64(12), st.Size)
	require.Equal(t, int64(1_000_000), st.Mtime, "the guest time of the last seal")

	again, err := decodeWorld(w.encode())
	require.NoError(t, err)
	_, errno = again.Write(h, []byte(", twice"))
	require.Zero(t, errno, "the restored world keeps the file open at its position")
	require.Zero(t, again.Close(h))
	r, errno := again.Open("/tmp/out", linux.O_RDONLY, 0)
	require.Zero(t, errno)
	got, errno := again.Read(r, 100)
	require.Zero(t, errno)
	require.Equal(t, "written once, twice", string(got))

	fs, errno := again.Statfs(linux.FileRef{Handle: r})
	require.Zero(t, errno)
	require.Equal(t, uint32(linux.TMPFS_MAGIC), fs.Type)
	fs, errno = again.Statfs(linux.FileRef{Handle: linux.Stdout})
	require.Zero(t, errno)
	require.Equal(t, linux.PipeFS, fs)
	fs, errno = again.Statfs(linux.FileRef{Handle: listenOn(t, again, 80)})
	require.Zero(t, errno)
	require.Equal(t, linux.SockFS, fs)
	_, errno = again.Statfs(linux.FileRef{Handle: 999})
	require.Equal(t, linux.EBADF, errno)

	require.Equal(t, linux.ENOTDIR, again.Chdir(linux.FileRef{Handle: linux.Stdin}))
	require.Equal(t, linux.EPERM, again.Chown(linux.FileRef{Handle: linux.Stdout}, 0, 0))
	require.Equal(t, linux.EBADF, again.SetTimes(linux.FileRef{Handle: 999}, linux.Timespec{}, linux.Timespec{}))
	require.Zero(t, again.Chdir(linux.FileRef{Path: "/tmp", Follow: true}))
	cwd, errno := again.Getcwd()
	require.Zero(t, errno)
	require.Equal(t, "/tmp", cwd)
	_, errno = again.Open("/dev/synod/none.1", linux.O_RDONLY, 0)
	require.Equal(t, linux.ENOENT, errno, "device files are the disks the boot names")
}
