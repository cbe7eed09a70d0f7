package peripherals

import (
	"bytes"
	"errors"
	"os"
	"time"

	"github.com/synodvm/synod/outputs"
)

// preambleWait is how long a new client has to ask for certified replies
// before it is taken for a plain one. A proxy asks as it connects; a plain
// client of a guest that speaks first (a greeting) waits this long for it.
const preambleWait = time.Second

// reply is one Send queued for a client: its bytes, and for a client that
// asked for certified replies, the output's number and certificate. A
// reply with nil data closes the connection.
type reply struct {
	data []byte
	seq  uint64
	cert outputs.Certificate
}

// bytes is what goes on the wire: the data, or its frame.
func (r reply) bytes(framed bool) []byte {
	if !framed {
		return r.data
	}
	return outputs.AppendCertifiedSend(nil, r.seq, r.data, r.cert)
}

// readPreamble reads the client's first bytes until they tell whether it
// asks for certified replies, and returns those of them that are input
// for the guest, and the error that ended the client's input, if one did.
// Nothing is written to the client before.
func (n *NetPort) readPreamble(cc *clientConn) ([]byte, error) {
	defer close(cc.decided)
	want := []byte(outputs.CertifiedPreamble)
	buf := make([]byte, len(want))
	got := 0
	_ = cc.conn.SetReadDeadline(time.Now().Add(preambleWait))
	defer cc.conn.SetReadDeadline(time.Time{})
	for got < len(want) && bytes.Equal(buf[:got], want[:got]) {
		k, err := cc.conn.Read(buf[got:])
		got += k
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return buf[:got], nil
		}
		if err != nil {
			return buf[:got], err
		}
	}
	if bytes.Equal(buf, want) {
		cc.framed = true
		return nil, nil
	}
	return buf[:got], nil
}
