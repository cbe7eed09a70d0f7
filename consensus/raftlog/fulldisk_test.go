package raftlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/logtest"
	"github.com/synodvm/synod/consensus/memnet"
)

// TestRealFullDisk fills a small tmpfs the test mounts: the node stops with
// ENOSPC, and every entry it delivered before is in the store afterwards.
func TestRealFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	disk := filepath.Join(t.TempDir(), "disk")
	require.NoError(t, os.Mkdir(disk, 0o700))
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", disk).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	mounted := true
	defer func() {
		if mounted {
			_ = exec.Command("umount", disk).Run()
		}
	}()

	store, err := openStore(disk, testIdentity)
	require.NoError(t, err)
	ep, err := memnet.New(1).Join(1)
	require.NoError(t, err)
	node, err := StartNode(Config{ID: 1, Peers: []consensus.NodeID{1}, Logger: quietLogger()}, store, ep)
	require.NoError(t, err)
	var delivered []string
	applied := make(chan struct{})
	go func() {
		defer close(applied)
		var h logtest.History
		for a := range node.Applies() {
			assert.NoError(t, h.Apply(a))
			delivered = h.Entries
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	eventually(t, "the single node leads", func() bool { return node.Status().IsLeader })
	entry := make([]byte, 4096)
	for i := 0; i < 10000; i++ { // 40 MB: far more than the disk holds
		copy(entry, fmt.Sprintf("e-%d", i))
		if err := node.Propose(ctx, slices.Clone(entry)); err != nil {
			require.ErrorIs(t, err, consensus.ErrStopped)
			break
		}
	}
	<-node.Done()
	<-applied
	require.ErrorIs(t, node.Err(), syscall.ENOSPC, "the node names the full disk")
	assert.ErrorIs(t, node.Stop(), ErrFailed)
	require.NotEmpty(t, delivered)

	// Move the file off the full disk and reopen it: all delivered
	// entries are there.
	kept := t.TempDir()
	copyFile(t, filepath.Join(disk, StoreFileName), filepath.Join(kept, StoreFileName))
	require.NoError(t, exec.Command("umount", disk).Run())
	mounted = false
	reopened, err := openStore(kept, testIdentity)
	require.NoError(t, err)
	defer reopened.Close()
	ep2, err := memnet.New(1).Join(1)
	require.NoError(t, err)
	core, err := NewCore(Config{ID: 1, Logger: quietLogger()}, reopened, ep2)
	require.NoError(t, err)
	var replay logtest.History
	replayAll := func() {
		for core.HasReady() {
			applies, err := core.HandleReady()
			require.NoError(t, err)
			require.NoError(t, replay.Apply(applies...))
		}
	}
	replayAll()
	// The stored commit index may trail what was delivered (a commit
	// alone is not worth an fsync); leading again commits the rest.
	require.NoError(t, core.Campaign())
	replayAll()
	require.GreaterOrEqual(t, len(replay.Entries), len(delivered))
	assert.Equal(t, delivered, replay.Entries[:len(delivered)])
}

func copyFile(t *testing.T, from, to string) {
	in, err := os.Open(from)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.Create(to)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, errors.Join(err, out.Close()))
}

// A store on a file system mounted read-only is reported as such, not as
// a corrupted store: the operator must fix the mount, not the data.
func TestReadOnlyStoreSaysSo(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	disk := filepath.Join(t.TempDir(), "disk")
	require.NoError(t, os.Mkdir(disk, 0o700))
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", disk).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	defer func() { _ = exec.Command("umount", disk).Run() }()
	require.NoError(t, CreateBoltStore(disk, testIdentity, StoreLife{}))
	out, err := exec.Command("mount", "-o", "remount,ro", disk).CombinedOutput()
	require.NoError(t, err, "%s", out)

	_, err = OpenBoltStore(disk, testIdentity)
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrCorruptStore)
	assert.Contains(t, err.Error(), "read-only")
	assert.Contains(t, err.Error(), filepath.Join(disk, StoreFileName))
}
