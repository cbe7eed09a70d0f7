package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/synodvm/synod/consensus/cluster"
	"github.com/synodvm/synod/outputs"
	"github.com/synodvm/synod/peripherals/disk"
)

const diskUsage = `usage: synod disk serve --image FILE --size SIZE [--listen ADDR] [--cluster FILE --disk NAME]

serve: serves a disk image file over TCP, to the nodes that cluster.toml
gives a [[disk.path]] to it (docs/disks.md). A missing image is created
sparse; an existing one must be SIZE bytes already. A write is on disk
(fsynced) before it is answered, and a write sent again with the same
sequence number, even across a restart of the server, is answered with
its first answer and not applied again: the server keeps the answers in
FILE.seqs, next to the image. Ctrl-C or SIGTERM stops it.

For a Byzantine cluster (synod init --byzantine), --cluster and --disk
make the server apply a write only with a certificate: f+1 nodes'
signatures over that write to disk NAME, checked against the members'
keys in the cluster config, so that a faulty node cannot write what no
correct replica asked for. A write without one is refused
("uncertified") and the guest sees EIO.

flags:
`

func runDisk(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "serve" {
		fmt.Fprint(stdout, strings.TrimSuffix(diskUsage, "flags:\n"))
		if len(args) == 0 {
			return errors.New("disk: name a subcommand: serve")
		}
		return fmt.Errorf("disk: unknown subcommand %q (there is serve)", args[0])
	}
	fs := newFlags("disk serve", diskUsage)
	image := fs.String("image", "", "the disk image `file`")
	var size diskSize
	fs.Var(&size, "size", "the image's `size`, such as 64M or 10G: whole 512-byte sectors, 4K at least")
	listen := fs.String("listen", "127.0.0.1:7420", "serve on `host:port` (port 0: any free port)")
	clusterPath := fs.String("cluster", "", "a Byzantine cluster's config `file`: apply only writes f+1 of its nodes signed")
	diskName := fs.String("disk", "", "with --cluster, the `name` this disk has in the cluster config")
	if help, err := parseFlags(fs, args[1:]); help || err != nil {
		return err
	}
	if *image == "" || size == 0 {
		fs.Usage()
		return errors.New("disk serve: --image and --size are required")
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	opts := disk.Options{Logger: logger}
	if *clusterPath != "" || *diskName != "" {
		check, err := certifiedWrites(*clusterPath, *diskName)
		if err != nil {
			return fmt.Errorf("disk serve: %w", err)
		}
		opts.CheckWrite = check
	}
	srv, err := disk.Open(*image, int64(size), opts)
	if err != nil {
		return fmt.Errorf("disk serve: %w", err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return errors.Join(fmt.Errorf("disk serve: %w", err), srv.Close())
	}
	fmt.Fprintf(stdout, "disk: serving %s (%d bytes) at %s\n", *image, int64(size), ln.Addr())
	go srv.Serve(ln)
	<-ctx.Done()
	if err := srv.Close(); err != nil {
		return fmt.Errorf("disk serve: %w", err)
	}
	fmt.Fprintln(stdout, "disk: stopped")
	return nil
}

// maxDiskSize bounds --size: an image larger than this is a typo.
const maxDiskSize = 1 << 50

// diskSize is --size in bytes, with an optional K, M or G suffix (powers
// of 1024).
type diskSize int64

func (s *diskSize) String() string { return strconv.FormatInt(int64(*s), 10) }

func (s *diskSize) Set(v string) error {
	num, unit := splitSize(v)
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || n == 0 || n > maxDiskSize/unit {
		return fmt.Errorf("want a size from 1 byte to %dG, such as 64M or 10G", maxDiskSize>>30)
	}
	*s = diskSize(n * unit)
	return nil
}

// certifiedWrites is the check a Byzantine cluster's disk server makes
// of every write: a certificate of f+1 of the cluster's members over that
// write to disk name (outputs.VerifyDiskWrite).
func certifiedWrites(clusterPath, name string) (func(seq uint64, offset int64, data, cert []byte) error, error) {
	if clusterPath == "" || name == "" {
		return nil, errors.New("--cluster and --disk go together")
	}
	cfg, err := cluster.Load(clusterPath)
	if err != nil {
		return nil, err
	}
	if cfg.Engine != cluster.EngineBFT {
		return nil, fmt.Errorf("--cluster: the cluster runs engine %q; only a Byzantine cluster certifies its writes", cfg.Engine)
	}
	if !slices.ContainsFunc(cfg.Disks, func(d cluster.Disk) bool { return d.Name == name }) {
		return nil, fmt.Errorf("--disk %q: the cluster config has no such disk", name)
	}
	members, err := memberKeys(cfg)
	if err != nil {
		return nil, err
	}
	return func(seq uint64, offset int64, data, certBytes []byte) error {
		return outputs.VerifyDiskWrite(cfg.ClusterID, members, name, seq, offset, data, certBytes)
	}, nil
}
