package disk

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// patience bounds every wait of a test.
const patience = 10 * time.Second

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	t.Cleanup(cancel)
	return ctx
}

// logBuffer collects a server's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// testServer is a server on a loopback port, closed when the test ends.
type testServer struct {
	*Server
	addr  string
	image string
	log   *logBuffer
}

const testSize = 1 << 20

// serveImage serves the image at path, created at testSize if missing.
func serveImage(t testing.TB, path string) *testServer { return serveSized(t, path, testSize) }

// serveSized serves the image at path, created at size if missing.
func serveSized(t testing.TB, path string, size int64) *testServer {
	t.Helper()
	log := &logBuffer{}
	s, err := Open(path, size, Options{Logger: log.logger()})
	require.NoError(t, err)
	return listen(t, s, path, log, "127.0.0.1:0")
}

// serveNew serves a new image in a temporary directory.
func serveNew(t *testing.T) *testServer {
	return serveImage(t, filepath.Join(t.TempDir(), "disk.img"))
}

// serveWith serves image as the image at path, so a test can make it
// fail.
func serveWith(t *testing.T, image Image, path string) *testServer {
	t.Helper()
	log := &logBuffer{}
	s, err := newServer(image, path, testSize, Options{Logger: log.logger()})
	require.NoError(t, err)
	return listen(t, s, path, log, "127.0.0.1:0")
}

func listen(t testing.TB, s *Server, path string, log *logBuffer, addr string) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	served := make(chan struct{})
	go func() {
		s.Serve(ln)
		close(served)
	}()
	t.Cleanup(func() {
		require.NoError(t, s.Close())
		<-served
	})
	return &testServer{Server: s, addr: ln.Addr().String(), image: path, log: log}
}

func newTestClient(t testing.TB, addr, id string) *Client {
	t.Helper()
	c, err := NewClient(ClientConfig{Addr: addr, ID: id, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// imageBytes reads n bytes of the image file at off.
func imageBytes(t *testing.T, path string, off int64, n int) []byte {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	b := make([]byte, n)
	_, err = f.ReadAt(b, off)
	require.NoError(t, err)
	return b
}

// block is n bytes of a pattern that names its writer.
func block(n int, fill byte) []byte { return bytes.Repeat([]byte{fill}, n) }
