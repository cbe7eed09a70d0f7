package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/cluster"
	"github.com/synodvm/synod/peripherals/disk"
)

// startDiskServer runs `synod disk serve` on a new image in dir and
// returns the address it serves.
func startDiskServer(tb testing.TB, dir, name string, size int64) string {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "disk", "serve", "--image", filepath.Join(dir, name+".img"),
		"--size", fmt.Sprint(size), "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), runAsSynodEnv+"=1")
	out, err := cmd.StdoutPipe()
	require.NoError(tb, err)
	require.NoError(tb, cmd.Start())
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if addr := regexp.MustCompile(`127\.0\.0\.1:\d+`).FindString(lines.Text()); addr != "" {
			go func() {
				for lines.Scan() {
				}
			}()
			return addr
		}
	}
	tb.Fatalf("disk server for %s said no address", name)
	return ""
}

// benchWrites is how many 4 KiB writes each pattern makes.
const benchWrites = 300

// BenchmarkReplicatedDisk times 4 KiB writes, one outstanding at a time,
// sequential then random: by a guest through one disk path of a 3-node
// cluster (each write an output, its answer a log entry), by a client
// straight to the same disk server, and with pwrite+fdatasync on a file.
//
//	go test ./cmd/synod -run '^$' -bench ReplicatedDisk -benchtime 1x
func BenchmarkReplicatedDisk(b *testing.B) {
	for range b.N {
		dir := b.TempDir()
		addr := startDiskServer(b, dir, "bench", 64<<20)
		guest, err := filepath.Abs("guests/diskbench/diskbench")
		require.NoError(b, err)
		c := newTestCluster(b, 3, testMachine(guest), "/dev/synod/bench.1", fmt.Sprint(benchWrites))
		d := cluster.Disk{Name: "bench", Size: 64 << 20}
		for _, n := range c.cfg.Nodes {
			d.Paths = append(d.Paths, cluster.DiskPath{Node: n.ID, Addr: addr})
		}
		c.cfg.Disks = []cluster.Disk{d}
		require.NoError(b, cluster.Write(c.configPath, c.cfg))
		for _, n := range c.cfg.Nodes {
			c.start(n.ID)
		}
		started := c.consoleLine(1, "diskbench: ")
		sequential := c.consoleLine(1, "sequential done")
		random := c.consoleLine(1, "random done")
		guestSeq, guestRand := sequential.Sub(started)/benchWrites, random.Sub(sequential)/benchWrites

		client, err := disk.NewClient(disk.ClientConfig{Addr: addr, ID: "bench-direct"})
		require.NoError(b, err)
		defer client.Close()
		directSeq, directRand := timeWrites(b, func(seq uint64, off int64, block []byte) error {
			_, err := client.Write(context.Background(), seq, off, block)
			return err
		})
		f, err := os.Create(filepath.Join(dir, "direct.img"))
		require.NoError(b, err)
		defer f.Close()
		fileSeq, fileRand := timeWrites(b, func(_ uint64, off int64, block []byte) error {
			if _, err := f.WriteAt(block, off); err != nil {
				return err
			}
			return f.Sync()
		})

		b.ReportMetric(float64(guestSeq.Microseconds()), "µs/seq-write")
		b.ReportMetric(float64(guestRand.Microseconds()), "µs/random-write")
		fmt.Printf("\n4 KiB writes, one outstanding       sequential           random\n")
		for _, row := range []struct {
			name      string
			seq, rand time.Duration
		}{
			{"guest, replicated, one path", guestSeq, guestRand},
			{"client to the disk server", directSeq, directRand},
			{"pwrite+fdatasync on a file", fileSeq, fileRand},
		} {
			fmt.Printf("%-32s %8v %6.0f/s  %8v %6.0f/s\n", row.name, row.seq.Round(time.Microsecond), 1/row.seq.Seconds(),
				row.rand.Round(time.Microsecond), 1/row.rand.Seconds())
		}
	}
}

// timeWrites makes benchWrites sequential then benchWrites random 4 KiB
// writes with write and returns the mean time of one of each.
func timeWrites(b *testing.B, write func(seq uint64, off int64, block []byte) error) (sequential, random time.Duration) {
	block := make([]byte, 4096)
	seq := uint64(0)
	start := time.Now()
	for i := range benchWrites {
		seq++
		require.NoError(b, write(seq, int64(i)*4096, block))
	}
	sequential = time.Since(start) / benchWrites
	start = time.Now()
	for range benchWrites {
		seq++
		require.NoError(b, write(seq, int64(rand.IntN(16384))*4096, block))
	}
	return sequential, time.Since(start) / benchWrites
}

// consoleLine waits until node id's console holds a line starting with
// prefix and returns when it saw it.
func (c *testCluster) consoleLine(id consensus.NodeID, prefix string) time.Time {
	c.t.Helper()
	deadline := time.Now().Add(patience)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		out := c.console[id].String()
		c.mu.Unlock()
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, prefix) {
				return time.Now()
			}
		}
		time.Sleep(time.Millisecond)
	}
	c.t.Fatalf("node %d never printed %q", id, prefix)
	return time.Time{}
}
