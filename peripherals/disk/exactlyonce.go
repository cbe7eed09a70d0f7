package disk

import "encoding/binary"

// ExactlyOnce is the server's rule for writes without its sockets, files
// and batches: a write the table has not seen is applied and its answer
// kept; the same write sent again, with the same client and seq, is
// answered with its first answer and not applied again; conflicting,
// forgotten and refused writes are answered as the server answers them.
// A model of the server (replica/sim) applies writes through it, so that
// it keeps the server's rules rather than a copy of them. It keeps its
// table in memory only: it models a server that does not crash.
type ExactlyOnce struct{ table *seqTable }

// NewExactlyOnce makes the rule with the table opts size (ResultsPerClient,
// MaxClients; the server's defaults for zero).
func NewExactlyOnce(opts Options) *ExactlyOnce {
	o := opts.withDefaults()
	return &ExactlyOnce{table: newSeqTable(o.ResultsPerClient, o.MaxClients)}
}

// Write passes client's write of data at offset, numbered seq, through
// the table: apply writes it to the image when the table has not seen
// it, and says how many bytes it wrote. The answer is nil and the bytes
// written, or a definite *StatusError.
func (e *ExactlyOnce) Write(client string, seq uint64, offset int64, data []byte, apply func() (int, error)) (int, error) {
	digest := writeDigest(client, seq, offset, data)
	v := e.table.check(client, seq, digest)
	if v.apply {
		res := result{status: StatusOK}
		n, err := apply()
		if err != nil {
			res = ioResult(err)
		} else {
			res.value = uint64(n)
		}
		e.table.record(client, keptResult{seq: seq, digest: digest, result: res})
		v.answer = res
	}
	if v.answer.status != StatusOK {
		return 0, &StatusError{Op: OpWrite, Status: v.answer.status, Text: v.answer.text}
	}
	return int(v.answer.value), nil
}

// writeDigest is the checksum of the frame the client sends for this
// write, which names the request in the table as the server's does.
func writeDigest(client string, seq uint64, offset int64, data []byte) uint32 {
	b := appendFrame(nil, &frame{kind: uint8(OpWrite), client: client, seq: seq, value: uint64(offset), data: data})
	return binary.BigEndian.Uint32(b[len(b)-4:])
}
