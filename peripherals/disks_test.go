package peripherals

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/outputs"
)

// fakeBackend is a disk in memory whose next answer a test can choose.
type fakeBackend struct {
	mu      sync.Mutex
	image   []byte
	calls   map[uint64]int
	fail    error         // returned instead of acting, when set
	blocked chan struct{} // while set, calls wait for it to close
	certs   [][]byte      // the certificates writes came with
}

func (b *fakeBackend) enter(seq uint64) error {
	b.mu.Lock()
	b.calls[seq]++
	blocked, fail := b.blocked, b.fail
	b.mu.Unlock()
	if blocked != nil {
		<-blocked
	}
	return fail
}

func (b *fakeBackend) ReadAt(_ context.Context, seq uint64, off int64, n int) ([]byte, error) {
	if err := b.enter(seq); err != nil {
		return nil, err
	}
	return append([]byte(nil), b.image[off:off+int64(n)]...), nil
}

func (b *fakeBackend) WriteAt(_ context.Context, seq uint64, off int64, data, cert []byte) (int, error) {
	if err := b.enter(seq); err != nil {
		return 0, err
	}
	b.mu.Lock()
	b.certs = append(b.certs, cert)
	b.mu.Unlock()
	return copy(b.image[off:], data), nil
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{image: make([]byte, 1024), calls: map[uint64]int{}}
}

// answers collects completions.
type answers chan entry.Completion

func (a answers) complete(c entry.Completion) { a <- c }

func (a answers) next(t *testing.T) entry.Completion {
	t.Helper()
	select {
	case c := <-a:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no completion")
		return entry.Completion{}
	}
}

func TestDisksAnswerEachOutput(t *testing.T) {
	b := newFakeBackend()
	d := NewDisks(2, map[string]DiskBackend{"j": b}, time.Second, slog.New(slog.DiscardHandler))
	defer d.Stop()
	got := make(answers, 4)
	d.Perform(outputs.Output{Seq: 7, Node: 2, Action: outputs.DiskWrite{Disk: "j", Offset: 10, Data: []byte("abc")}}, got.complete)
	assert.Equal(t, entry.Completion{Node: 2, Seq: 7, N: 3}, got.next(t))
	d.Perform(outputs.Output{Seq: 8, Node: 2, Action: outputs.DiskRead{Disk: "j", Offset: 9, Length: 5}}, got.complete)
	assert.Equal(t, entry.Completion{Node: 2, Seq: 8, Data: []byte{0, 'a', 'b', 'c', 0}}, got.next(t))
	d.Perform(outputs.Output{Seq: 9, Node: 2, Action: outputs.DiskRead{Disk: "nope", Length: 1}}, got.complete)
	assert.Equal(t, entry.Completion{Node: 2, Seq: 9, Errno: ErrnoEIO}, got.next(t), "a disk without a path here fails")
}

// In a Byzantine cluster a write goes to the disk server with the
// certificate the node's router got for it, for the server to check.
func TestDisksHandAWritesCertificateToTheServer(t *testing.T) {
	b := newFakeBackend()
	d := NewDisks(2, map[string]DiskBackend{"j": b}, time.Second, slog.New(slog.DiscardHandler))
	defer d.Stop()
	got := make(answers, 2)
	cert := outputs.Certificate{{Node: 2, Signature: make([]byte, 64)}, {Node: 3, Signature: make([]byte, 64)}}
	d.PerformCertified(outputs.Output{Seq: 7, Node: 2, Action: outputs.DiskWrite{Disk: "j", Data: []byte("abc")}}, cert, got.complete)
	got.next(t)
	d.Perform(outputs.Output{Seq: 8, Node: 2, Action: outputs.DiskWrite{Disk: "j", Data: []byte("abc")}}, got.complete)
	got.next(t)
	require.Len(t, b.certs, 2)
	sent, err := outputs.ParseCertificate(b.certs[0])
	require.NoError(t, err)
	require.Equal(t, cert, sent)
	require.Nil(t, b.certs[1], "a crash-fault cluster's write has none")
}

func TestDisksReportTheServersErrorButNotAnUncertainOutcome(t *testing.T) {
	b := newFakeBackend()
	d := NewDisks(1, map[string]DiskBackend{"j": b}, time.Second, slog.New(slog.DiscardHandler))
	defer d.Stop()
	got := make(answers, 4)
	b.fail = &DiskError{Errno: ErrnoENOSPC, Msg: "past the end"}
	d.Perform(outputs.Output{Seq: 1, Node: 1, Action: outputs.DiskWrite{Disk: "j", Data: []byte("x")}}, got.complete)
	assert.Equal(t, entry.Completion{Node: 1, Seq: 1, Errno: ErrnoENOSPC}, got.next(t))

	b.fail = errors.New("connection reset")
	d.Perform(outputs.Output{Seq: 2, Node: 1, Action: outputs.DiskWrite{Disk: "j", Data: []byte("x")}}, got.complete)
	require.Eventually(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return b.calls[2] == 1 }, 5*time.Second, time.Millisecond)
	d.Stop()
	assert.Empty(t, got, "an uncertain outcome is not answered: the runtime sends it again")
}

func TestDisksSendAnOutputInFlightOnce(t *testing.T) {
	b := newFakeBackend()
	b.blocked = make(chan struct{})
	d := NewDisks(1, map[string]DiskBackend{"j": b}, time.Second, slog.New(slog.DiscardHandler))
	defer d.Stop()
	got := make(answers, 4)
	o := outputs.Output{Seq: 5, Node: 1, Action: outputs.DiskWrite{Disk: "j", Data: []byte("x")}}
	d.Perform(o, got.complete)
	d.Perform(o, got.complete)
	close(b.blocked)
	got.next(t)
	d.Perform(o, got.complete)
	got.next(t)
	assert.Equal(t, 2, b.calls[5], "once while in flight, once more after")
}
