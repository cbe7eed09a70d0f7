package peripherals

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/outputs"
)

// DiskBackend is one disk as a node reaches it: a disk server's client.
// seq names a request across repeats: the server applies a write once and
// answers a repeat of it with the first answer, so a node may send a
// request again whenever it does not know whether the first arrived.
type DiskBackend interface {
	ReadAt(ctx context.Context, seq uint64, offset int64, length int) ([]byte, error)
	// WriteAt writes data with its certificate (outputs.AppendCertificate;
	// nil outside a Byzantine cluster), which the server may check.
	WriteAt(ctx context.Context, seq uint64, offset int64, data, cert []byte) (int, error)
}

// ErrDiskUncertain is what a backend returns when it cannot tell whether
// the server received a request (the connection broke, the call timed
// out). The node does not answer such an output: the runtime performs it
// again, with its sequence number, until an answer commits.
var ErrDiskUncertain = errors.New("disk request outcome unknown")

// DiskError is a definite failure the server reported; the guest gets
// Errno.
type DiskError struct {
	Errno uint32
	Msg   string
}

func (e *DiskError) Error() string { return fmt.Sprintf("disk: %s (errno %d)", e.Msg, e.Errno) }

// Guest errno values a disk answers with; EIO, EINVAL and ENOSPC have
// these numbers on every Linux, PA-RISC included.
const (
	ErrnoEIO    = 5
	ErrnoEINVAL = 22
	ErrnoENOSPC = 28
)

// Disks is a node's disk device: it performs the disk outputs addressed
// to this node on the backends of its paths, each on a goroutine of its
// own, and answers each through complete. An output already in flight is
// not sent twice; one whose answer is uncertain is not answered at all.
type Disks struct {
	node     consensus.NodeID
	backends map[string]DiskBackend
	timeout  time.Duration
	logger   *slog.Logger

	mu       sync.Mutex
	inflight map[uint64]bool
	wg       sync.WaitGroup
	ctx      context.Context
	stop     context.CancelFunc
}

// NewDisks makes the disk device of node; backends are its paths by disk
// name. timeout bounds one request: past it the answer is uncertain.
func NewDisks(node consensus.NodeID, backends map[string]DiskBackend, timeout time.Duration, logger *slog.Logger) *Disks {
	ctx, stop := context.WithCancel(context.Background())
	return &Disks{node: node, backends: backends, timeout: timeout, logger: logger,
		inflight: map[uint64]bool{}, ctx: ctx, stop: stop}
}

// Perform starts one disk output.
func (d *Disks) Perform(o outputs.Output, complete func(entry.Completion)) {
	d.PerformCertified(o, nil, complete)
}

// PerformCertified starts one disk output of a Byzantine cluster; a write
// goes to the server with its certificate.
func (d *Disks) PerformCertified(o outputs.Output, cert outputs.Certificate, complete func(entry.Completion)) {
	d.mu.Lock()
	if d.inflight[o.Seq] {
		d.mu.Unlock()
		return
	}
	d.inflight[o.Seq] = true
	d.mu.Unlock()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		c, err := d.do(o, cert)
		d.mu.Lock()
		delete(d.inflight, o.Seq)
		d.mu.Unlock()
		if errors.Is(err, ErrDiskUncertain) {
			d.logger.Warn("disk request outcome unknown; it will be sent again", "seq", o.Seq, "action", o.Action, "err", err)
			return
		}
		complete(c)
	}()
}

// do performs the output and says what to answer.
func (d *Disks) do(o outputs.Output, cert outputs.Certificate) (entry.Completion, error) {
	c := entry.Completion{Node: d.node, Seq: o.Seq}
	var disk string
	switch a := o.Action.(type) {
	case outputs.DiskRead:
		disk = a.Disk
	case outputs.DiskWrite:
		disk = a.Disk
	}
	b := d.backends[disk]
	if b == nil {
		d.logger.Error("a disk output for a disk this node has no path to", "seq", o.Seq, "action", o.Action)
		c.Errno = ErrnoEIO
		return c, nil
	}
	ctx, cancel := context.WithTimeout(d.ctx, d.timeout)
	defer cancel()
	var err error
	switch a := o.Action.(type) {
	case outputs.DiskRead:
		c.Data, err = b.ReadAt(ctx, o.Seq, a.Offset, a.Length)
	case outputs.DiskWrite:
		var n int
		var certBytes []byte
		if cert != nil {
			certBytes = outputs.AppendCertificate(nil, cert)
		}
		n, err = b.WriteAt(ctx, o.Seq, a.Offset, a.Data, certBytes)
		c.N = uint64(n)
	}
	var de *DiskError
	switch {
	case err == nil:
		return c, nil
	case errors.As(err, &de):
		d.logger.Warn("disk request failed", "seq", o.Seq, "action", o.Action, "err", err)
		return entry.Completion{Node: d.node, Seq: o.Seq, Errno: de.Errno}, nil
	}
	return c, fmt.Errorf("%w: %w", ErrDiskUncertain, err)
}

// Stop cancels the requests in flight and waits for their goroutines.
func (d *Disks) Stop() {
	d.stop()
	d.wg.Wait()
}
