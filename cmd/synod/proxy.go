package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/cluster"
	"github.com/synodvm/synod/internal/signing"
	"github.com/synodvm/synod/outputs"
)

const proxyUsage = `usage: synod proxy --listen ADDR (--dir DIR | --config FILE) [--port P]

Stands between plain TCP clients (redis-cli, curl, nc) and a Byzantine
cluster (synod init --byzantine), so that a client needs to trust no
single node. Each client connection is carried to one node's service
port; the node sends every reply with its certificate, f+1 replicas'
signatures over it, and the proxy passes the bytes on only once the
certificate checks against the members' public keys in the cluster
config. A reply without one (a faulty or lying node) closes the client's
connection, and the proxy uses other nodes for a while; the client
connects again. A node that cannot be reached is skipped.

flags:
`

// proxySuspectFor is how long the proxy sends no new client to a node
// whose reply failed its certificate.
const proxySuspectFor = time.Minute

// proxyHelloWait bounds how long a node has to name the connection.
const proxyHelloWait = 5 * time.Second

func runProxy(ctx context.Context, args []string, _ io.Writer) error {
	fs := newFlags("proxy", proxyUsage)
	listen := fs.String("listen", "127.0.0.1:6380", "the `address` clients connect to")
	dir := fs.String("dir", "", "a `directory` made by synod up --byzantine or synod init --byzantine")
	configPath := fs.String("config", "", "the cluster config `file`")
	port := fs.Int("port", serviceGuestPort, "the guest's `port` the clients are for")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if *configPath == "" {
		if *dir == "" {
			return errors.New("proxy: give --dir or --config (synod proxy --help)")
		}
		*configPath = filepath.Join(*dir, cluster.FileName)
	}
	cfg, err := cluster.Load(*configPath)
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	p, err := newCertifyingProxy(cfg, *port, logger)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	logger.Info("proxy serving", "listen", l.Addr().String(), "guest_port", *port, "nodes", len(cfg.Nodes))
	p.serve(ctx, l)
	c := p.counts()
	logger.Info("proxy stopped", "clients", c.clients, "replies_passed", c.passed, "replies_refused", c.refused)
	return nil
}

// certifyingProxy carries clients to the nodes of a Byzantine cluster and
// passes on only certified replies.
type certifyingProxy struct {
	cfg       *cluster.Config
	members   signing.Members
	guestPort int
	logger    *slog.Logger

	mu      sync.Mutex
	next    int
	suspect map[consensus.NodeID]time.Time

	clients, passed, refused atomic.Uint64
}

type proxyCounts struct{ clients, passed, refused uint64 }

func newCertifyingProxy(cfg *cluster.Config, guestPort int, logger *slog.Logger) (*certifyingProxy, error) {
	if cfg.Engine != cluster.EngineBFT {
		return nil, fmt.Errorf("proxy: the cluster runs engine %q; only a Byzantine cluster (bft) certifies its replies", cfg.Engine)
	}
	members, err := memberKeys(cfg)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	return &certifyingProxy{cfg: cfg, members: members, guestPort: guestPort, logger: logger, suspect: map[consensus.NodeID]time.Time{}}, nil
}

func (p *certifyingProxy) counts() proxyCounts {
	return proxyCounts{clients: p.clients.Load(), passed: p.passed.Load(), refused: p.refused.Load()}
}

// serve accepts clients until ctx ends, then closes l and waits for them.
func (p *certifyingProxy) serve(ctx context.Context, l net.Listener) {
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	for {
		c, err := l.Accept()
		if err != nil {
			break
		}
		p.clients.Add(1)
		wg.Go(func() { p.carry(ctx, c) })
	}
	wg.Wait()
}

// order is the nodes to try for the next client: in turn, the suspect
// ones last.
func (p *certifyingProxy) order() []cluster.Node {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.cfg.Nodes)
	var trusted, suspect []cluster.Node
	for i := range n {
		node := p.cfg.Nodes[(p.next+i)%n]
		if time.Since(p.suspect[node.ID]) < proxySuspectFor {
			suspect = append(suspect, node)
		} else {
			trusted = append(trusted, node)
		}
	}
	p.next++
	return append(trusted, suspect...)
}

func (p *certifyingProxy) distrust(id consensus.NodeID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.suspect[id] = time.Now()
}

// dial connects to the first node that answers and names the connection.
func (p *certifyingProxy) dial(ctx context.Context) (net.Conn, *outputs.ReplyReader, error) {
	var errs []error
	for _, n := range p.order() {
		addr, err := n.ServiceAddr(p.guestPort)
		if err != nil {
			return nil, nil, err
		}
		d := net.Dialer{Timeout: proxyHelloWait}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("node %d: %w", n.ID, err))
			continue
		}
		_ = c.SetDeadline(time.Now().Add(proxyHelloWait))
		var rr *outputs.ReplyReader
		if _, err = io.WriteString(c, outputs.CertifiedPreamble); err == nil {
			rr, err = outputs.NewReplyReader(c)
		}
		if err == nil && rr.Conn().Node != n.ID {
			err = fmt.Errorf("it named a connection of node %d", rr.Conn().Node)
		}
		if err != nil {
			c.Close()
			errs = append(errs, fmt.Errorf("node %d: %w", n.ID, err))
			continue
		}
		_ = c.SetDeadline(time.Time{})
		return c, rr, nil
	}
	return nil, nil, fmt.Errorf("no node takes clients: %w", errors.Join(errs...))
}

// carry serves one client: its bytes go to the node as they are, and the
// node's replies come back once their certificates check.
func (p *certifyingProxy) carry(ctx context.Context, client net.Conn) {
	defer client.Close()
	node, replies, err := p.dial(ctx)
	if err != nil {
		p.logger.Warn("proxy: client turned away", "err", err)
		return
	}
	defer node.Close()
	stop := context.AfterFunc(ctx, func() { node.Close(); client.Close() })
	defer stop()
	go func() {
		_, _ = io.Copy(node, client)
		if tcp, ok := node.(*net.TCPConn); ok {
			_ = tcp.CloseWrite()
		}
	}()
	id := replies.Conn().Node
	var last uint64
	for {
		o, cert, err := replies.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil {
				p.logger.Warn("proxy: the node's replies broke off", "node", id, "err", err)
			}
			return
		}
		if err := outputs.Verify(p.cfg.ClusterID, p.members, o, cert); err != nil || o.Seq <= last {
			if err == nil {
				err = fmt.Errorf("reply #%d after #%d: out of order or repeated", o.Seq, last)
			}
			p.refused.Add(1)
			p.distrust(id)
			p.logger.Warn("proxy: a reply failed its certificate; closing the client's connection and avoiding the node", "node", id, "err", err)
			return
		}
		last = o.Seq
		if _, err := client.Write(o.Action.(outputs.Send).Data); err != nil {
			return
		}
		p.passed.Add(1)
	}
}
