package p2p

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
)

// outcome waits for the next snapshot outcome of tr.
func outcome(t *testing.T, tr *Transport) consensus.SnapshotSent {
	t.Helper()
	select {
	case s := <-tr.SnapshotsSent():
		return s
	case <-time.After(patience):
		t.Fatalf("node %d: no snapshot outcome", tr.opts.Self)
		return consensus.SnapshotSent{}
	}
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

// TestSnapshotCrossesInChunksWhileMessagesFlow sends a snapshot far over
// the message size limit, in many chunks, while a stream of ordinary
// messages goes the same way: the messages keep arriving during the
// transfer instead of queueing behind it.
func TestSnapshotCrossesInChunksWhileMessagesFlow(t *testing.T) {
	c := newTestCluster(t, 2)
	small := func(o *Options) { o.MaxMessageSize = 64 << 10; o.SnapshotChunkSize = 64 << 10 }
	n1 := start(t, c, 1, nil, small)
	n2 := start(t, c, 2, nil, small)
	waitConnected(t, n1, 2)

	head, body := []byte("snapshot head|"), randomBytes(t, 48<<20)
	stop := make(chan struct{})
	sending := make(chan int)
	go func() {
		defer close(sending)
		for seq := 0; ; seq++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			if n1.Send(2, fmt.Appendf(nil, "msg %d", seq)) != nil {
				return
			}
			if seq == 0 {
				sending <- seq // the first message is on its way
			}
		}
	}()
	<-sending
	require.NoError(t, n1.SendSnapshot(2, head, body))
	require.ErrorIs(t, n1.SendSnapshot(2, head, nil), consensus.ErrSnapshotInFlight, "one snapshot per peer at a time")

	duringTransfer := 0
	deadline := time.After(patience)
	var snap []byte
	for snap == nil {
		select {
		case in := <-n2.Inbound():
			require.Equal(t, consensus.NodeID(1), in.From)
			if bytes.HasPrefix(in.Data, []byte("msg ")) {
				duringTransfer++
				continue
			}
			snap = in.Data
		case <-deadline:
			t.Fatal("the snapshot never arrived")
		}
	}
	close(stop)
	for range sending {
	}
	assert.Equal(t, len(head)+len(body), len(snap))
	assert.True(t, bytes.Equal(append(head, body...), snap), "head and body arrive as one message, intact")
	assert.NoError(t, outcome(t, n1).Err)
	t.Logf("%d messages arrived during the transfer", duringTransfer)
	assert.Greater(t, duringTransfer, 1, "messages flowed while the snapshot was in transfer")
	require.NoError(t, n1.SendSnapshot(2, []byte("next"), nil), "the peer is free for the next snapshot")
	assert.NoError(t, outcome(t, n1).Err)
	assert.Equal(t, "next", string(receiveSnapshot(t, n2)))
}

// receiveSnapshot skips ordinary messages until a snapshot-sized one, or
// the one not starting with "msg ".
func receiveSnapshot(t *testing.T, tr *Transport) []byte {
	t.Helper()
	deadline := time.After(patience)
	for {
		select {
		case in := <-tr.Inbound():
			if !bytes.HasPrefix(in.Data, []byte("msg ")) {
				return in.Data
			}
		case <-deadline:
			t.Fatal("no snapshot arrived")
		}
	}
}

func TestSnapshotFailuresAreReported(t *testing.T) {
	c := newTestCluster(t, 3) // node 3 never starts
	n1 := start(t, c, 1, nil, func(o *Options) { o.SnapshotTimeout = 300 * time.Millisecond })
	// Nobody reads node 2's Inbound: the snapshot arrives whole but is
	// never taken, and the sender must hear that rather than success.
	n2 := start(t, c, 2, nil, func(o *Options) { o.InboundBuffer = 1; o.SnapshotTimeout = 300 * time.Millisecond })
	waitConnected(t, n1, 2)
	require.NoError(t, n1.Send(2, []byte("fills the inbound buffer")))

	require.ErrorIs(t, n1.SendSnapshot(3, nil, []byte("x")), consensus.ErrUnreachable)
	require.ErrorIs(t, n1.SendSnapshot(9, nil, []byte("x")), ErrUnknownPeer)
	require.NoError(t, n1.SendSnapshot(2, []byte("h"), randomBytes(t, 1<<20)))
	got := outcome(t, n1)
	assert.Equal(t, consensus.NodeID(2), got.To)
	assert.ErrorIs(t, got.Err, ErrRefused)
	assert.ErrorContains(t, got.Err, "took no message")

	require.NoError(t, n1.Close())
	require.ErrorIs(t, n1.SendSnapshot(2, nil, nil), ErrClosed)
	_ = n2
}

func TestSnapshotSenderClosingMidTransferLeavesNothingBehind(t *testing.T) {
	c := newTestCluster(t, 2)
	n1 := start(t, c, 1, nil)
	n2 := start(t, c, 2, nil)
	waitConnected(t, n1, 2)
	require.NoError(t, n1.SendSnapshot(2, nil, randomBytes(t, 64<<20)))
	require.NoError(t, n1.Close(), "Close ends the transfer; goleak checks its goroutines ended")
	quiet(t, n2)
}

// largeMessage is a well-formed snapshot stream's bytes for head and body,
// with the preamble's announced length and checksum overridable.
func largeMessage(head, body []byte, size uint64, sum uint32) []byte {
	pre := binary.BigEndian.AppendUint64(nil, size)
	pre = binary.BigEndian.AppendUint32(pre, sum)
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(pre)+len(head)))
	return append(append(append(frame, pre...), head...), body...)
}

func TestMalformedSnapshotStreamIsRefused(t *testing.T) {
	head, body := []byte("head"), []byte("body of the snapshot")
	sum := crc32.Update(crc32.Checksum(head, castagnoli), castagnoli, body)
	tests := []struct {
		name   string
		stream []byte
	}{
		{"preamble over the limit", binary.BigEndian.AppendUint32(nil, 1<<20)},
		{"preamble too short", append(binary.BigEndian.AppendUint32(nil, 3), 1, 2, 3)},
		{"length beyond any memory", largeMessage(head, body, 1<<63, sum)},
		{"length far beyond what is sent", largeMessage(head, body, 1<<40, sum)},
		{"body cut short", largeMessage(head, body[:5], uint64(len(body)), sum)},
		{"bytes after the body", largeMessage(head, append(body, '!'), uint64(len(body)), sum)},
		{"checksum mismatch", largeMessage(head, body, uint64(len(body)), sum+1)},
	}
	for _, tt := range tests {
		for _, mapped := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, mapped %v", tt.name, mapped), func(t *testing.T) {
				testMalformedSnapshotStream(t, tt.stream, mapped)
			})
		}
	}
}

// testMalformedSnapshotStream writes stream to a node as a peer's
// snapshot stream: the node refuses it, says why, and takes the next
// snapshot from that peer.
func testMalformedSnapshotStream(t *testing.T, stream []byte, mapped bool) {
	c := newTestCluster(t, 2)
	var logs1 logSink
	n1 := start(t, c, 1, &logs1, func(o *Options) { o.MaxMessageSize = 64 << 10; o.MapSnapshots = mapped })

	raw := rawPeer(t, c, 2)
	s := raw.streamOf(t, c.Nodes[0], SnapshotProtocolID)
	_, err := s.Write(stream)
	require.NoError(t, err)
	require.NoError(t, s.CloseWrite())
	require.NoError(t, s.SetReadDeadline(time.Now().Add(patience)))
	answer, err := readFrame(bufio.NewReader(s), maxAnswerSize)
	require.NoError(t, err, "the receiver says why it refused")
	require.Equal(t, answerError, answer[0])
	require.Contains(t, string(answer), "malformed")
	require.True(t, logs1.lineWith("malformed snapshot from peer", "peer_node=2"), "refusal not logged:\n%s", logs1.String())
	quiet(t, n1)
	raw.close(t)

	n2 := start(t, c, 2, nil)
	waitConnected(t, n2, 1)
	require.NoError(t, n2.SendSnapshot(1, []byte("head"), []byte("body of the next")))
	in := receive(t, n1, 1)[0]
	require.Equal(t, "headbody of the next", string(in.Data), "the next snapshot from the peer is taken")
	require.Equal(t, mapped, in.Release != nil, "a mapped snapshot comes with its release")
	if mapped {
		in.Release()
	}
}
