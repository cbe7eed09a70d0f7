package raftlog

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/synodvm/synod/consensus"
)

// Every proposal travels in an envelope naming the node that proposed it
// and that node's sequence number, so the proposer recognises its own
// proposals when they come back committed: that frees their back-pressure
// slots and times their commit latency. The user sees only Data. A leader
// that merges proposals (Config.Merge) names every proposal the merged
// data stands for.
//
//	version byte (1) | uvarint proposer | uvarint seq | data
//	version byte (2) | uvarint count | count × (uvarint proposer | uvarint seq) | data
const (
	envelopeVersion       = 1
	mergedEnvelopeVersion = 2
)

type proposalID struct {
	proposer consensus.NodeID
	seq      uint64
}

type envelope struct {
	ids  []proposalID
	data []byte
}

func (e envelope) marshal() []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+2*binary.MaxVarintLen64*len(e.ids)+len(e.data))
	if len(e.ids) == 1 {
		b = append(b, envelopeVersion)
	} else {
		b = append(b, mergedEnvelopeVersion)
		b = binary.AppendUvarint(b, uint64(len(e.ids)))
	}
	for _, id := range e.ids {
		b = binary.AppendUvarint(b, uint64(id.proposer))
		b = binary.AppendUvarint(b, id.seq)
	}
	return append(b, e.data...)
}

var errBadEnvelope = errors.New("log entry is not a synod proposal envelope")

func unmarshalEnvelope(b []byte) (envelope, error) {
	if len(b) == 0 || (b[0] != envelopeVersion && b[0] != mergedEnvelopeVersion) {
		return envelope{}, errBadEnvelope
	}
	count := uint64(1)
	version, b := b[0], b[1:]
	if version == mergedEnvelopeVersion {
		var n int
		count, n = binary.Uvarint(b)
		// Each proposal takes at least two bytes, so what is left bounds
		// the count whatever it claims.
		if n <= 0 || count == 0 || count > uint64(len(b)-n)/2 {
			return envelope{}, fmt.Errorf("%w: count of proposals", errBadEnvelope)
		}
		b = b[n:]
	}
	ids := make([]proposalID, count)
	for i := range ids {
		proposer, n := binary.Uvarint(b)
		if n <= 0 {
			return envelope{}, fmt.Errorf("%w: proposer", errBadEnvelope)
		}
		b = b[n:]
		seq, n := binary.Uvarint(b)
		if n <= 0 {
			return envelope{}, fmt.Errorf("%w: sequence number", errBadEnvelope)
		}
		b = b[n:]
		ids[i] = proposalID{consensus.NodeID(proposer), seq}
	}
	return envelope{ids: ids, data: b}, nil
}
