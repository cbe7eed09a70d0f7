package replica

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/machine/linux"
	"github.com/synodvm/synod/machine/linux/fstree"
)

// packedRoot is a root file system holding one file.
func packedRoot(t *testing.T, content string) []byte {
	t.Helper()
	tree := fstree.New()
	f, errno := tree.Open("/motd", linux.O_CREAT|linux.O_WRONLY, 0o644, 0)
	require.Zero(t, errno)
	_, errno = tree.Write(f, []byte(content), 0)
	require.Zero(t, errno)
	tree.Close(f)
	return tree.Encode()
}

// A replica boots only with the root file system the Boot entry names,
// and its machine starts with those files; a node given other files (or
// none) refuses, naming the root, as it does for another guest.
func TestBootEntryNamesTheRootFileSystem(t *testing.T) {
	guest := readGuest(t, kvdGuest)
	root := packedRoot(t, "welcome\n")
	boot := func(root []byte) entry.Boot {
		return entry.Boot{GuestDigest: GuestDigest(guest), RootDigest: RootDigest(root), Argv: []string{"kvd"}, EpochInstructions: 1000}
	}

	r := New(Config{Self: 1, Guest: guest, Root: root, ExePath: "/kvd"})
	r.CommitEntry(1, boot(root))
	require.NoError(t, r.Status().Stopped)
	h, errno := r.world.Open("/motd", linux.O_RDONLY, 0)
	require.Zero(t, errno)
	b, errno := r.world.Read(h, 100)
	require.Zero(t, errno)
	require.Equal(t, "welcome\n", string(b))

	for _, c := range []struct {
		name  string
		given []byte
		boot  entry.Boot
	}{
		{"other files", packedRoot(t, "other\n"), boot(root)},
		{"no root given", nil, boot(root)},
		{"a root the boot does not name", root, boot(nil)},
	} {
		r := New(Config{Self: 1, Guest: guest, Root: c.given, ExePath: "/kvd"})
		r.CommitEntry(1, c.boot)
		require.ErrorContains(t, r.Status().Stopped, "root file system", c.name)
		require.False(t, r.Status().Booted, c.name)
	}
}
