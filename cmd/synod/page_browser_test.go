package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
)

// screenshotDirEnv names a directory where TestClusterPageInChromium
// saves what the page looked like after the failover: that is how
// docs/cluster-page.png is made.
const screenshotDirEnv = "SYNOD_SCREENSHOT_DIR"

// chromium is the path of a Chromium to drive, or "" when none is
// installed (.ci/run installs Debian's).
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	return ""
}

// newBrowser starts a headless Chromium for one test. The flags keep it
// from reaching outside the machine (updates, sync, field trials).
func newBrowser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1100, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	// The browser starts with the first action and lives as long as that
	// action's context: start it on this one, not on a request's timeout.
	require.NoError(t, chromedp.Do(ctx))
	return ctx
}

// What a person sees on the cluster page, read from the rendered document.
type pageView struct {
	Nodes, Down, Leaders, Failovers int
	Health, Events                  string
}

const readPageView = `({
	nodes: document.querySelectorAll('#nodes tr.node').length,
	down: document.querySelectorAll('#nodes tr.down').length,
	leaders: document.querySelectorAll('#nodes td.role-leader').length,
	failovers: document.querySelectorAll('#timeline line.failover').length,
	health: document.querySelector('#health').innerText,
	events: document.querySelector('#events').innerText,
})`

func (v *pageView) read(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible("#timeline")); err != nil {
		return err
	}
	seen, err := chromedp.Run(ctx, chromedp.Evaluate[pageView](readPageView))
	if err != nil {
		return err
	}
	*v = seen
	return nil
}

// The cluster page, rendered by Chromium: three nodes, one leader; after
// the leader is killed with SIGKILL, a survivor's page shows it down and
// a failover marked on the timeline and in the events.
func TestClusterPageInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster and a browser")
	}
	path := chromium()
	if path == "" {
		t.Skip("no Chromium installed (apt-get install chromium)")
	}
	c := startCluster(t, 3, testMachine(""))
	c.waitServing()
	kv, err := dialKV(c.serviceAddr(1))
	require.NoError(t, err)
	setKeys(t, kv, 0, 20)
	kv.Close()
	ctx := newBrowser(t, path)

	leader := c.leader()
	var survivor consensus.NodeID = 1
	if leader == 1 {
		survivor = 2
	}
	url := "http://" + c.node(survivor).StatusAddr + "/"
	var v pageView
	require.NoError(t, v.read(ctx, url))
	require.Equal(t, 3, v.Nodes, "three nodes")
	require.Equal(t, 1, v.Leaders, "one leader")
	require.Zero(t, v.Down)
	require.Zero(t, v.Failovers)
	require.Contains(t, v.Health, "quorum yes")

	c.kill(leader)
	c.eventually("the survivor's page shows the failover", func() bool {
		return v.read(ctx, url) == nil && v.Down == 1 && v.Leaders == 1 && v.Failovers > 0 &&
			strings.Contains(v.Events, "declared down")
	})
	require.Contains(t, v.Events, "failover")

	if dir := os.Getenv(screenshotDirEnv); dir != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "cluster-page.png"), png, 0o644))
	}
	require.NotContains(t, v.Events, "diverged")
}
