package outputs

import (
	"bufio"
	"bytes"
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

// AppendCertificate encodes cert: how many signatures, then for each the
// signer's id, the group's size, the output's index in it, the proof's
// length and hashes, and the signature.
func AppendCertificate(b []byte, cert Certificate) []byte {
	b = append(b, byte(len(cert)))
	for _, s := range cert {
		b = binary.BigEndian.AppendUint64(b, uint64(s.Node))
		b = binary.BigEndian.AppendUint32(b, s.Group)
		b = binary.BigEndian.AppendUint32(b, s.Index)
		b = append(b, byte(len(s.Path)))
		for _, h := range s.Path {
			b = append(b, h[:]...)
		}
		b = append(b, s.Signature...)
	}
	return b
}

// certifiedSignatureHead is the fixed part of a signature's encoding
// before its proof: signer, group size, index, proof length.
const certifiedSignatureHead = 8 + 4 + 4 + 1

// ParseCertificate decodes a certificate AppendCertificate made, and
// nothing more.
func ParseCertificate(b []byte) (Certificate, error) {
	r := bytes.NewReader(b)
	cert, err := readCertificate(r)
	if err != nil {
		return nil, fmt.Errorf("%w: a certificate of %d bytes: %w", errBadFrame, len(b), err)
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%w: a certificate of %d bytes has %d more", errBadFrame, len(b)-r.Len(), r.Len())
	}
	return cert, nil
}

// readCertificate reads one encoded certificate from r; a proof longer
// than any group has is refused before it is read.
func readCertificate(r io.Reader) (Certificate, error) {
	var count [1]byte
	if _, err := io.ReadFull(r, count[:]); err != nil {
		return nil, err
	}
	cert := make(Certificate, count[0])
	for i := range cert {
		var head [certifiedSignatureHead]byte
		if _, err := io.ReadFull(r, head[:]); err != nil {
			return nil, unexpected(err)
		}
		s := Signature{
			Node:  consensus.NodeID(binary.BigEndian.Uint64(head[:])),
			Group: binary.BigEndian.Uint32(head[8:]),
			Index: binary.BigEndian.Uint32(head[12:]),
		}
		if n := int(head[16]); n > maxProofPath {
			return nil, fmt.Errorf("a proof of %d hashes; a group's has at most %d", n, maxProofPath)
		} else if n > 0 {
			s.Path = make([]hash, n)
		}
		for j := range s.Path {
			if _, err := io.ReadFull(r, s.Path[j][:]); err != nil {
				return nil, unexpected(err)
			}
		}
		s.Signature = make([]byte, ed25519.SignatureSize)
		if _, err := io.ReadFull(r, s.Signature); err != nil {
			return nil, unexpected(err)
		}
		cert[i] = s
	}
	return cert, nil
}

// unexpected is err from a read in the middle of a certificate: an end of
// the stream there is a truncation.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
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
	cert, err := readCertificate(rr.r)
	if err != nil {
		return Output{}, nil, fmt.Errorf("%w: %w", errBadFrame, unexpected(err))
	}
	o := Output{Seq: binary.BigEndian.Uint64(head[:]), Node: rr.conn.Node, Action: Send{Conn: rr.conn, Data: data}}
	return o, cert, nil
}
