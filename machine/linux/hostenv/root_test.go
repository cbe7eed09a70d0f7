package hostenv_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/machine/linux"
	"github.com/synodvm/synod/machine/linux/hostenv"
)

// TestRootIsLookedUpFirst: with a root, an absolute path the root holds
// is the root's file; one it does not hold is the host's; a relative path
// is the host's, against the working directory.
func TestRootIsLookedUpFirst(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "bin"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "bin", "sh"), []byte("guest shell"), 0o755))
	hostFile := filepath.Join(outside, "data")
	require.NoError(t, os.WriteFile(hostFile, []byte("host data"), 0o644))

	env := hostenv.New()
	env.SetRoot(root)
	read := func(path string) string {
		h, e := env.Open(path, linux.O_RDONLY, 0)
		require.Zero(t, e, path)
		defer env.Close(h)
		b, e := env.Read(h, 100)
		require.Zero(t, e)
		return string(b)
	}
	require.Equal(t, "guest shell", read("/bin/sh"))
	require.Equal(t, "host data", read(hostFile))
	st, e := env.StatPath("/bin/sh", true)
	require.Zero(t, e)
	require.Equal(t, int64(len("guest shell")), st.Size)
	_, e = env.StatPath("/bin/nothing-here", true)
	require.Equal(t, linux.ENOENT, e)
}
