package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/peripherals/disk"
)

// diskProc is `synod disk serve` running as a child process.
type diskProc struct {
	cmd    *exec.Cmd
	addr   string
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
}

// startDiskProc runs `synod disk serve` on image and waits until it
// says where it listens.
func startDiskProc(t *testing.T, image, size string) *diskProc {
	t.Helper()
	p := &diskProc{stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = synodCommand("disk", "serve", "--image", image, "--size", size, "--listen", "127.0.0.1:0")
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	require.NoError(t, p.cmd.Start())
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("disk server stdout:\n%s\nstderr:\n%s", p.stdout, p.stderr)
		}
	})
	deadline := time.Now().Add(patience)
	for p.addr == "" {
		select {
		case <-p.done:
			t.Fatalf("synod disk serve exited: %v\n%s", p.cmd.ProcessState, p.stderr)
		case <-time.After(10 * time.Millisecond):
		}
		require.True(t, time.Now().Before(deadline), "synod disk serve did not say where it listens")
		p.addr = diskAddr.FindString(p.stdout.String())
	}
	return p
}

func (p *diskProc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(sig))
	select {
	case <-p.done:
	case <-time.After(patience):
		t.Fatalf("synod disk serve did not exit on %v", sig)
	}
}

func diskClient(t *testing.T, addr, id string) *disk.Client {
	t.Helper()
	c, err := disk.NewClient(disk.ClientConfig{Addr: addr, ID: id, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// A disk server killed with pipelined requests in flight loses none it
// answered, and after a restart a write sent again with its seq is
// answered with its first answer and applied once.
func TestDiskServerKilledMidBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("runs disk servers as processes")
	}
	const id, block, callers, perCaller = "cluster-7/journal", 4096, 8, 16
	image := filepath.Join(t.TempDir(), "journal.img")
	p := startDiskProc(t, image, "1M")
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	c := diskClient(t, p.addr, id)
	fill := func(b byte) []byte { return bytes.Repeat([]byte{b}, block) }

	_, err := c.Write(ctx, 1, 0, fill('A'))
	require.NoError(t, err)
	_, err = c.Write(ctx, 2, 0, fill('B'))
	require.NoError(t, err)

	// Pipelined writes, each to its own block; the server is killed once
	// a few are answered, with others in flight.
	type outcome struct {
		seq uint64
		err error
	}
	outcomes := make(chan outcome, callers*perCaller)
	answered := make(chan struct{}, callers*perCaller)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			for j := range perCaller {
				seq := uint64(10 + i*perCaller + j)
				_, err := c.Write(ctx, seq, int64(seq)*block, fill(byte(seq)))
				outcomes <- outcome{seq, err}
				if err != nil {
					return
				}
				answered <- struct{}{}
			}
		})
	}
	for range 5 {
		<-answered
	}
	p.signal(t, syscall.SIGKILL)
	wg.Wait()
	close(outcomes)
	ok, uncertain := map[uint64]bool{}, map[uint64]bool{}
	for o := range outcomes {
		switch {
		case o.err == nil:
			ok[o.seq] = true
		case errors.Is(o.err, disk.ErrUncertain), errors.Is(o.err, disk.ErrNotSent):
			uncertain[o.seq] = true
		default:
			t.Fatalf("seq %d: neither answered nor uncertain: %v", o.seq, o.err)
		}
	}
	require.GreaterOrEqual(t, len(ok), 5)
	t.Logf("%d writes answered, %d uncertain when the server was killed", len(ok), len(uncertain))
	img, err := os.ReadFile(image)
	require.NoError(t, err)
	for seq := range ok {
		require.Equal(t, fill(byte(seq)), img[seq*block:(seq+1)*block], "seq %d was answered, so it is on disk", seq)
	}

	p = startDiskProc(t, image, "1M")
	c = diskClient(t, p.addr, id)
	n, err := c.Write(ctx, 1, 0, fill('A'))
	require.NoError(t, err, "a replay across the restart gets its first answer")
	assert.Equal(t, block, n)
	// Overwrite every block, then send every write of the burst again:
	// those the server applied before it died must not be applied again.
	for seq := uint64(10); seq < 10+callers*perCaller; seq++ {
		_, err := c.Write(ctx, 1000+seq, int64(seq)*block, fill('Z'))
		require.NoError(t, err)
	}
	for seq := uint64(10); seq < 10+callers*perCaller; seq++ {
		n, err := c.Write(ctx, seq, int64(seq)*block, fill(byte(seq)))
		require.NoError(t, err, "seq %d sent again", seq)
		assert.Equal(t, block, n)
	}
	img, err = os.ReadFile(image)
	require.NoError(t, err)
	assert.Equal(t, fill('B'), img[:block], "seq 1 was applied once")
	reached := 0
	for seq := uint64(10); seq < 10+callers*perCaller; seq++ {
		got := img[seq*block : (seq+1)*block]
		switch {
		case ok[seq]:
			assert.Equal(t, fill('Z'), got, "seq %d, answered before the kill, was applied once", seq)
		case uncertain[seq] && bytes.Equal(got, fill('Z')):
			reached++
		default:
			assert.Equal(t, fill(byte(seq)), got, "seq %d, never sent or lost, was applied when sent again", seq)
		}
	}
	t.Logf("of the uncertain writes, %d had been applied and were answered from the table", reached)
}

// answerLosingProxy forwards one client's requests to addr and drops the
// answers; answered is closed once the first answer arrives.
func answerLosingProxy(t *testing.T, addr string) (proxy string, answered chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	answered = make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		up, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		defer up.Close()
		go io.Copy(up, conn)
		var first [1]byte
		if _, err := io.ReadFull(up, first[:]); err == nil {
			close(answered)
			io.Copy(io.Discard, up)
		}
	}()
	return ln.Addr().String(), answered
}

// The server applies a write and dies before its answer reaches the
// client: the client's outcome is uncertain, and the write sent again
// after a restart is answered from the table, not applied again.
func TestDiskServerKilledAfterApplying(t *testing.T) {
	if testing.Short() {
		t.Skip("runs disk servers as processes")
	}
	const id = "cluster-7/journal"
	image := filepath.Join(t.TempDir(), "journal.img")
	p := startDiskProc(t, image, "64K")
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	proxy, answered := answerLosingProxy(t, p.addr)
	unlucky := diskClient(t, proxy, id)
	outcome := make(chan error, 1)
	go func() {
		_, err := unlucky.Write(ctx, 3, 0, []byte("written once"))
		outcome <- err
	}()
	select {
	case <-answered:
	case <-ctx.Done():
		t.Fatal("the server did not answer")
	}
	p.signal(t, syscall.SIGKILL)
	require.ErrorIs(t, <-outcome, disk.ErrUncertain)

	p = startDiskProc(t, image, "64K")
	c := diskClient(t, p.addr, id)
	_, err := c.Write(ctx, 4, 0, []byte("written later"))
	require.NoError(t, err)
	n, err := c.Write(ctx, 3, 0, []byte("written once"))
	require.NoError(t, err, "the uncertain write sent again is answered")
	assert.Equal(t, len("written once"), n)
	img, err := os.ReadFile(image)
	require.NoError(t, err)
	assert.Equal(t, "written later", string(img[:len("written later")]), "and not applied again")
}

func TestDiskServerStopsOnSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs disk servers as processes")
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			image := filepath.Join(t.TempDir(), "d.img")
			p := startDiskProc(t, image, "64K")
			assert.Contains(t, p.stdout.String(), fmt.Sprintf("disk: serving %s (65536 bytes) at %s", image, p.addr))
			p.signal(t, sig)
			assert.True(t, p.cmd.ProcessState.Success(), "exit status %v; stderr:\n%s", p.cmd.ProcessState, p.stderr)
			assert.Contains(t, p.stdout.String(), "disk: stopped")
			p = startDiskProc(t, image, "64K")
			p.signal(t, syscall.SIGTERM)
		})
	}
}

func TestDiskCommandErrors(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing.img")
	require.NoError(t, os.WriteFile(existing, make([]byte, 8192), 0o644))
	for _, tc := range []struct {
		name   string
		args   []string
		err    string
		stdout string
	}{
		{"no subcommand", []string{"disk"}, "name a subcommand: serve", "usage: synod disk serve"},
		{"an unknown subcommand", []string{"disk", "mount"}, `unknown subcommand "mount"`, "usage: synod disk serve"},
		{"no image", []string{"disk", "serve", "--size", "1M"}, "--image and --size are required", ""},
		{"no size", []string{"disk", "serve", "--image", existing}, "--image and --size are required", ""},
		{"a bad size", []string{"disk", "serve", "--image", existing, "--size", "lots"}, "want a size", ""},
		{"an image of another size", []string{"disk", "serve", "--image", existing, "--size", "4K"}, "is 8192 bytes, not 4096", ""},
		{"a size too small", []string{"disk", "serve", "--image", filepath.Join(dir, "new.img"), "--size", "1K"}, "too small", ""},
		{"an address it cannot listen on", []string{"disk", "serve", "--image", existing, "--size", "8K", "--listen", "no-such-host.invalid:1"}, "disk serve:", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout bytes.Buffer
			err := dispatch(context.Background(), tc.args, &stdout)
			require.ErrorContains(t, err, tc.err)
			assert.Contains(t, stdout.String(), tc.stdout)
		})
	}
	_, err := os.Stat(filepath.Join(dir, "new.img"))
	assert.ErrorIs(t, err, os.ErrNotExist, "a refused image is not created")
}
