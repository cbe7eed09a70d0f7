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
// slots and times their commit latency. The user sees only Data.
//
//	version byte (1) | uvarint proposer | uvarint seq | data
const envelopeVersion = 1

type envelope struct {
	proposer consensus.NodeID
	seq      uint64
	data     []byte
}

func (e envelope) marshal() []byte {
	b := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(e.data))
	b = append(b, envelopeVersion)
	b = binary.AppendUvarint(b, uint64(e.proposer))
	b = binary.AppendUvarint(b, e.seq)
	return append(b, e.data...)
}

var errBadEnvelope = errors.New("log entry is not a synod proposal envelope")

func unmarshalEnvelope(b []byte) (envelope, error) {
	if len(b) == 0 || b[0] != envelopeVersion {
		return envelope{}, errBadEnvelope
	}
	b = b[1:]
	proposer, n := binary.Uvarint(b)
	if n <= 0 {
		return envelope{}, fmt.Errorf("%w: proposer", errBadEnvelope)
	}
	b = b[n:]
	seq, n := binary.Uvarint(b)
	if n <= 0 {
		return envelope{}, fmt.Errorf("%w: sequence number", errBadEnvelope)
	}
	return envelope{proposer: consensus.NodeID(proposer), seq: seq, data: b[n:]}, nil
}
