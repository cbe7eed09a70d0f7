package peripherals

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/internal/rawio"
	"github.com/synodvm/synod/outputs"
)

// NetPortConfig configures a node's network service port.
type NetPortConfig struct {
	Node consensus.NodeID
	// Host and PortOffset place the guest's port P at Host:P+PortOffset.
	// Nodes that share a host need different offsets.
	Host       string
	PortOffset int
	Log        Proposer
	Logger     *slog.Logger
	// ReadSize is the most client bytes one ConnData entry carries. Larger
	// entries amortize consensus overhead; smaller ones cut latency for
	// bulk transfers. Default 64 KiB, and at most what fits MaxProposal.
	ReadSize int
	// MaxProposal, when set, bounds the encoded size of one batch of
	// inputs: the log takes no larger proposal (the Byzantine engine signs
	// and bounds each request), and a batch it refuses would be proposed
	// again, refused again, and its client never answered. 0: only the
	// entry codec's bounds.
	MaxProposal int
	// SendQueue is how many outputs may wait for a slow client before the
	// node cuts it off; the guest cannot be made to wait for one client.
	// Default 1024.
	SendQueue int
	// RetryAfter is how long a proposed input may stay uncommitted before
	// it is proposed again: the log drops proposals when its leader
	// changes. Shorter recovers faster after a failover; longer proposes
	// fewer duplicates (which the replicas discard) under load. Default
	// 300 ms.
	RetryAfter time.Duration
	// GiveUpAfter is how long a client's input may go unordered (the log
	// has no quorum) before the node hangs up on the client. Default 30 s.
	GiveUpAfter time.Duration
	// MaxUnacked bounds a client's input proposed but not yet committed;
	// beyond it the node stops reading from the client. Default 1 MiB.
	MaxUnacked int
	// ListenRetry is how often a host port that could not be bound is
	// tried again. Default 1 s.
	ListenRetry time.Duration
	// Now is the clock whose time input batches carry (default
	// time.Now).
	Now func() time.Time
	// Certified lets a client ask for certified replies
	// (outputs.CertifiedPreamble): in a Byzantine cluster, where every
	// Send carries a certificate.
	Certified bool
}

// NetPort serves the guest's listening ports on one node: every accepted
// client becomes a connection in the guest whose bytes this node proposes,
// and the guest's writes to it come back as outputs this node performs.
//
// Inputs are proposed in batches (entry.Inputs): whatever every client
// sent while the previous batch was being accepted by the log goes out as
// one log entry, sealed by itself, so a burst of requests costs one
// consensus round and an idle guest sees them one round after they
// arrived.
//
// Proposals are reliable: each connection keeps the inputs it proposed
// until it sees them committed (Committed), and proposes them again when
// the log lost them. Replicas drop the duplicates by stream offset.
type NetPort struct {
	cfg    NetPortConfig
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	listeners map[uint16]net.Listener
	// retrying holds the guest ports waiting for their host port, each
	// with why its last attempt failed, for the operator (ListenErrors).
	retrying map[uint16]error
	conns    map[uint64]*clientConn
	// serial numbers conns; it starts at the process start time in
	// nanoseconds so serials stay unique across restarts of the node.
	serial uint64
	// queued lists the connections with inputs not yet in a batch, in
	// the order they got them; batchReady is signalled when it grows.
	queued     []*clientConn
	batchReady chan struct{}
	// watching is whether retryLoop watches who leads; inFlight is
	// signalled when input goes out while it does not (see retryLoop).
	watching bool
	inFlight chan struct{}
	// serving is whether the replicated machine will serve a client this
	// node accepts now (SetServing). While it will not, new clients are
	// hung up on at once: their connection would reach the log while the
	// node is declared down, or wait behind a long catch-up.
	serving  bool
	refusals refusals
}

type clientConn struct {
	id   entry.ConnID
	conn net.Conn
	out  chan reply // zero element: close after writing what precedes it
	// decided is closed once the client's first bytes said whether it
	// wants certified replies (framed); until then nothing is written.
	decided chan struct{}
	framed  bool

	// Guarded by NetPort.mu: the inputs proposed and not yet seen
	// committed, in proposal order.
	unacked      []entry.Entry
	unackedBytes int
	// proposed is how many of unacked have gone out in a batch; the rest
	// wait for the next one. queued is true while cc is in NetPort.queued.
	proposed     int
	queued       bool
	oldest       time.Time // when the oldest unacked input was first proposed
	lastProposed time.Time
	hungUp       bool          // the client is gone; forget it once its close commits
	space        chan struct{} // signalled when unacked inputs commit
}

// NewNetPort returns a NetPort that serves nothing until Listen.
func NewNetPort(cfg NetPortConfig) *NetPort {
	if cfg.ReadSize <= 0 {
		cfg.ReadSize = 64 << 10
	}
	if cfg.ReadSize > entry.MaxDataLen {
		cfg.ReadSize = entry.MaxDataLen
	}
	if fit := cfg.MaxProposal - entry.InputsHeader - entry.InputOverhead; cfg.MaxProposal > 0 && cfg.ReadSize > fit {
		cfg.ReadSize = max(fit, 1)
	}
	if cfg.SendQueue <= 0 {
		cfg.SendQueue = 1024
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 300 * time.Millisecond
	}
	if cfg.GiveUpAfter <= 0 {
		cfg.GiveUpAfter = 30 * time.Second
	}
	if cfg.MaxUnacked <= 0 {
		cfg.MaxUnacked = 1 << 20
	}
	if cfg.ListenRetry <= 0 {
		cfg.ListenRetry = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &NetPort{
		cfg:        cfg,
		ctx:        ctx,
		cancel:     cancel,
		listeners:  map[uint16]net.Listener{},
		retrying:   map[uint16]error{},
		conns:      map[uint64]*clientConn{},
		serial:     uint64(time.Now().UnixNano()),
		batchReady: make(chan struct{}, 1),
		inFlight:   make(chan struct{}, 1),
	}
	n.wg.Add(2)
	go n.retryLoop()
	go n.proposeLoop()
	return n
}

// Listen starts serving the guest's port; serving it already is not an
// error. When the host port cannot be bound (another program holds it),
// Listen reports why and keeps trying every ListenRetry in the background:
// the guest listens on every node, and this node should serve as soon as
// it can.
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
	_, retrying := n.retrying[guestPort]
	err := n.listenLocked(guestPort, hostPort)
	if err != nil && !retrying {
		n.wg.Add(1)
		go n.retryListen(guestPort, hostPort)
	}
	return err
}

// retryListen binds the host port for guestPort once it is free.
func (n *NetPort) retryListen(guestPort uint16, hostPort int) {
	defer n.wg.Done()
	tick := time.NewTicker(n.cfg.ListenRetry)
	defer tick.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-tick.C:
		}
		// Under n.mu: Stop cancels first, then closes the listeners under
		// it, so a port bound here after that would never be closed.
		n.mu.Lock()
		_, served := n.listeners[guestPort]
		done := served || n.ctx.Err() != nil || n.listenLocked(guestPort, hostPort) == nil
		if done {
			delete(n.retrying, guestPort)
		}
		n.mu.Unlock()
		if done {
			return
		}
	}
}

// listenLocked binds hostPort and serves guestPort on it, or records in
// n.retrying why it cannot; n.mu is held.
func (n *NetPort) listenLocked(guestPort uint16, hostPort int) error {
	addr := net.JoinHostPort(n.cfg.Host, strconv.Itoa(hostPort))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		err = fmt.Errorf("serve guest port %d: %w", guestPort, err)
		n.retrying[guestPort] = err
		return err
	}
	delete(n.retrying, guestPort)
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
	return byPort(n.listeners, func(l net.Listener) string { return l.Addr().String() })
}

// ListenErrors says, in port order, why each guest port the guest
// listens on is not served on this node yet: most often, something else
// on the machine holds the host port. The node keeps trying meanwhile.
func (n *NetPort) ListenErrors() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return byPort(n.retrying, error.Error)
}

// byPort lists what show says of each guest port's value in m, in port
// order.
func byPort[V any](m map[uint16]V, show func(V) string) []string {
	ports := slices.Sorted(maps.Keys(m))
	out := make([]string, len(ports))
	for i, p := range ports {
		out[i] = show(m[p])
	}
	return out
}

// Conns is the number of live client connections on this node.
func (n *NetPort) Conns() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	live := 0
	for _, cc := range n.conns {
		if !cc.hungUp {
			live++
		}
	}
	return live
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
		n.mu.Lock()
		serving := n.serving
		if !serving {
			n.refusals.note(n.cfg.Logger, "this node is not serving: declared down or catching up", time.Now())
		}
		n.mu.Unlock()
		if !serving {
			c.Close()
			continue
		}
		n.open(guestPort, c)
	}
}

// SetServing tells the port whether this node serves clients now: it has
// caught up with the log and is not declared down. A NetPort starts not
// serving.
func (n *NetPort) SetServing(on bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case on && !n.serving:
		n.cfg.Logger.Info("serving clients")
	case !on && n.serving:
		n.cfg.Logger.Info("refusing new clients until caught up and not declared down")
	}
	n.serving = on
}

// Serving reports whether this node takes new clients now (SetServing).
func (n *NetPort) Serving() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.serving
}

// open registers a new client and proposes its connection; only once the
// log has it do its bytes reach the guest.
func (n *NetPort) open(guestPort uint16, c net.Conn) {
	open := entry.ConnOpen{Port: guestPort}
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil && ap.Addr().Unmap().Is4() {
		open.PeerIP = ap.Addr().Unmap().As4()
		open.PeerPort = ap.Port()
	}
	// Numbered and queued under one lock, so that the node proposes its
	// connections' openings in the order of their serials: the replicas
	// refuse an opening ordered after a later one (replica's connOpen).
	n.mu.Lock()
	n.serial++
	cc := &clientConn{
		id:      entry.ConnID{Node: n.cfg.Node, Serial: n.serial},
		conn:    rawio.Wrap(c), // each request and reply crosses it: see internal/rawio
		out:     make(chan reply, n.cfg.SendQueue),
		space:   make(chan struct{}, 1),
		decided: make(chan struct{}),
	}
	if !n.cfg.Certified {
		close(cc.decided)
	}
	n.conns[cc.id.Serial] = cc
	open.Conn = cc.id
	n.submitLocked(cc, open)
	n.mu.Unlock()
	n.wg.Add(2)
	go n.readLoop(cc)
	go n.writeLoop(cc)
}

// submit records an input as unacknowledged and queues it for the next
// batch. A failed proposal is not an error here: the retry loop proposes
// it again.
func (n *NetPort) submit(cc *clientConn, e entry.Entry) {
	n.mu.Lock()
	n.submitLocked(cc, e)
	n.mu.Unlock()
}

// submitLocked is submit with n.mu held.
func (n *NetPort) submitLocked(cc *clientConn, e entry.Entry) {
	now := time.Now()
	if len(cc.unacked) == 0 {
		cc.oldest = now
	}
	cc.unacked = append(cc.unacked, e)
	cc.unackedBytes += entry.InputData(e)
	cc.lastProposed = now
	n.enqueueLocked(cc)
	if !n.watching {
		n.watching = true
		select {
		case n.inFlight <- struct{}{}:
		default:
		}
	}
}

// enqueueLocked puts cc's unproposed inputs into the next batch; n.mu is
// held.
func (n *NetPort) enqueueLocked(cc *clientConn) {
	if cc.queued {
		return
	}
	cc.queued = true
	n.queued = append(n.queued, cc)
	select {
	case n.batchReady <- struct{}{}:
	default:
	}
}

// proposeLoop proposes the pending inputs as batches, one at a time: while
// the log is busy accepting one, the next one grows.
func (n *NetPort) proposeLoop() {
	defer n.wg.Done()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-n.batchReady:
		}
		for {
			batch := n.takeBatch()
			if len(batch.Entries) == 0 {
				break
			}
			if err := n.cfg.Log.Propose(n.ctx, entry.Encode(batch)); err != nil {
				if n.ctx.Err() != nil {
					return
				}
				n.cfg.Logger.Debug("inputs not accepted; will retry", "inputs", len(batch.Entries), "err", err)
			}
		}
	}
}

// takeBatch collects the unproposed inputs of the queued connections,
// oldest connection first, as far as they fit in one batch. A connection
// whose inputs did not all fit stays queued, at the head.
func (n *NetPort) takeBatch() entry.Inputs {
	n.mu.Lock()
	defer n.mu.Unlock()
	batch := entry.Inputs{Time: n.cfg.Now().UnixNano()}
	data, encoded := 0, entry.InputsHeader
	for len(n.queued) > 0 {
		cc := n.queued[0]
		for cc.proposed < len(cc.unacked) && len(batch.Entries) < entry.MaxInputs {
			e := cc.unacked[cc.proposed]
			clientBytes := entry.InputData(e)
			if data+clientBytes > entry.MaxInputsData {
				break
			}
			cost := clientBytes + entry.InputOverhead
			if n.cfg.MaxProposal > 0 && len(batch.Entries) > 0 && encoded+cost > n.cfg.MaxProposal {
				break
			}
			data, encoded = data+clientBytes, encoded+cost
			batch.Entries = append(batch.Entries, e)
			cc.proposed++
		}
		if cc.proposed < len(cc.unacked) {
			break // the batch is full
		}
		cc.queued = false
		n.queued = n.queued[1:]
	}
	if len(n.queued) == 0 {
		n.queued = nil
	}
	return batch
}

// readLoop proposes what the client sends, numbering every byte so that
// replicas put retried and duplicate proposals in their place.
func (n *NetPort) readLoop(cc *clientConn) {
	defer n.wg.Done()
	buf := make([]byte, n.cfg.ReadSize)
	var offset uint64
	var first []byte
	var err error
	if n.cfg.Certified {
		first, err = n.readPreamble(cc)
	}
	for {
		if !n.waitForSpace(cc) {
			return
		}
		var k int
		if len(first) > 0 || err != nil {
			k = copy(buf, first) // what came before the client asked, or did not ask, for certified replies
			first = first[k:]
		} else {
			k, err = cc.conn.Read(buf)
		}
		if k > 0 {
			n.submit(cc, entry.ConnData{Conn: cc.id, Offset: offset, Data: append([]byte(nil), buf[:k]...)})
			offset += uint64(k)
		}
		if err != nil {
			n.hangUp(cc)
			return
		}
	}
}

// waitForSpace holds the reader while too much of the client's input is
// unordered: the client is throttled instead of the node buffering.
func (n *NetPort) waitForSpace(cc *clientConn) bool {
	for {
		n.mu.Lock()
		full := cc.unackedBytes >= n.cfg.MaxUnacked
		gone := cc.hungUp
		n.mu.Unlock()
		switch {
		case gone || n.ctx.Err() != nil:
			return false
		case !full:
			return true
		}
		select {
		case <-cc.space:
		case <-n.ctx.Done():
			return false
		}
	}
}

// hangUp tells the guest the client is gone: it closes the socket and
// proposes the close; the connection is forgotten once that commits.
func (n *NetPort) hangUp(cc *clientConn) {
	n.mu.Lock()
	already := cc.hungUp
	cc.hungUp = true
	n.mu.Unlock()
	cc.conn.Close()
	if !already && n.ctx.Err() == nil {
		n.submit(cc, entry.ConnClose{Conn: cc.id})
	}
}

// HangUpAll hangs up on every client: the node installed a snapshot, and
// the replies the guest wrote to its clients in the history it skipped
// were never performed here. A client told its connection is gone
// retries elsewhere; one left waiting would wait forever.
func (n *NetPort) HangUpAll() int {
	n.mu.Lock()
	conns := make([]*clientConn, 0, len(n.conns))
	for _, cc := range n.conns {
		conns = append(conns, cc)
	}
	n.mu.Unlock()
	for _, cc := range conns {
		n.hangUp(cc)
	}
	return len(conns)
}

// forget drops a connection the guest is done with.
func (n *NetPort) forget(cc *clientConn) {
	n.mu.Lock()
	cc.hungUp = true
	delete(n.conns, cc.id.Serial)
	n.mu.Unlock()
	cc.conn.Close()
}

// Committed tells the NetPort that e has committed in the log. Inputs of
// this node's connections are acknowledged in order: an entry counts only
// when it is the oldest unacknowledged one, since the replicas ignore
// bytes that arrive before their connection or after a hole.
func (n *NetPort) Committed(e entry.Entry) {
	if batch, ok := e.(entry.Inputs); ok {
		for _, in := range batch.Entries {
			n.Committed(in)
		}
		return
	}
	id, ok := entry.ConnOf(e)
	if !ok {
		return
	}
	if id.Node != n.cfg.Node {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	cc := n.conns[id.Serial]
	if cc == nil || len(cc.unacked) == 0 || !covers(e, cc.unacked[0]) {
		return
	}
	cc.unackedBytes -= entry.InputData(cc.unacked[0])
	cc.unacked = cc.unacked[1:]
	cc.proposed = max(cc.proposed-1, 0)
	cc.oldest = time.Now()
	select {
	case cc.space <- struct{}{}:
	default:
	}
	if _, closed := e.(entry.ConnClose); closed {
		delete(n.conns, id.Serial)
	}
}

// covers reports whether committed entry c acknowledges pending input p.
func covers(c, p entry.Entry) bool {
	switch p := p.(type) {
	case entry.ConnData:
		d, ok := c.(entry.ConnData)
		return ok && d.Offset <= p.Offset && d.Offset+uint64(len(d.Data)) >= p.Offset+uint64(len(p.Data))
	default:
		return c.Kind() == p.Kind()
	}
}

// leaderWatch is how often the port looks at who leads, when its log
// says (a consensus.Log does). The log drops the proposals in flight when
// its leader is replaced; proposing the clients' inputs again as soon as
// another node leads, rather than RetryAfter later, is most of the time a
// failover costs a client.
const leaderWatch = 10 * time.Millisecond

// leaderReporter is a log that says who leads.
type leaderReporter interface{ Status() consensus.Status }

// retryLoop proposes again the inputs the log has not committed after
// RetryAfter, and hangs up on clients whose input could not be ordered for
// GiveUpAfter.
func (n *NetPort) retryLoop() {
	defer n.wg.Done()
	tick := time.NewTicker(n.cfg.RetryAfter / 2)
	defer tick.Stop()
	log, watchesLeader := n.cfg.Log.(leaderReporter)
	// The leader is watched only while some input waits to commit: the
	// leader's loss loses nothing else, and a node whose guest nobody
	// talks to (a batch job, an idle service) would otherwise wake a
	// hundred times a second for nothing. leader is the last one seen,
	// kept across pauses, so that a change while the watch slept is acted
	// on as it resumes: input proposed meanwhile may have gone to the
	// leader that is gone.
	var leader consensus.NodeID
	if watchesLeader {
		leader = log.Status().Leader
	}
	var watch *time.Ticker
	var watchC <-chan time.Time // nil, which never fires, while not watching
	defer func() {
		if watch != nil {
			watch.Stop()
		}
	}()
	lookAtLeader := func(now time.Time) {
		if l := log.Status().Leader; l != leader {
			leader = l
			if l != 0 {
				n.retry(now, true)
			}
		}
	}
	for {
		select {
		case <-n.ctx.Done():
			return
		case now := <-tick.C:
			n.retry(now, false)
			n.mu.Lock()
			n.refusals.flush(n.cfg.Logger, now)
			n.mu.Unlock()
		case <-n.inFlight:
			if !watchesLeader || watch != nil {
				continue
			}
			watch = time.NewTicker(leaderWatch)
			watchC = watch.C
			lookAtLeader(time.Now())
		case now := <-watchC:
			lookAtLeader(now)
			if !n.keepWatching() {
				watch.Stop()
				watch, watchC = nil, nil
			}
		}
	}
}

// keepWatching reports whether some client's input still waits to
// commit, and otherwise records that the leader is no longer watched.
func (n *NetPort) keepWatching() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, cc := range n.conns {
		if len(cc.unacked) > 0 {
			return true
		}
	}
	n.watching = false
	return false
}

// retry proposes again the input of every client that has waited
// RetryAfter for it to commit, or of every client with input in flight
// when all is set (a new leader: the old one's proposals are lost).
func (n *NetPort) retry(now time.Time, all bool) {
	var abandon []*clientConn
	n.mu.Lock()
	for _, cc := range n.conns {
		switch {
		case len(cc.unacked) == 0 || (!all && now.Sub(cc.lastProposed) < n.cfg.RetryAfter):
		case now.Sub(cc.oldest) > n.cfg.GiveUpAfter:
			abandon = append(abandon, cc)
		default:
			cc.lastProposed = now
			cc.proposed = 0
			n.enqueueLocked(cc)
		}
	}
	n.mu.Unlock()
	for _, cc := range abandon {
		n.cfg.Logger.Warn("client cut off: its input could not be ordered", "conn", cc.id.Serial, "for", n.cfg.GiveUpAfter)
		n.forget(cc)
	}
}

func (n *NetPort) writeLoop(cc *clientConn) {
	defer n.wg.Done()
	select {
	case <-cc.decided:
	case <-n.ctx.Done():
		return
	}
	if cc.framed {
		if _, err := cc.conn.Write(outputs.AppendHello(nil, cc.id)); err != nil {
			n.hangUp(cc)
			return
		}
	}
	for {
		select {
		case r := <-cc.out:
			if r.data == nil {
				n.forget(cc)
				return
			}
			if _, err := cc.conn.Write(r.bytes(cc.framed)); err != nil {
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
	n.queue(id, reply{data: data})
}

// SendCertified performs a certified outputs.Send: a client that asked
// for certified replies receives the certificate with the bytes.
func (n *NetPort) SendCertified(id entry.ConnID, data []byte, seq uint64, cert outputs.Certificate) {
	n.queue(id, reply{data: data, seq: seq, cert: cert})
}

func (n *NetPort) queue(id entry.ConnID, r reply) {
	if r.data == nil {
		r.data = []byte{}
	}
	cc := n.lookup(id)
	if cc == nil {
		return
	}
	select {
	case cc.out <- r:
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
	case cc.out <- reply{}:
	default:
		n.forget(cc)
	}
}

// Refuse performs an outputs.RefuseConn: the guest never accepted the
// client; hang up on it and count why.
func (n *NetPort) Refuse(id entry.ConnID, reason string) {
	cc := n.lookup(id)
	if cc == nil {
		return
	}
	n.mu.Lock()
	n.refusals.note(n.cfg.Logger, reason, time.Now())
	n.mu.Unlock()
	n.forget(cc)
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
