package peripherals

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/outputs"
)

func startCertifiedNetPort(t *testing.T, log *recordingLog) (*NetPort, string) {
	t.Helper()
	return startNetPortWith(t, log, NetPortConfig{Certified: true})
}

// A client that opens with the preamble (synod proxy) gets the frame that
// names its connection, then every reply framed with its sequence number
// and certificate; the bytes after the preamble are the guest's input.
func TestNetPortFramesCertifiedReplies(t *testing.T) {
	log := newRecordingLog()
	n, addr := startCertifiedNetPort(t, log)
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte(outputs.CertifiedPreamble + "GET k\r\n"))
	require.NoError(t, err)
	got := log.waitFor(t, func(es []entry.Entry) bool { return len(es) == 2 })
	id := got[0].(entry.ConnOpen).Conn
	require.Equal(t, "GET k\r\n", string(got[1].(entry.ConnData).Data), "the preamble is not the guest's input")

	cert := outputs.Certificate{{Node: 1, Signature: make([]byte, 64)}, {Node: 2, Signature: make([]byte, 64)}}
	n.SendCertified(id, []byte("$1\r\nv\r\n"), 41, cert)
	n.Close(id)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	rr, err := outputs.NewReplyReader(c)
	require.NoError(t, err)
	require.Equal(t, id, rr.Conn())
	o, gotCert, err := rr.Next()
	require.NoError(t, err)
	require.Equal(t, outputs.Output{Seq: 41, Node: 2, Action: outputs.Send{Conn: id, Data: []byte("$1\r\nv\r\n")}}, o)
	require.Equal(t, cert, gotCert)
	_, _, err = rr.Next()
	require.ErrorIs(t, err, io.EOF)
}

// A plain client of a node that offers certified replies gets the bytes
// as they are, whether it speaks first or waits for the guest to.
func TestNetPortServesPlainClientsWhereRepliesAreCertified(t *testing.T) {
	for _, speaksFirst := range []bool{true, false} {
		log := newRecordingLog()
		n, addr := startCertifiedNetPort(t, log)
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		if speaksFirst {
			_, err = c.Write([]byte("PING\r\n"))
			require.NoError(t, err)
		}
		got := log.waitFor(t, func(es []entry.Entry) bool { return len(es) >= 1 })
		id := got[0].(entry.ConnOpen).Conn
		if speaksFirst {
			// Before the reply and the close: bytes the client sends after
			// the guest closed the connection are rightly dropped.
			es := log.waitFor(t, func(es []entry.Entry) bool { return len(es) >= 2 })
			require.Equal(t, "PING\r\n", string(es[1].(entry.ConnData).Data))
		}
		n.SendCertified(id, []byte("+PONG\r\n"), 7, outputs.Certificate{{Node: consensus.NodeID(1)}})
		n.Close(id)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
		all, err := io.ReadAll(bufio.NewReader(c))
		require.NoError(t, err)
		require.Equal(t, "+PONG\r\n", string(all), "speaks first: %v", speaksFirst)
		c.Close()
	}
}
