package replica

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/machine/canon"
	"github.com/synodvm/synod/machine/linux"
	"github.com/synodvm/synod/machine/linux/fstree"
)

// worldState is the world in canonical form: maps become slices sorted by
// key, so that equal worlds encode to equal bytes on every replica (the
// state hash depends on it) and a snapshot restores exactly.
type worldState struct {
	NanosPerInstruction uint64
	BootTime            int64
	TimeBase            int64
	TimeInstr           uint64
	Members             []consensus.NodeID
	Down                []consensus.NodeID
	Pool                []byte
	RefillNode          consensus.NodeID
	RefillCount         uint64
	RandomContributors  uint64
	Draw                *randomDraw
	PassedOver          []consensus.NodeID
	NextHandle          linux.Handle
	Objects             []objectState
	Conns               []connState
	ConnSerials         []nodeSerial // by node
	NextEphemeral       uint16
	Console             []consoleRecord
	Seq                 uint64
	DiskPaths           []entry.DiskPath // by name
	DiskHandles         []diskHandleState
	Stdin               consoleInput
	Files               *fstree.Tree
	OpenFiles           []openFileState // by handle
}

// nodeSerial is the highest connection serial of a node whose opening
// was ordered.
type nodeSerial struct {
	Node   consensus.NodeID
	Serial uint64
}

// openFileState is a handle open on a file of the tree.
type openFileState struct {
	Handle linux.Handle
	File   fstree.File
}

// diskHandleState is an open device file; which I/O awaits a completion
// follows from it (an IO not Done).
type diskHandleState struct {
	Handle   linux.Handle
	Path     string
	Writable bool
	Pos      int64
	IO       *diskIOState
}

type diskIOState struct {
	Seq    uint64
	Write  bool
	Offset int64
	Length int
	Data   []byte
	Done   bool
	Errno  linux.Errno
	N      int
}

type objectState struct {
	Handle  linux.Handle
	Kind    objectKind
	Port    uint16
	Backlog []entry.ConnID
	Limit   int
	Conn    entry.ConnID
}

type connState struct {
	ID         entry.ConnID
	Port       uint16
	Peer       netip.AddrPort
	In         []byte
	NextOffset uint64
	PeerClosed bool
	GuestShut  bool
}

func compareConnID(a, b entry.ConnID) int {
	return cmp.Or(cmp.Compare(a.Node, b.Node), cmp.Compare(a.Serial, b.Serial))
}

// state is the world in canonical form. Outputs not yet drained are not
// state: the runtime drains them before it snapshots or hashes. restore
// mirrors it; TestWorldStateRestoresEveryField fails when a field is
// added to one and not the other.
func (w *world) state() *worldState {
	s := &worldState{
		NanosPerInstruction: w.nanosPerInstruction,
		BootTime:            w.bootTime,
		TimeBase:            w.timeBase,
		TimeInstr:           w.timeInstr,
		Members:             w.members,
		Pool:                w.pool,
		RefillNode:          w.refillNode,
		RefillCount:         w.refillCount,
		RandomContributors:  w.randomContributors,
		Draw:                w.draw,
		NextHandle:          w.nextHandle,
		NextEphemeral:       w.nextEphemeral,
		Console:             w.console,
		Seq:                 w.seq,
	}
	for n := range w.down {
		s.Down = append(s.Down, n)
	}
	slices.Sort(s.Down)
	for n := range w.passedOver {
		s.PassedOver = append(s.PassedOver, n)
	}
	slices.Sort(s.PassedOver)
	for h, o := range w.objects {
		s.Objects = append(s.Objects, objectState{
			Handle: h, Kind: o.kind, Port: o.port, Backlog: o.backlog, Limit: o.limit, Conn: o.conn,
		})
		if o.file != nil {
			s.OpenFiles = append(s.OpenFiles, openFileState{Handle: h, File: *o.file})
		}
	}
	slices.SortFunc(s.Objects, func(a, b objectState) int { return cmp.Compare(a.Handle, b.Handle) })
	slices.SortFunc(s.OpenFiles, func(a, b openFileState) int { return cmp.Compare(a.Handle, b.Handle) })
	for id, c := range w.conns {
		s.Conns = append(s.Conns, connState{
			ID: id, Port: c.port, Peer: c.peer, In: c.in, NextOffset: c.nextOffset,
			PeerClosed: c.peerClosed, GuestShut: c.guestShut,
		})
	}
	slices.SortFunc(s.Conns, func(a, b connState) int { return compareConnID(a.ID, b.ID) })
	for n, serial := range w.connSerials {
		s.ConnSerials = append(s.ConnSerials, nodeSerial{Node: n, Serial: serial})
	}
	slices.SortFunc(s.ConnSerials, func(a, b nodeSerial) int { return cmp.Compare(a.Node, b.Node) })
	s.DiskPaths, s.DiskHandles = w.disks.state()
	s.Stdin = w.stdin
	s.Files = w.files
	return s
}

// restore rebuilds the world whose state is s. It refuses a state that
// state() cannot have made, such as lists out of order or repeated,
// since a restored world must encode to the bytes it came from.
func (s *worldState) restore() (*world, error) {
	if err := s.canonical(); err != nil {
		return nil, err
	}
	w := &world{
		nanosPerInstruction: s.NanosPerInstruction,
		bootTime:            s.BootTime,
		timeBase:            s.TimeBase,
		timeInstr:           s.TimeInstr,
		members:             s.Members,
		down:                map[consensus.NodeID]bool{},
		pool:                s.Pool,
		refillNode:          s.RefillNode,
		refillCount:         s.RefillCount,
		randomContributors:  s.RandomContributors,
		draw:                s.Draw,
		passedOver:          map[consensus.NodeID]bool{},
		nextHandle:          s.NextHandle,
		objects:             map[linux.Handle]*object{},
		listeners:           map[uint16]linux.Handle{},
		conns:               map[entry.ConnID]*vconn{},
		connSerials:         map[consensus.NodeID]uint64{},
		nextEphemeral:       s.NextEphemeral,
		console:             s.Console,
		seq:                 s.Seq,
	}
	for _, r := range s.Console {
		w.consoleBytes += len(r.Data)
	}
	for _, n := range s.Down {
		w.down[n] = true
	}
	for _, n := range s.PassedOver {
		w.passedOver[n] = true
	}
	for _, ns := range s.ConnSerials {
		w.connSerials[ns.Node] = ns.Serial
	}
	for _, o := range s.Objects {
		w.objects[o.Handle] = &object{kind: o.Kind, port: o.Port, backlog: o.Backlog, limit: o.Limit, conn: o.Conn}
		if o.Kind == kindListener {
			w.listeners[o.Port] = o.Handle
		}
	}
	for _, c := range s.Conns {
		w.conns[c.ID] = &vconn{
			port: c.Port, peer: c.Peer, in: c.In, nextOffset: c.NextOffset,
			peerClosed: c.PeerClosed, guestShut: c.GuestShut,
		}
	}
	w.disks = restoreDisks(s.DiskPaths, s.DiskHandles)
	w.stdin = s.Stdin
	w.files = s.Files
	var open []*fstree.File
	for _, f := range s.OpenFiles {
		o := w.objects[f.Handle]
		if o == nil || o.kind != kindFile {
			return nil, fmt.Errorf("handle %d has a file's state but is no file", f.Handle)
		}
		o.file = &f.File
		open = append(open, o.file)
	}
	for h, o := range w.objects {
		if o.kind == kindFile && o.file == nil {
			return nil, fmt.Errorf("handle %d is a file without its state", h)
		}
		if o.kind == kindConn {
			if o.vc = w.conns[o.conn]; o.vc == nil {
				return nil, fmt.Errorf("handle %d refers to unknown connection %v", h, o.conn)
			}
		}
		if o.kind == kindDisk && w.disks.handles[h] == nil {
			return nil, fmt.Errorf("handle %d is a device file without its state", h)
		}
	}
	if err := w.files.CheckOpen(open); err != nil {
		return nil, err
	}
	return w, nil
}

// canonical checks that the state's lists are in the order state() puts
// them in, each key once.
func (s *worldState) canonical() error {
	switch {
	case !increasing(s.Down, func(a, b consensus.NodeID) int { return cmp.Compare(a, b) }):
		return errors.New("down nodes out of order or repeated")
	case !increasing(s.PassedOver, func(a, b consensus.NodeID) int { return cmp.Compare(a, b) }):
		return errors.New("passed-over random contributors out of order or repeated")
	case s.Draw != nil && !increasing(s.Draw.Contributors, func(a, b contribution) int { return cmp.Compare(a.Node, b.Node) }):
		return errors.New("random contributors out of order or repeated")
	case !increasing(s.Objects, func(a, b objectState) int { return cmp.Compare(a.Handle, b.Handle) }):
		return errors.New("handles out of order or repeated")
	case !increasing(s.Conns, func(a, b connState) int { return compareConnID(a.ID, b.ID) }):
		return errors.New("connections out of order or repeated")
	case !increasing(s.ConnSerials, func(a, b nodeSerial) int { return cmp.Compare(a.Node, b.Node) }):
		return errors.New("connection serials out of order or repeated")
	case !increasing(s.DiskPaths, func(a, b entry.DiskPath) int { return strings.Compare(a.Name(), b.Name()) }):
		return errors.New("disk paths out of order or repeated")
	case !increasing(s.DiskHandles, func(a, b diskHandleState) int { return cmp.Compare(a.Handle, b.Handle) }):
		return errors.New("device files out of order or repeated")
	case !increasing(s.OpenFiles, func(a, b openFileState) int { return cmp.Compare(a.Handle, b.Handle) }):
		return errors.New("open files out of order or repeated")
	}
	ports := map[uint16]bool{}
	for _, o := range s.Objects {
		if o.Kind == kindListener {
			if ports[o.Port] {
				return fmt.Errorf("two listeners on port %d", o.Port)
			}
			ports[o.Port] = true
		}
	}
	pending := map[uint64]bool{}
	for _, h := range s.DiskHandles {
		if h.IO != nil && !h.IO.Done {
			if pending[h.IO.Seq] {
				return fmt.Errorf("two device files await output %d", h.IO.Seq)
			}
			pending[h.IO.Seq] = true
		}
	}
	return nil
}

// increasing reports whether s is in strictly increasing order by
// compare.
func increasing[T any](s []T, compare func(a, b T) int) bool {
	for i := 1; i < len(s); i++ {
		if compare(s[i-1], s[i]) >= 0 {
			return false
		}
	}
	return true
}

// encode returns the world's canonical encoding, which the state hash
// covers.
func (w *world) encode() []byte {
	c := canon.NewEncoder(nil)
	codeWorldState(c, w.state())
	return c.Bytes()
}

// decodeWorld rebuilds a world from its canonical encoding.
func decodeWorld(b []byte) (*world, error) {
	var s worldState
	c := canon.NewDecoder(b)
	codeWorldState(c, &s)
	if err := c.Finish(); err != nil {
		return nil, fmt.Errorf("decode world: %w", err)
	}
	w, err := s.restore()
	if err != nil {
		return nil, fmt.Errorf("decode world: %w", err)
	}
	return w, nil
}

// The world's encoding (package canon): one function per state type codes
// its fields in both directions, in the order of the type's declaration.
// The snapshot format's version (snapshotMagic) covers it.

func codeWorldState(c *canon.Codec, s *worldState) {
	canon.Uint64(c, &s.NanosPerInstruction)
	canon.Int64(c, &s.BootTime)
	canon.Int64(c, &s.TimeBase)
	canon.Uint64(c, &s.TimeInstr)
	canon.Slice(c, &s.Members, canon.Uint64)
	canon.Slice(c, &s.Down, canon.Uint64)
	canon.Bytes(c, &s.Pool)
	canon.Uint64(c, &s.RefillNode)
	canon.Uint64(c, &s.RefillCount)
	canon.Uint64(c, &s.RandomContributors)
	canon.Optional(c, &s.Draw, codeRandomDraw)
	canon.Slice(c, &s.PassedOver, canon.Uint64)
	canon.Uint32(c, &s.NextHandle)
	canon.Slice(c, &s.Objects, codeObjectState)
	canon.Slice(c, &s.Conns, codeConnState)
	canon.Slice(c, &s.ConnSerials, codeNodeSerial)
	canon.Uint16(c, &s.NextEphemeral)
	canon.Slice(c, &s.Console, codeConsoleRecord)
	canon.Uint64(c, &s.Seq)
	canon.Slice(c, &s.DiskPaths, codeDiskPath)
	canon.Slice(c, &s.DiskHandles, codeDiskHandleState)
	codeConsoleInput(c, &s.Stdin)
	fstree.Code(c, &s.Files)
	canon.Slice(c, &s.OpenFiles, codeOpenFileState)
}

func codeNodeSerial(c *canon.Codec, s *nodeSerial) {
	canon.Uint64(c, &s.Node)
	canon.Uint64(c, &s.Serial)
}

func codeRandomDraw(c *canon.Codec, d *randomDraw) {
	canon.Uint64(c, &d.Round)
	canon.Int64(c, &d.Started)
	canon.Bool(c, &d.Revealing)
	canon.Slice(c, &d.Contributors, codeContribution)
}

func codeContribution(c *canon.Codec, k *contribution) {
	canon.Uint64(c, &k.Node)
	canon.Bool(c, &k.Committed)
	canon.Fixed(c, k.Hash[:])
	canon.Bool(c, &k.Revealed)
	canon.Bytes(c, &k.Batch)
}

func codeOpenFileState(c *canon.Codec, s *openFileState) {
	canon.Uint32(c, &s.Handle)
	fstree.CodeFile(c, &s.File)
}

func codeConsoleInput(c *canon.Codec, in *consoleInput) {
	canon.Bool(c, &in.Fed)
	canon.Bytes(c, &in.Buf)
	canon.Uint64(c, &in.Next)
	canon.Bool(c, &in.EOF)
}

func codeDiskHandleState(c *canon.Codec, s *diskHandleState) {
	canon.Uint32(c, &s.Handle)
	canon.String(c, &s.Path)
	canon.Bool(c, &s.Writable)
	canon.Int64(c, &s.Pos)
	canon.Optional(c, &s.IO, codeDiskIOState)
}

func codeDiskIOState(c *canon.Codec, s *diskIOState) {
	canon.Uint64(c, &s.Seq)
	canon.Bool(c, &s.Write)
	canon.Int64(c, &s.Offset)
	canon.Int(c, &s.Length)
	canon.Bytes(c, &s.Data)
	canon.Bool(c, &s.Done)
	canon.Int32(c, &s.Errno)
	canon.Int(c, &s.N)
}

func codeObjectState(c *canon.Codec, s *objectState) {
	canon.Uint32(c, &s.Handle)
	canon.Uint8(c, &s.Kind)
	canon.Uint16(c, &s.Port)
	canon.Slice(c, &s.Backlog, codeConnID)
	canon.Int(c, &s.Limit)
	codeConnID(c, &s.Conn)
}

func codeConnState(c *canon.Codec, s *connState) {
	codeConnID(c, &s.ID)
	canon.Uint16(c, &s.Port)
	codeAddrPort(c, &s.Peer)
	canon.Bytes(c, &s.In)
	canon.Uint64(c, &s.NextOffset)
	canon.Bool(c, &s.PeerClosed)
	canon.Bool(c, &s.GuestShut)
}

func codeConsoleRecord(c *canon.Codec, r *consoleRecord) {
	canon.Uint64(c, &r.Seq)
	canon.Uint64(c, &r.Node)
	canon.Int(c, &r.Stream)
	canon.Bytes(c, &r.Data)
}

func codeDiskPath(c *canon.Codec, p *entry.DiskPath) {
	canon.String(c, &p.Disk)
	canon.Uint64(c, &p.Node)
	canon.Int64(c, &p.Size)
}

func codeConnID(c *canon.Codec, id *entry.ConnID) {
	canon.Uint64(c, &id.Node)
	canon.Uint64(c, &id.Serial)
}

// codeAddrPort codes an address as its IP's bytes (none, 4 or 16), its
// zone and its port.
func codeAddrPort(c *canon.Codec, a *netip.AddrPort) {
	ip, zone, port := a.Addr().AsSlice(), a.Addr().Zone(), a.Port()
	canon.Bytes(c, &ip)
	canon.String(c, &zone)
	canon.Uint16(c, &port)
	if !c.Decoding() {
		return
	}
	addr, ok := netip.AddrFromSlice(ip)
	switch {
	case !ok && len(ip) > 0:
		c.Fail("address of %d bytes", len(ip))
	case zone != "" && !addr.Is6():
		c.Fail("zone %q on address %v", zone, addr)
	default:
		*a = netip.AddrPortFrom(addr.WithZone(zone), port)
	}
}
