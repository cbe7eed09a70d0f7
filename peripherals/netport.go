package peripherals

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
)

// NetPortConfig configures a node's network service port.
type NetPortConfig struct {
	Node consensus.NodeID
	// Host and PortOffset place the guest's port P at Host:P+PortOffset.
	// Nodes that share a host need different offsets.
	Host       string
	PortOffset int
	Log        Proposer
	// OnInput is called after every proposed input, so the node can put a
	// seal right behind it when the guest is idle (one round trip instead
	// of two). May be nil.
	OnInput func()
	Logger  *slog.Logger
	// ReadSize is the most client bytes one ConnData entry carries. Larger
	// entries amortize consensus overhead; smaller ones cut latency for
	// bulk transfers. Default 64 KiB.
	ReadSize int
	// SendQueue is how many outputs may wait for a slow client before the
	// node cuts it off; the guest cannot be made to wait for one client.
	// Default 1024.
	SendQueue int
}

// NetPort serves the guest's listening ports on one node: every accepted
// client becomes a connection in the guest whose bytes this node proposes,
// and the guest's writes to it come back as outputs this node performs.
type NetPort struct {
	cfg    NetPortConfig
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	listeners map[uint16]net.Listener
	conns     map[uint64]*clientConn
	// serial numbers conns; it starts at the process start time in
	// nanoseconds so serials stay unique across restarts of the node.
	serial uint64
}

type clientConn struct {
	id   entry.ConnID
	conn net.Conn
	out  chan []byte // nil element: close after writing what precedes it
}

// NewNetPort returns a NetPort that serves nothing until Listen.
func NewNetPort(cfg NetPortConfig) *NetPort {
	if cfg.ReadSize <= 0 {
		cfg.ReadSize = 64 << 10
	}
	if cfg.ReadSize > entry.MaxDataLen {
		cfg.ReadSize = entry.MaxDataLen
	}
	if cfg.SendQueue <= 0 {
		cfg.SendQueue = 1024
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &NetPort{
		cfg:       cfg,
		ctx:       ctx,
		cancel:    cancel,
		listeners: map[uint16]net.Listener{},
		conns:     map[uint64]*clientConn{},
		serial:    uint64(time.Now().UnixNano()),
	}
}

// Listen starts serving the guest's port; serving it already is not an error.
func (n *NetPort) Listen(guestPort uint16) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ctx.Err() != nil {
		return errors.New("netport stopped")
	}
	if _, ok := n.listeners[guestPort]; ok {
		return nil
	}
	hostPort := int(guestPort) + n.cfg.PortOffset
	if hostPort <= 0 || hostPort > 0xffff {
		return fmt.Errorf("serve guest port %d: host port %d out of range (offset %d)", guestPort, hostPort, n.cfg.PortOffset)
	}
	addr := net.JoinHostPort(n.cfg.Host, strconv.Itoa(hostPort))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("serve guest port %d: %w", guestPort, err)
	}
	n.listeners[guestPort] = l
	n.cfg.Logger.Info("serving guest port", "guest_port", guestPort, "addr", l.Addr().String())
	n.wg.Add(1)
	go n.acceptLoop(guestPort, l)
	return nil
}

// Addrs reports the host address serving each guest port, in port order.
func (n *NetPort) Addrs() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	ports := make([]int, 0, len(n.listeners))
	for p := range n.listeners {
		ports = append(ports, int(p))
	}
	sort.Ints(ports)
	addrs := make([]string, len(ports))
	for i, p := range ports {
		addrs[i] = n.listeners[uint16(p)].Addr().String()
	}
	return addrs
}

// Conns is the number of live client connections on this node.
func (n *NetPort) Conns() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.conns)
}

func (n *NetPort) acceptLoop(guestPort uint16, l net.Listener) {
	defer n.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			if n.ctx.Err() == nil {
				n.cfg.Logger.Error("accept failed; guest port no longer served", "guest_port", guestPort, "err", err)
			}
			return
		}
		n.open(guestPort, c)
	}
}

// open proposes the new connection; only once the log has it do bytes flow.
func (n *NetPort) open(guestPort uint16, c net.Conn) {
	n.mu.Lock()
	n.serial++
	cc := &clientConn{
		id:   entry.ConnID{Node: n.cfg.Node, Serial: n.serial},
		conn: c,
		out:  make(chan []byte, n.cfg.SendQueue),
	}
	n.conns[cc.id.Serial] = cc
	n.mu.Unlock()

	open := entry.ConnOpen{Conn: cc.id, Port: guestPort}
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil && ap.Addr().Unmap().Is4() {
		open.PeerIP = ap.Addr().Unmap().As4()
		open.PeerPort = ap.Port()
	}
	if err := n.propose(open); err != nil {
		n.cfg.Logger.Warn("client refused: cannot order its connection", "conn", cc.id.Serial, "err", err)
		n.drop(cc)
		return
	}
	n.wg.Add(2)
	go n.readLoop(cc)
	go n.writeLoop(cc)
}

func (n *NetPort) propose(e entry.Entry) error {
	if err := n.cfg.Log.Propose(n.ctx, entry.Encode(e)); err != nil {
		return fmt.Errorf("propose %s: %w", e.Kind(), err)
	}
	if n.cfg.OnInput != nil {
		n.cfg.OnInput()
	}
	return nil
}

// readLoop proposes what the client sends, numbering every byte so that a
// replica notices a lost proposal.
func (n *NetPort) readLoop(cc *clientConn) {
	defer n.wg.Done()
	buf := make([]byte, n.cfg.ReadSize)
	var offset uint64
	for {
		k, err := cc.conn.Read(buf)
		if k > 0 {
			data := append([]byte(nil), buf[:k]...)
			if perr := n.propose(entry.ConnData{Conn: cc.id, Offset: offset, Data: data}); perr != nil {
				n.cfg.Logger.Warn("client cut off: cannot order its bytes", "conn", cc.id.Serial, "err", perr)
				n.hangUp(cc)
				return
			}
			offset += uint64(k)
		}
		if err != nil {
			if n.ctx.Err() == nil {
				n.hangUp(cc)
			}
			return
		}
	}
}

// hangUp tells the guest the client is gone and forgets the connection.
func (n *NetPort) hangUp(cc *clientConn) {
	if !n.drop(cc) {
		return
	}
	if err := n.propose(entry.ConnClose{Conn: cc.id}); err != nil {
		n.cfg.Logger.Warn("could not order a client's close", "conn", cc.id.Serial, "err", err)
	}
}

// drop closes the client socket and removes the connection; it reports
// whether the connection was still there.
func (n *NetPort) drop(cc *clientConn) bool {
	n.mu.Lock()
	_, ok := n.conns[cc.id.Serial]
	delete(n.conns, cc.id.Serial)
	n.mu.Unlock()
	cc.conn.Close()
	return ok
}

func (n *NetPort) writeLoop(cc *clientConn) {
	defer n.wg.Done()
	for {
		select {
		case b := <-cc.out:
			if b == nil {
				n.drop(cc)
				return
			}
			if _, err := cc.conn.Write(b); err != nil {
				n.hangUp(cc)
				return
			}
		case <-n.ctx.Done():
			return
		}
	}
}

func (n *NetPort) lookup(id entry.ConnID) *clientConn {
	if id.Node != n.cfg.Node {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.conns[id.Serial]
}

// Send performs an outputs.Send: queue the guest's bytes for the client.
// A client too slow to keep up is cut off rather than stalling the node.
func (n *NetPort) Send(id entry.ConnID, data []byte) {
	cc := n.lookup(id)
	if cc == nil {
		return
	}
	select {
	case cc.out <- data:
	default:
		n.cfg.Logger.Warn("client cut off: too slow to receive", "conn", id.Serial)
		n.hangUp(cc)
	}
}

// Close performs an outputs.CloseConn: close after what was sent before.
func (n *NetPort) Close(id entry.ConnID) {
	cc := n.lookup(id)
	if cc == nil {
		return
	}
	select {
	case cc.out <- nil:
	default:
		n.drop(cc)
	}
}

// Stop closes every listener and client connection and waits for the
// goroutines to end.
func (n *NetPort) Stop() {
	n.cancel()
	n.mu.Lock()
	for _, l := range n.listeners {
		l.Close()
	}
	for _, cc := range n.conns {
		cc.conn.Close()
	}
	n.mu.Unlock()
	n.wg.Wait()
}
