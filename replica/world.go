package replica

import (
	"net/netip"
	"slices"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/internal/planted"
	"github.com/synodvm/synod/machine/linux"
	"github.com/synodvm/synod/machine/linux/fstree"
	"github.com/synodvm/synod/outputs"
)

// Bounds on the replicated world, so that no client can make every replica
// grow without limit. Crossing one is decided identically everywhere,
// because it depends only on delivered entries.
const (
	maxConns       = 4096
	maxConnBuffer  = 4 << 20 // undelivered client bytes per connection
	maxBacklog     = 1024
	randomLowWater = 4096
	randomBatch    = 16384
	maxRandomPool  = 1 << 20
	firstEphemeral = 32768
	// maxUnackedConsole bounds the console output kept until its node
	// acknowledges it; beyond it the oldest is forgotten, and would be
	// lost if that node failed before acknowledging.
	maxUnackedConsole = 1 << 20
)

// world is the replicated machine's environment (a linux.Env): everything
// the guest can learn from outside, answered from state that changes only
// when the log delivers an entry. It is replicated state itself: snapshots
// and state hashes include it (see worldstate.go).
type world struct {
	nanosPerInstruction uint64
	bootTime            int64  // guest realtime at boot
	timeBase            int64  // guest realtime at instruction timeInstr
	timeInstr           uint64 // process instruction count at timeBase

	members []consensus.NodeID // in id order
	down    map[consensus.NodeID]bool

	pool        []byte
	refillNode  consensus.NodeID // zero when no refill is outstanding
	refillCount uint64
	// randomContributors, draw and passedOver are a Byzantine cluster's
	// random draws (world_random.go).
	randomContributors uint64
	draw               *randomDraw // nil when none is outstanding
	passedOver         map[consensus.NodeID]bool

	nextHandle linux.Handle
	objects    map[linux.Handle]*object
	listeners  map[uint16]linux.Handle
	conns      map[entry.ConnID]*vconn
	// connSerials is, for each node, the highest connection serial whose
	// opening was ordered: a node numbers its connections in increasing
	// order, so an opening at or below it was ordered before, or after a
	// later one (see connOpen).
	connSerials   map[consensus.NodeID]uint64
	nextEphemeral uint16

	// console is the console output its node has not acknowledged yet
	// (entry.ConsoleDone), oldest first, and consoleBytes its size.
	console      []consoleRecord
	consoleBytes int

	disks diskWorld
	files *fstree.Tree // the guest's file system (world_files.go)
	stdin consoleInput

	seq uint64
	out []outputs.Output // produced since the runtime last drained them

	counts deliveryCounts
}

// deliveryCounts count what this replica delivered into the world, for
// operators (Status). They are not replicated state: worldState leaves
// them out, so neither state hashes nor snapshots see them, and Restore
// carries them over from the world it replaces.
type deliveryCounts struct {
	inputBytes    uint64 // client bytes taken into the guest's connections
	randomBatches uint64 // random batches delivered to the pool
}

// consoleRecord is one console output awaiting its node's acknowledgement.
// If that node is declared down first, the next console node performs it
// again: across a failover console output may repeat, but is not lost.
type consoleRecord struct {
	Seq    uint64
	Node   consensus.NodeID
	Stream int
	Data   []byte
}

// output is the console output c records, as the replica emitted it.
func (c consoleRecord) output() outputs.Output {
	return outputs.Output{Seq: c.Seq, Node: c.Node, Action: outputs.Console{Stream: c.Stream, Data: c.Data}}
}

type objectKind uint8

const (
	kindConsole  objectKind = iota + 1
	kindSocket              // created, maybe bound, neither listening nor connected
	kindListener            // listening on port
	kindConn                // an accepted client connection
	kindDisk                // a device file under /dev/synod (world_disk.go)
	kindFile                // a file of the tree (world_files.go)
)

type object struct {
	kind    objectKind
	port    uint16         // bound port (socket, listener)
	backlog []entry.ConnID // listener: connections not yet accepted
	limit   int            // listener: backlog bound
	conn    entry.ConnID   // conn: which one
	// vc is conn's state, which lives as long as the object: the guest
	// polls every client's descriptor each time it waits, and finding
	// each in w.conns was half of what polling cost. Not state: restore
	// sets it again from w.conns.
	vc   *vconn
	file *fstree.File // file: the open file
}

// vconn is a client connection as the guest sees it.
type vconn struct {
	port       uint16 // the guest port the client connected to
	peer       netip.AddrPort
	in         []byte // delivered, not yet read by the guest
	nextOffset uint64 // stream offset of the next byte expected
	peerClosed bool   // the client is gone: reads drain in, then see EOF
	guestShut  bool   // the guest shut down or closed its side
}

// newWorld is the world of a machine booted by boot, with files as its
// file system (nil: an empty root).
func newWorld(boot entry.Boot, files *fstree.Tree) *world {
	if files == nil {
		files = fstree.New()
	}
	files.Touch(boot.Time)
	w := &world{
		nanosPerInstruction: boot.NanosPerInstruction,
		bootTime:            boot.Time,
		timeBase:            boot.Time,
		members:             slices.Sorted(slices.Values(boot.Members)),
		down:                map[consensus.NodeID]bool{},
		randomContributors:  boot.RandomContributors,
		passedOver:          map[consensus.NodeID]bool{},
		objects:             map[linux.Handle]*object{},
		listeners:           map[uint16]linux.Handle{},
		conns:               map[entry.ConnID]*vconn{},
		connSerials:         map[consensus.NodeID]uint64{},
		nextEphemeral:       firstEphemeral,
		nextHandle:          linux.Stderr + 1,
		disks:               newDiskWorld(boot.Disks),
		files:               files,
		stdin:               consoleInput{Fed: boot.ConsoleInput},
	}
	for _, h := range []linux.Handle{linux.Stdin, linux.Stdout, linux.Stderr} {
		w.objects[h] = &object{kind: kindConsole}
	}
	// The kernel takes the guest's AT_RANDOM bytes from the pool at load.
	w.pool = append(w.pool, boot.AuxRandom[:]...)
	w.refill()
	return w
}

// emit queues an output for the node that must perform it.
func (w *world) emit(node consensus.NodeID, a outputs.Action) {
	w.seq++
	w.out = append(w.out, outputs.Output{Seq: w.seq, Node: node, Action: a})
}

// emitConsole sends console output to the console node and keeps it until
// that node acknowledges it.
func (w *world) emitConsole(stream int, data []byte) {
	node := w.consoleNode()
	if node == 0 {
		return
	}
	w.emit(node, outputs.Console{Stream: stream, Data: data})
	w.console = append(w.console, consoleRecord{Seq: w.seq, Node: node, Stream: stream, Data: data})
	w.consoleBytes += len(data)
	for w.consoleBytes > maxUnackedConsole {
		w.consoleBytes -= len(w.console[0].Data)
		w.console = w.console[1:]
	}
}

// consoleDone forgets the console output node has performed.
func (w *world) consoleDone(e entry.ConsoleDone) {
	w.console = slices.DeleteFunc(w.console, func(r consoleRecord) bool {
		if r.Node == e.Node && r.Seq <= e.Seq {
			w.consoleBytes -= len(r.Data)
			return true
		}
		return false
	})
}

// drain returns the outputs produced since the last call.
func (w *world) drain() []outputs.Output {
	out := w.out
	w.out = nil
	return out
}

func (w *world) live() []consensus.NodeID {
	var l []consensus.NodeID
	for _, m := range w.members {
		if !w.down[m] {
			l = append(l, m)
		}
	}
	return l
}

// consoleNode performs console output: the live node with the lowest id,
// so it moves deterministically when that node is declared down.
func (w *world) consoleNode() consensus.NodeID {
	if l := w.live(); len(l) > 0 {
		return l[0]
	}
	return 0
}

// setTime applies a delivered seal's clock at the current instruction
// count. Guest time never goes backwards, whatever the proposer's clock.
func (w *world) setTime(instructions uint64, t int64) {
	now := w.Clock(instructions).Realtime
	w.timeBase = max(now, t)
	w.timeInstr = instructions
}

// deliver applies one committed entry to the world.
func (w *world) deliver(instructions uint64, e entry.Entry) {
	w.checkDraw(w.Clock(instructions).Realtime)
	switch e := e.(type) {
	case entry.Seal:
		w.setTime(instructions, e.Time)
	case entry.ConnOpen:
		w.connOpen(e)
	case entry.ConnData:
		w.connData(e)
	case entry.ConnClose:
		if c := w.conns[e.Conn]; c != nil {
			c.peerClosed = true
		}
	case entry.Random:
		w.deliverRandom(e)
	case entry.RandomCommit:
		w.commit(e)
	case entry.NodeDown:
		w.nodeDown(e.Node)
	case entry.Completion:
		w.complete(e)
	case entry.ConsoleIn:
		w.stdin.deliver(e)
	case entry.ConsoleDone:
		w.consoleDone(e)
	case entry.NodeUp:
		if w.down[e.Node] {
			delete(w.down, e.Node)
			for _, port := range w.listenPorts() {
				w.emit(e.Node, outputs.Listen{Port: port})
			}
		}
	}
}

func (w *world) connOpen(e entry.ConnOpen) {
	if _, dup := w.conns[e.Conn]; dup {
		return
	}
	stale := e.Conn.Serial <= w.connSerials[e.Conn.Node]
	if !stale {
		w.connSerials[e.Conn.Node] = e.Conn.Serial
	}
	h, listening := w.listeners[e.Port]
	var reason string
	switch {
	case stale:
		// The same opening ordered twice (a node proposes its inputs
		// again when they seem lost, and the first proposal may be
		// ordered after all, long after): the connection may have come
		// and gone since, and must not run its bytes again. Or an opening
		// ordered after a later connection of its node, whose first
		// proposal was lost in a failover: refused, as the price of never
		// running a connection twice.
		reason = "its node opened this connection or a later one before"
	case !listening:
		reason = "nothing listens on the guest port"
	case w.down[e.Conn.Node]:
		// The node may still be running (paused, cut off, or catching
		// up) and holding the client: it must be told to hang up, or
		// the client waits for an answer that never comes.
		reason = "its node was declared down"
	case len(w.conns) >= maxConns:
		reason = "the guest has too many connections"
	case len(w.objects[h].backlog) >= w.objects[h].limit:
		// As a kernel with tcp_abort_on_overflow: the guest cannot run
		// between the connections one delivery brings, so a burst
		// larger than its backlog is refused beyond it.
		reason = "the guest's listen queue is full"
	}
	if reason != "" {
		w.emit(e.Conn.Node, outputs.RefuseConn{Conn: e.Conn, Reason: reason})
		return
	}
	l := w.objects[h]
	w.conns[e.Conn] = &vconn{
		port: e.Port,
		peer: netip.AddrPortFrom(netip.AddrFrom4(e.PeerIP), e.PeerPort),
	}
	l.backlog = append(l.backlog, e.Conn)
}

func (w *world) connData(e entry.ConnData) {
	c := w.conns[e.Conn]
	if c == nil || c.peerClosed {
		return
	}
	end := e.Offset + uint64(len(e.Data))
	switch {
	case end <= c.nextOffset:
		return // a duplicate
	case e.Offset > c.nextOffset:
		// A proposal before this one was lost. The guest must never see a
		// stream with a hole: drop this one too; the client's node
		// proposes everything from the hole on again.
		return
	}
	data := e.Data[c.nextOffset-e.Offset:]
	if len(c.in)+len(data) > maxConnBuffer {
		w.hangUp(e.Conn, c)
		return
	}
	c.in = append(c.in, data...)
	c.nextOffset = end
	w.counts.inputBytes += uint64(len(data))
}

// hangUp ends a client connection from the world's side: the guest reads
// what it has and then end of file; the client's node closes the socket.
func (w *world) hangUp(id entry.ConnID, c *vconn) {
	c.peerClosed = true
	if !c.guestShut {
		c.guestShut = true
		w.emit(id.Node, outputs.CloseConn{Conn: id})
	}
}

func (w *world) nodeDown(n consensus.NodeID) {
	if w.down[n] || !slices.Contains(w.members, n) {
		return
	}
	w.down[n] = true
	w.uncertainDisks(n)
	// The close goes to n all the same: a node declared down is often
	// alive (paused, cut off, slow) and keeps its clients' sockets open
	// until it delivers this entry; without the close they would wait
	// forever. In id order, so that every replica numbers them alike.
	var ids []entry.ConnID
	for id := range w.conns {
		if id.Node == n {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, compareConnID)
	for _, id := range ids {
		if planted.On(planted.DeadConnectionsOpen) {
			break
		}
		w.hangUp(id, w.conns[id])
	}
	if w.refillNode == n {
		w.refillNode = 0
		w.refill()
	}
	w.drawLostContributor(n)
	// Console output n may not have performed goes to the next console
	// node, in its original order.
	if to := w.consoleNode(); to != 0 {
		for i, r := range w.console {
			if r.Node == n {
				w.emit(to, outputs.Console{Stream: r.Stream, Data: r.Data})
				w.console[i].Node, w.console[i].Seq = to, w.seq
			}
		}
	}
}

// reachable reports whether input from outside the machine can reach
// the guest now (SealInfo.Unreachable).
func (w *world) reachable() bool {
	return len(w.listeners) > 0 || len(w.conns) > 0 || w.stdin.Fed && !w.stdin.EOF || len(w.disks.handles) > 0
}

func (w *world) listenPorts() []uint16 {
	var ports []uint16
	for p := range w.listeners {
		ports = append(ports, p)
	}
	slices.Sort(ports)
	return ports
}

func (w *world) owed(n consensus.NodeID) Owed {
	o := Owed{Refill: w.owedRefill(n), Disk: w.owedDisks(n)}
	for _, r := range w.console {
		if r.Node == n {
			o.Console = r.Seq
			break
		}
	}
	return o
}
