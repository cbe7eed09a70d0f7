package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/synodvm/synod/peripherals/disk"
)

const diskUsage = `usage: synod disk serve --image FILE --size SIZE [--listen ADDR]

serve: serves a disk image file over TCP, to the nodes that cluster.toml
gives a [[disk.path]] to it (docs/disks.md). A missing image is created
sparse; an existing one must be SIZE bytes already. A write is on disk
(fsynced) before it is answered, and a write sent again with the same
sequence number, even across a restart of the server, is answered with
its first answer and not applied again: the server keeps the answers in
FILE.seqs, next to the image. Ctrl-C or SIGTERM stops it.

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
	if help, err := parseFlags(fs, args[1:]); help || err != nil {
		return err
	}
	if *image == "" || size == 0 {
		fs.Usage()
		return errors.New("disk serve: --image and --size are required")
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	srv, err := disk.Open(*image, int64(size), disk.Options{Logger: logger})
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
