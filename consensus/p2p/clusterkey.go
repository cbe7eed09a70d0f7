package p2p

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/net/upgrader"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
)

// Only a holder of the cluster's pre-shared key can connect to a node,
// and the key no longer costs a second cipher. It used to make a libp2p
// private network, which encrypts every byte with XSalsa20 beneath the
// Noise channel that encrypts it again with ChaCha20-Poly1305: while a
// follower caught up through a 500 MiB snapshot, the private network's
// cipher was 12–20% of the CPU of the leader sending it and of the
// follower receiving it, on processors the serving nodes needed.
//
// Now the key goes into the Noise handshake instead, as its prologue:
// each side mixes the prologue into the handshake hash, which is the
// associated data of every encrypted handshake payload, so a peer that
// uses another prologue fails the first payload it must decrypt
// (Noise specification, section 6), and the connection closes before
// it carries a single stream. The key never crosses the wire, and the
// prologue is derived from it (clusterPrologue), so the key is used for
// nothing else. What the private network hid and this does not: that a
// node speaks libp2p (the negotiation of Noise is in clear), and a
// node's public identity, which a stranger can decrypt from the second
// handshake message without being able to check it. Neither is secret:
// peer ids are in the cluster config, and the gater admits only those.

// clusterPrologueLabel names what the prologue is for, so that it is no
// other use's hash of the same key.
const clusterPrologueLabel = "synod cluster key as a Noise prologue, version 1"

// clusterPrologue is the Noise prologue of a cluster whose pre-shared key
// is psk.
func clusterPrologue(psk pnet.PSK) []byte {
	mac := hmac.New(sha256.New, psk)
	mac.Write([]byte(clusterPrologueLabel))
	return mac.Sum(nil)
}

// clusterNoise is a libp2p security constructor: Noise whose handshake
// succeeds only between holders of psk.
func clusterNoise(psk pnet.PSK) func(protocol.ID, crypto.PrivKey, []upgrader.StreamMuxer) (*noise.SessionTransport, error) {
	return func(id protocol.ID, key crypto.PrivKey, muxers []upgrader.StreamMuxer) (*noise.SessionTransport, error) {
		if len(psk) != 32 {
			return nil, fmt.Errorf("cluster key of %d bytes, want 32", len(psk))
		}
		t, err := noise.New(id, key, muxers)
		if err != nil {
			return nil, fmt.Errorf("noise: %w", err)
		}
		return t.WithSessionOptions(noise.Prologue(clusterPrologue(psk)))
	}
}
