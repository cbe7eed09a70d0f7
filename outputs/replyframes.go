package outputs

import (
	"bufio"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
)

// A client that checks certificates itself (synod proxy) opens its
// connection to a node's service port with CertifiedPreamble. The node
// then sends it, instead of the guest's bytes as they are, one frame
// naming the connection and one frame per Send with its sequence number
// and certificate: the client computes the output from the frame and
// checks f+1 signatures over it, so a faulty node cannot make it accept
// bytes no correct replica wrote.
const CertifiedPreamble = "\x00synod certified replies 1\n"

// Frame kinds.
const (
	frameHello byte = 'H'
	frameSend  byte = 'S'
)

// MaxReplyFrameData bounds the data of one frame a reader accepts: a
// Send never carries more than the guest wrote in one epoch.
const MaxReplyFrameData = 64 << 20

// AppendHello encodes the frame that names a certified connection.
func AppendHello(b []byte, conn entry.ConnID) []byte {
	b = append(b, frameHello)
	b = binary.BigEndian.AppendUint64(b, uint64(conn.Node))
	return binary.BigEndian.AppendUint64(b, conn.Serial)
}

// AppendCertifiedSend encodes one Send of seq with its certificate.
func AppendCertifiedSend(b []byte, seq uint64, data []byte, cert Certificate) []byte {
	b = append(b, frameSend)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, data...)
	return AppendCertificate(b, cert)
}

// AppendCertificate encodes cert: how many signatures, then each
// signer's id and signature.
func AppendCertificate(b []byte, cert Certificate) []byte {
	b = append(b, byte(len(cert)))
	for _, s := range cert {
		b = binary.BigEndian.AppendUint64(b, uint64(s.Node))
		b = append(b, s.Signature...)
	}
	return b
}

// certifiedSignatureSize is one signature's encoding in a certificate.
const certifiedSignatureSize = 8 + ed25519.SignatureSize

// ParseCertificate decodes a certificate AppendCertificate made, and
// nothing more.
func ParseCertificate(b []byte) (Certificate, error) {
	if len(b) == 0 || len(b) != 1+int(b[0])*certifiedSignatureSize {
		return nil, fmt.Errorf("%w: a certificate of %d bytes", errBadFrame, len(b))
	}
	cert := make(Certificate, b[0])
	for i, r := 0, b[1:]; i < len(cert); i, r = i+1, r[certifiedSignatureSize:] {
		cert[i] = Signature{Node: consensus.NodeID(binary.BigEndian.Uint64(r)), Signature: r[8:certifiedSignatureSize]}
	}
	return cert, nil
}

// ReplyReader decodes the frames of one certified connection.
type ReplyReader struct {
	r    *bufio.Reader
	conn entry.ConnID
}

// NewReplyReader reads the hello frame that names the connection.
func NewReplyReader(r io.Reader) (*ReplyReader, error) {
	rr := &ReplyReader{r: bufio.NewReader(r)}
	var hello [17]byte
	if _, err := io.ReadFull(rr.r, hello[:]); err != nil {
		return nil, fmt.Errorf("certified replies: hello: %w", err)
	}
	if hello[0] != frameHello {
		return nil, fmt.Errorf("certified replies: the node answered with frame %q, not a hello", hello[0])
	}
	rr.conn = entry.ConnID{Node: consensus.NodeID(binary.BigEndian.Uint64(hello[1:])), Serial: binary.BigEndian.Uint64(hello[9:])}
	return rr, nil
}

// Conn is the connection the node named.
func (rr *ReplyReader) Conn() entry.ConnID { return rr.conn }

// errBadFrame wraps what is wrong with a frame.
var errBadFrame = errors.New("certified replies: bad frame")

// Next returns the next Send the node claims and its certificate,
// unchecked: Verify says whether to believe it. io.EOF: the node closed.
func (rr *ReplyReader) Next() (Output, Certificate, error) {
	kind, err := rr.r.ReadByte()
	if err != nil {
		return Output{}, nil, err
	}
	if kind != frameSend {
		return Output{}, nil, fmt.Errorf("%w: kind %q", errBadFrame, kind)
	}
	var head [12]byte
	if _, err := io.ReadFull(rr.r, head[:]); err != nil {
		return Output{}, nil, fmt.Errorf("%w: %w", errBadFrame, err)
	}
	n := binary.BigEndian.Uint32(head[8:])
	if n > MaxReplyFrameData {
		return Output{}, nil, fmt.Errorf("%w: %d bytes of data", errBadFrame, n)
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(rr.r, data); err != nil {
		return Output{}, nil, fmt.Errorf("%w: %w", errBadFrame, err)
	}
	count, err := rr.r.ReadByte()
	if err != nil {
		return Output{}, nil, fmt.Errorf("%w: %w", errBadFrame, err)
	}
	encoded := make([]byte, 1+int(count)*certifiedSignatureSize)
	encoded[0] = count
	if _, err := io.ReadFull(rr.r, encoded[1:]); err != nil {
		return Output{}, nil, fmt.Errorf("%w: %w", errBadFrame, err)
	}
	cert, err := ParseCertificate(encoded)
	if err != nil {
		return Output{}, nil, err
	}
	o := Output{Seq: binary.BigEndian.Uint64(head[:]), Node: rr.conn.Node, Action: Send{Conn: rr.conn, Data: data}}
	return o, cert, nil
}
