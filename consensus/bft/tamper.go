package bft

import (
	"crypto/ed25519"
	"slices"

	"github.com/synodvm/synod/consensus"
)

// Tampering with messages, for fault-injection tests that drive cores
// from outside this package (the whole-cluster simulator, replica/sim): a
// faulty member there is a correct core whose messages are rewritten on
// their way out and signed with its key. The engine never calls these.

// Equivocation returns, for a pre-prepare message, another pre-prepare
// for the same view and sequence number, signed with key as from in
// cluster: the
// same requests in reverse order, or none when there are fewer than two.
// ok is false for any other message, or one that does not decode.
func Equivocation(cluster string, key ed25519.PrivateKey, from consensus.NodeID, data []byte) (forged []byte, ok bool) {
	r := reader{b: data}
	typ := msgType(r.u8("type"))
	r.u64("sender")
	body := reader{b: r.bytes(len(data), "body")}
	if r.err != nil || typ != msgPrePrepare {
		return nil, false
	}
	pp := &prePrepare{View: body.u64("view"), Seq: body.u64("seq"), Requests: body.list(len(data), "requests")}
	if body.err != nil {
		return nil, false
	}
	other := slices.Clone(pp.Requests)
	slices.Reverse(other)
	if len(other) < 2 {
		other = nil
	}
	return seal(signingPrefix(cluster), key, msgPrePrepare, from, encodePrePrepare(&prePrepare{View: pp.View, Seq: pp.Seq, Requests: other})), true
}

// SignedGarbage returns body signed with key as a message of from in
// cluster, of
// one of the engine's message types chosen by kind: a valid signature
// over a body that means nothing.
func SignedGarbage(cluster string, key ed25519.PrivateKey, from consensus.NodeID, kind byte, body []byte) []byte {
	return seal(signingPrefix(cluster), key, msgType(1+kind%byte(msgStateTransfer)), from, body)
}
