package disk

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRoundTrips(t *testing.T) {
	s := serveNew(t)
	c := newTestClient(t, s.addr, "cluster-1/journal")
	ctx := testContext(t)
	for i, tc := range []struct {
		name string
		off  int64
		data []byte
	}{
		{"a sector at the start", 0, block(512, 'a')},
		{"a byte in the middle", 12345, []byte{'b'}},
		{"the last sector", testSize - 512, block(512, 'c')},
		{"the most a request carries", 0, block(MaxData, 'd')},
		{"4 KiB unaligned", 4095, block(4096, 'e')},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seq := uint64(2 * i)
			n, err := c.Write(ctx, seq, tc.off, tc.data)
			require.NoError(t, err)
			assert.Equal(t, len(tc.data), n)
			got, err := c.Read(ctx, seq+1, tc.off, len(tc.data))
			require.NoError(t, err)
			assert.Equal(t, tc.data, got)
			assert.Equal(t, tc.data, imageBytes(t, s.image, tc.off, len(tc.data)), "the image file holds it")
		})
	}
	size, err := c.Info(ctx, 100)
	require.NoError(t, err)
	assert.Equal(t, int64(testSize), size)
	require.NoError(t, c.Flush(ctx, 101))
}

func statusOf(t *testing.T, err error) Status {
	t.Helper()
	var se *StatusError
	require.ErrorAs(t, err, &se)
	return se.Status
}

func TestRequestsOutOfRange(t *testing.T) {
	s := serveNew(t)
	c := newTestClient(t, s.addr, "c")
	ctx := testContext(t)
	for i, tc := range []struct {
		name  string
		write bool
		off   int64
		n     int
	}{
		{"a read at the end", false, testSize, 1},
		{"a read past the end", false, testSize + 4096, 512},
		{"a read across the end", false, testSize - 100, 512},
		{"a write across the end", true, testSize - 1, 2},
		{"a write far past the end", true, 1 << 62, 1},
		{"a negative offset", true, -512, 512},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.write {
				_, err = c.Write(ctx, uint64(i), tc.off, block(tc.n, 'x'))
			} else {
				_, err = c.Read(ctx, uint64(i), tc.off, tc.n)
			}
			assert.Equal(t, StatusOutOfRange, statusOf(t, err))
		})
	}
	got, err := c.Read(ctx, 50, testSize, 0)
	require.NoError(t, err, "nothing at the end is in range")
	assert.Empty(t, got)
}

func TestTooLarge(t *testing.T) {
	s := serveNew(t)
	c := newTestClient(t, s.addr, "c")
	ctx := testContext(t)
	_, err := c.Write(ctx, 1, 0, block(MaxData+1, 'x'))
	assert.Equal(t, StatusTooLarge, statusOf(t, err), "the client refuses it")
	assert.ErrorContains(t, err, "the most is 1048576")
	_, err = c.Read(ctx, 2, 0, MaxData+1)
	assert.Equal(t, StatusTooLarge, statusOf(t, err))

	// Another client sends them anyway: the server answers, and the
	// connection goes on.
	conn, r := rawConn(t, s.addr)
	_, err = conn.Write(oversized(1))
	require.NoError(t, err)
	a := readAnswer(t, r)
	assert.Equal(t, StatusTooLarge, Status(a.kind))
	assert.Equal(t, uint64(5), a.seq)
	_, err = conn.Write(appendFrame(nil, &frame{kind: uint8(OpRead), client: "raw", seq: 6, count: MaxData + 1}))
	require.NoError(t, err)
	a = readAnswer(t, r)
	assert.Equal(t, StatusTooLarge, Status(a.kind))
	assert.Equal(t, uint64(6), a.seq)
	assert.Equal(t, block(8, 0), imageBytes(t, s.image, 0, 8), "nothing was written")
}

func rawConn(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.SetDeadline(time.Now().Add(patience)))
	return conn, bufio.NewReader(conn)
}

func readAnswer(t *testing.T, r *bufio.Reader) frame {
	t.Helper()
	a, err := readFrame(r)
	require.NoError(t, err)
	return a
}

func TestImageSizes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing int64 // bytes of the file before; -1: none
		size     int64
		err      string
	}{
		{"a new image", -1, 64 << 10, ""},
		{"an image of the right size", 64 << 10, 64 << 10, ""},
		{"an image of another size", 64 << 10, 128 << 10, "is 65536 bytes, not 131072"},
		{"an image too small to be a disk", 100, 4096, "is 100 bytes, too small"},
		{"a size too small", -1, 1000, "too small: the smallest is 4096"},
		{"a size not whole sectors", -1, 4096 + 100, "not whole 512-byte sectors"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "disk.img")
			if tc.existing >= 0 {
				require.NoError(t, os.WriteFile(path, make([]byte, tc.existing), 0o644))
			}
			s, err := Open(path, tc.size, Options{})
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			defer s.Close()
			st, err := os.Stat(path)
			require.NoError(t, err)
			assert.Equal(t, tc.size, st.Size())
			if tc.existing < 0 {
				assert.Less(t, st.Sys().(*syscall.Stat_t).Blocks*512, tc.size, "created sparse")
			}
		})
	}
	t.Run("an image served already", func(t *testing.T) {
		s := serveNew(t)
		_, err := Open(s.image, testSize, Options{})
		require.ErrorContains(t, err, "served by another disk server")
	})
	t.Run("a directory", func(t *testing.T) {
		_, err := Open(t.TempDir(), testSize, Options{})
		require.Error(t, err)
	})
}

// failingImage is an image file whose operations fail while a test says.
type failingImage struct {
	Image
	mu                     sync.Mutex
	reads, writes, syncs   error
	writesSeen, syncsAsked int
}

func (f *failingImage) set(reads, writes, syncs error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads, f.writes, f.syncs = reads, writes, syncs
}

func (f *failingImage) ReadAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	err := f.reads
	f.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return f.Image.ReadAt(p, off)
}

func (f *failingImage) WriteAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	err := f.writes
	f.writesSeen++
	f.mu.Unlock()
	if err != nil {
		// Half of it reaches the disk, as on a failing device.
		n, _ := f.Image.WriteAt(p[:len(p)/2], off)
		return n, err
	}
	return f.Image.WriteAt(p, off)
}

func (f *failingImage) Sync() error {
	f.mu.Lock()
	err := f.syncs
	f.syncsAsked++
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return f.Image.Sync()
}

func (f *failingImage) writeCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writesSeen
}

func openFailing(t *testing.T) (*failingImage, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "disk.img")
	file, _, err := openImage(path, testSize)
	require.NoError(t, err)
	return &failingImage{Image: imageFile{file}}, path
}

func TestFailingImage(t *testing.T) {
	eio := syscall.EIO
	for _, tc := range []struct {
		name                string
		reads, writes, sync error
		write               bool
		want                string
	}{
		{"a write fails", nil, eio, nil, true, "write " + "%s at 4096: input/output error"},
		{"the sync after a write fails", nil, nil, eio, true, "sync %s: input/output error"},
		{"a read fails", eio, nil, nil, false, "read %s at 4096: input/output error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, path := openFailing(t)
			s := serveWith(t, img, path)
			c := newTestClient(t, s.addr, "c")
			ctx := testContext(t)
			img.set(tc.reads, tc.writes, tc.sync)
			var err error
			if tc.write {
				_, err = c.Write(ctx, 7, 4096, block(512, 'w'))
			} else {
				_, err = c.Read(ctx, 7, 4096, 512)
			}
			require.Equal(t, StatusIOError, statusOf(t, err))
			assert.ErrorContains(t, err, fmt.Sprintf(tc.want, path))
			assert.Contains(t, s.log.String(), "input/output error", "the server logs it")

			img.set(nil, nil, nil)
			if !tc.write {
				_, err = c.Read(ctx, 7, 4096, 512)
				require.NoError(t, err, "a read is not remembered: it is tried again")
				return
			}
			writes := img.writeCount()
			_, err = c.Write(ctx, 7, 4096, block(512, 'w'))
			require.Equal(t, StatusIOError, statusOf(t, err), "a replay gets the first answer")
			assert.Equal(t, writes, img.writeCount(), "and is not applied again")
			n, err := c.Write(ctx, 8, 4096, block(512, 'w'))
			require.NoError(t, err, "a new write works once the image does")
			assert.Equal(t, 512, n)
		})
	}
}

func TestImageClosedUnderneath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "disk.img")
	file, _, err := openImage(path, testSize)
	require.NoError(t, err)
	s := serveWith(t, &failingImage{Image: imageFile{file}}, path)
	c := newTestClient(t, s.addr, "c")
	ctx := testContext(t)
	_, err = c.Write(ctx, 1, 0, block(512, 'a'))
	require.NoError(t, err)
	require.NoError(t, file.Close())
	_, err = c.Write(ctx, 2, 0, block(512, 'b'))
	assert.Equal(t, StatusIOError, statusOf(t, err))
	assert.ErrorContains(t, err, "file already closed")
	_, err = c.Read(ctx, 3, 0, 512)
	assert.Equal(t, StatusIOError, statusOf(t, err))
	assert.ErrorContains(t, s.Close(), "file already closed")
}

func TestReplayedWriteAppliedOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "disk.img")
	s := serveImage(t, path)
	c := newTestClient(t, s.addr, "cluster-1/journal")
	ctx := testContext(t)
	_, err := c.Write(ctx, 1, 0, block(512, 'A'))
	require.NoError(t, err)
	_, err = c.Write(ctx, 2, 0, block(512, 'B'))
	require.NoError(t, err)

	replay := func(c *Client) {
		t.Helper()
		n, err := c.Write(ctx, 1, 0, block(512, 'A'))
		require.NoError(t, err, "a replay gets its first answer")
		assert.Equal(t, 512, n)
		assert.Equal(t, block(512, 'B'), imageBytes(t, path, 0, 512), "and is not applied again")
	}
	replay(c)
	_, err = c.Write(ctx, 2, 0, block(512, 'C'))
	assert.Equal(t, StatusConflict, statusOf(t, err), "the same seq for another write")
	other := newTestClient(t, s.addr, "cluster-1/other")
	_, err = other.Write(ctx, 1, 512, block(512, 'O'))
	require.NoError(t, err, "seqs are per client")

	require.NoError(t, s.Close())
	s = serveImage(t, path)
	replay(newTestClient(t, s.addr, "cluster-1/journal"))
}

// An image created anew starts with an empty table, even where the
// table of a former image at the same path was left behind.
func TestNewImageForgetsAFormerTable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "disk.img")
	s := serveImage(t, path)
	ctx := testContext(t)
	_, err := newTestClient(t, s.addr, "c").Write(ctx, 1, 0, []byte("old disk"))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, os.Remove(path))

	s = serveImage(t, path)
	assert.Contains(t, s.log.String(), "removed the sequence table of a former image")
	_, err = newTestClient(t, s.addr, "c").Write(ctx, 1, 0, []byte("new disk"))
	require.NoError(t, err)
	assert.Equal(t, "new disk", string(imageBytes(t, path, 0, 8)), "applied, not answered from the old table")
}

func TestGarbageOnTheWire(t *testing.T) {
	s := serveNew(t)
	for _, g := range garbage {
		t.Run(g.name, func(t *testing.T) {
			conn, r := rawConn(t, s.addr)
			_, err := conn.Write(g.b)
			require.NoError(t, err)
			if g.name == "truncated" || g.name == "truncated length" {
				require.NoError(t, conn.(*net.TCPConn).CloseWrite())
			}
			_, err = r.ReadByte()
			require.ErrorIs(t, err, io.EOF, "the server closes the connection")
			require.Eventually(t, func() bool {
				for _, line := range strings.Split(s.log.String(), "\n") {
					if strings.Contains(line, "closing a disk connection") && strings.Contains(line, g.reason) {
						return true
					}
				}
				return false
			}, patience, 10*time.Millisecond, "a one-line reason is logged")
		})
	}
	c := newTestClient(t, s.addr, "c")
	_, err := c.Write(testContext(t), 1, 0, []byte("still serving"))
	require.NoError(t, err)
}

func TestManyConcurrentClients(t *testing.T) {
	s := serveNew(t)
	ctx := testContext(t)
	const clients, callers, writes, size = 16, 4, 8, 2048
	var wg sync.WaitGroup
	errs := make(chan error, clients*callers)
	for i := range clients {
		c := newTestClient(t, s.addr, fmt.Sprintf("client-%d", i))
		for j := range callers {
			wg.Go(func() {
				for k := range writes {
					seq := uint64(j*writes + k)
					off := int64((i*callers*writes + int(seq)) * size)
					if _, err := c.Write(ctx, seq, off, block(size, byte(i))); err != nil {
						errs <- err
						return
					}
					got, err := c.Read(ctx, 1000+seq, off, size)
					if err == nil && got[0] != byte(i) {
						err = fmt.Errorf("client %d read %d at %d", i, got[0], off)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	for i := range clients {
		off := int64(i * callers * writes * size)
		assert.Equal(t, block(callers*writes*size, byte(i)), imageBytes(t, s.image, off, callers*writes*size))
	}
}

func TestRefusesBadRequests(t *testing.T) {
	s := serveNew(t)
	conn, r := rawConn(t, s.addr)
	for _, f := range []frame{
		{kind: uint8(OpWrite), seq: 1, data: []byte("no client")},
		{kind: 77, client: "c", seq: 2},
	} {
		_, err := conn.Write(appendFrame(nil, &f))
		require.NoError(t, err)
		a := readAnswer(t, r)
		assert.Equal(t, StatusBadRequest, Status(a.kind))
		assert.Equal(t, f.seq, a.seq)
	}
}

func TestServerRefusesClientsBeyondItsTable(t *testing.T) {
	log := &logBuffer{}
	srv, err := Open(filepath.Join(t.TempDir(), "disk.img"), testSize, Options{Logger: log.logger(), MaxClients: 2})
	require.NoError(t, err)
	s := listen(t, srv, "", log, "127.0.0.1:0")
	ctx := testContext(t)
	for i := range 3 {
		_, err := newTestClient(t, s.addr, fmt.Sprint(i)).Write(ctx, 1, 0, []byte("x"))
		if i < 2 {
			require.NoError(t, err)
		} else {
			assert.Equal(t, StatusRefused, statusOf(t, err))
		}
	}
}
