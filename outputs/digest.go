package outputs

import (
	"crypto/sha256"
	"encoding/binary"
)

// Digest is the SHA-256 of an output's canonical encoding: its sequence
// number, target node and action, field by field. Every correct replica
// computes the same outputs, so their digests match; a certificate is f+1
// signatures over one digest.
func Digest(o Output) [sha256.Size]byte {
	return sha256.Sum256(appendOutput(nil, o))
}

// appendOutput encodes o. Each action starts with its kind's index, and
// every variable-length field with its length, so two different outputs
// never encode alike.
func appendOutput(b []byte, o Output) []byte {
	b = binary.BigEndian.AppendUint64(b, o.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(o.Node))
	b = append(b, byte(KindOf(o.Action)))
	switch a := o.Action.(type) {
	case Send:
		b = binary.BigEndian.AppendUint64(b, uint64(a.Conn.Node))
		b = binary.BigEndian.AppendUint64(b, a.Conn.Serial)
		b = appendBytes(b, a.Data)
	case CloseConn:
		b = binary.BigEndian.AppendUint64(b, uint64(a.Conn.Node))
		b = binary.BigEndian.AppendUint64(b, a.Conn.Serial)
	case RefuseConn:
		b = binary.BigEndian.AppendUint64(b, uint64(a.Conn.Node))
		b = binary.BigEndian.AppendUint64(b, a.Conn.Serial)
		b = appendBytes(b, []byte(a.Reason))
	case Console:
		b = binary.BigEndian.AppendUint64(b, uint64(a.Stream))
		b = appendBytes(b, a.Data)
	case Listen:
		b = binary.BigEndian.AppendUint16(b, a.Port)
	case Refill:
		b = binary.BigEndian.AppendUint64(b, uint64(a.Bytes))
		b = binary.BigEndian.AppendUint64(b, a.Round)
		b = appendBool(b, a.Reveal)
	case DiskRead:
		b = appendBytes(b, []byte(a.Disk))
		b = binary.BigEndian.AppendUint64(b, uint64(a.Offset))
		b = binary.BigEndian.AppendUint64(b, uint64(a.Length))
	case DiskWrite:
		b = appendBytes(b, []byte(a.Disk))
		b = binary.BigEndian.AppendUint64(b, uint64(a.Offset))
		b = appendBytes(b, a.Data)
	}
	return b
}

func appendBytes(b, data []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(data)))
	return append(b, data...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}
