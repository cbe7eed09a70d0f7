package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/cluster"
	"github.com/synodvm/synod/peripherals"
	"github.com/synodvm/synod/peripherals/disk"
)

// diskRequestTimeout bounds one disk request of a node: past it the
// outcome is uncertain and the runtime sends the request again.
const diskRequestTimeout = 10 * time.Second

// byzantineDiskDownAfter is replica.NodeConfig.DiskDownAfter for a
// cluster of engine: in a Byzantine one, three of a correct member's
// request timeouts, after which every member declares down one that
// still owes a disk completion; never in a crash-fault one, whose
// members fail only by stopping.
func byzantineDiskDownAfter(engine cluster.Engine) time.Duration {
	if engine != cluster.EngineBFT {
		return 0
	}
	return 3 * diskRequestTimeout
}

// nodeDisks makes node self's disk device from the config's disk paths
// through it; nil when it has none. Each disk server knows the cluster's
// outputs by the cluster id and the disk's name: every node sends the
// same output under the same sequence number, so a repeat from another
// node, or after a restart, is recognised.
func nodeDisks(cfg *cluster.Config, self consensus.NodeID, logger *slog.Logger) (*peripherals.Disks, []*disk.Client, error) {
	backends := map[string]peripherals.DiskBackend{}
	var clients []*disk.Client
	for _, d := range cfg.Disks {
		for _, p := range d.Paths {
			if p.Node != self {
				continue
			}
			c, err := disk.NewClient(disk.ClientConfig{Addr: p.Addr, ID: cfg.ClusterID + "/" + d.Name, Logger: logger.With("disk", d.Name)})
			if err != nil {
				return nil, clients, fmt.Errorf("disk %s: %w", d.Name, err)
			}
			clients = append(clients, c)
			backends[d.Name] = diskBackend{c}
		}
	}
	if len(backends) == 0 {
		return nil, nil, nil
	}
	return peripherals.NewDisks(self, backends, diskRequestTimeout, logger), clients, nil
}

// diskBackend is a disk server's client as the node's disk device uses it.
type diskBackend struct{ c *disk.Client }

func (b diskBackend) ReadAt(ctx context.Context, seq uint64, offset int64, length int) ([]byte, error) {
	data, err := b.c.Read(ctx, seq, offset, length)
	return data, guestError(err)
}

func (b diskBackend) WriteAt(ctx context.Context, seq uint64, offset int64, data, cert []byte) (int, error) {
	n, err := b.c.WriteCertified(ctx, seq, offset, data, cert)
	return n, guestError(err)
}

// guestError turns the definite outcomes into the errno the guest sees:
// the server's answers, and a server this node could not reach (nothing
// was sent, so the guest may as well try another path now). Anything
// else is left uncertain.
func guestError(err error) error {
	if errors.Is(err, disk.ErrNotSent) {
		return &peripherals.DiskError{Errno: peripherals.ErrnoEIO, Msg: err.Error()}
	}
	var se *disk.StatusError
	if !errors.As(err, &se) {
		return err
	}
	errno := uint32(peripherals.ErrnoEIO)
	switch se.Status {
	case disk.StatusOutOfRange:
		errno = peripherals.ErrnoENOSPC
	case disk.StatusTooLarge, disk.StatusBadRequest:
		errno = peripherals.ErrnoEINVAL
	}
	return &peripherals.DiskError{Errno: errno, Msg: se.Error()}
}
