package entry

import "encoding/binary"

// MergeInputs joins the encoded Inputs batches at the head of batches into
// one batch, for a log whose leader puts the batches of several nodes into
// one log entry: one entry, one relative seal and one epoch that delivers
// them, instead of one each. It returns the encoding that stands for the
// first n of batches (n >= 1): batches[0] itself when it is not an Inputs
// batch or the next one cannot join it. Batches join in order while they
// are Inputs and the joined batch stays within MaxInputs inputs and
// MaxInputsData bytes of encoded inputs (which bound the client bytes in
// them), so it decodes wherever its parts did. The inputs are copied as
// encoded, not decoded: each keeps its connection, offset and place after
// the inputs of its own node before it, which is all the replicas use to
// order a connection's inputs. The joined batch's time, its seal's, is
// the latest of theirs (guest time never goes back whichever it is).
func MergeInputs(batches [][]byte) (merged []byte, n int) {
	heads := make([]inputsHead, 0, len(batches))
	count, size := 0, 0
	var time int64
	for _, b := range batches {
		h, ok := parseInputsHead(b)
		if !ok || count+h.count > MaxInputs || size+len(h.inputs) > MaxInputsData {
			break
		}
		heads = append(heads, h)
		count, size, time = count+h.count, size+len(h.inputs), max(time, h.time)
	}
	if len(heads) < 2 {
		return batches[0], 1
	}
	merged = make([]byte, 0, 1+2*binary.MaxVarintLen64+size)
	merged = append(merged, byte(KindInputs))
	merged = binary.AppendVarint(merged, time)
	merged = binary.AppendUvarint(merged, uint64(count))
	for _, h := range heads {
		merged = append(merged, h.inputs...)
	}
	return merged, len(heads)
}

// inputsHead is an encoded Inputs batch taken apart as far as merging
// needs: its time, how many inputs it holds and their encodings.
type inputsHead struct {
	time   int64
	count  int
	inputs []byte
}

func parseInputsHead(b []byte) (inputsHead, bool) {
	if len(b) == 0 || Kind(b[0]) != KindInputs {
		return inputsHead{}, false
	}
	r := reader{buf: b[1:]}
	h := inputsHead{time: r.int(), count: r.count(MaxInputs)}
	h.inputs = r.buf
	return h, r.err == nil
}

// ProposedTime is the guest time an encoded entry proposes (an Inputs
// batch's, a seal's or a boot's), false for an entry that proposes none
// or does not decode. An Inputs batch's is read from its head alone: a
// Byzantine member asks it of every request it orders
// (replica.CheckProposedTime), and decoding whole batches of client
// bytes there was one percent of a node's CPU under load.
func ProposedTime(data []byte) (int64, bool) {
	if h, ok := parseInputsHead(data); ok {
		return h.time, true
	}
	if len(data) > 0 && Kind(data[0]) == KindInputs {
		return 0, false
	}
	e, err := Decode(data)
	if err != nil {
		return 0, false
	}
	switch e := e.(type) {
	case Seal:
		return e.Time, true
	case Boot:
		return e.Time, true
	}
	return 0, false
}
