package replica

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/machine/linux"
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
	NextHandle          linux.Handle
	Objects             []objectState
	Conns               []connState
	NextEphemeral       uint16
	Console             []consoleRecord
	Seq                 uint64
	DiskPaths           []entry.DiskPath // by name
	DiskHandles         []diskHandleState
	Stdin               consoleInput
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

// encode returns the world's canonical encoding. Outputs not yet drained are
// not state: the runtime drains them before it snapshots or hashes.
func (w *world) encode() ([]byte, error) {
	s := worldState{
		NanosPerInstruction: w.nanosPerInstruction,
		BootTime:            w.bootTime,
		TimeBase:            w.timeBase,
		TimeInstr:           w.timeInstr,
		Members:             w.members,
		Pool:                w.pool,
		RefillNode:          w.refillNode,
		RefillCount:         w.refillCount,
		NextHandle:          w.nextHandle,
		NextEphemeral:       w.nextEphemeral,
		Console:             w.console,
		Seq:                 w.seq,
	}
	for n := range w.down {
		s.Down = append(s.Down, n)
	}
	slices.Sort(s.Down)
	for h, o := range w.objects {
		s.Objects = append(s.Objects, objectState{
			Handle: h, Kind: o.kind, Port: o.port, Backlog: o.backlog, Limit: o.limit, Conn: o.conn,
		})
	}
	slices.SortFunc(s.Objects, func(a, b objectState) int { return cmp.Compare(a.Handle, b.Handle) })
	for id, c := range w.conns {
		s.Conns = append(s.Conns, connState{
			ID: id, Port: c.port, Peer: c.peer, In: c.in, NextOffset: c.nextOffset,
			PeerClosed: c.peerClosed, GuestShut: c.guestShut,
		})
	}
	slices.SortFunc(s.Conns, func(a, b connState) int { return compareConnID(a.ID, b.ID) })
	s.DiskPaths, s.DiskHandles = w.disks.state()
	s.Stdin = w.stdin
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode world: %w", err)
	}
	return b, nil
}

// decodeWorld rebuilds a world from its canonical encoding.
func decodeWorld(b []byte) (*world, error) {
	var s worldState
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decode world: %w", err)
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
		nextHandle:          s.NextHandle,
		objects:             map[linux.Handle]*object{},
		listeners:           map[uint16]linux.Handle{},
		conns:               map[entry.ConnID]*vconn{},
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
	for h, o := range w.objects {
		if o.kind == kindConn && w.conns[o.conn] == nil {
			return nil, fmt.Errorf("decode world: handle refers to unknown connection %v", o.conn)
		}
		if o.kind == kindDisk && w.disks.handles[h] == nil {
			return nil, fmt.Errorf("decode world: handle %d is a device file without its state", h)
		}
	}
	return w, nil
}
