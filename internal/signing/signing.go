// Package signing makes and checks the ed25519 signatures of Byzantine
// mode: the engine's messages (consensus/bft) and the outputs' quorum
// certificates (outputs). They are a third of a Byzantine cluster's CPU
// under load, and curve25519-voi signs about 1.6 times and checks about
// 1.5 times as fast as crypto/ed25519 on the machines we measured, the
// checks faster still against a member's key expanded once (see "Faster
// signatures" in docs/byzantine.md).
//
// The bytes are the same: Ed25519 signing is deterministic, so Sign
// gives what crypto/ed25519.Sign gives, and Verify accepts exactly what
// crypto/ed25519.Verify accepts (voi's standard-library options), so
// that every member, whatever build of synod it runs, counts the same
// signatures valid. Keys stay crypto/ed25519's types everywhere else.
package signing

import (
	"crypto/ed25519"
	"fmt"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"

	"github.com/synodvm/synod/consensus"
)

// Sign returns key's signature of msg.
func Sign(key ed25519.PrivateKey, msg []byte) []byte {
	return voi.Sign(voi.PrivateKey(key), msg)
}

// asStdLib makes Verify accept what crypto/ed25519.Verify accepts and
// nothing else.
var asStdLib = &voi.Options{Verify: voi.VerifyOptionsStdLib}

// PublicKey is a public key expanded once, so that each check against it
// skips decoding the key and uses tables precomputed for it (about
// 1.5 KiB).
type PublicKey struct {
	expanded *voi.ExpandedPublicKey
}

// Expand prepares key for checks.
func Expand(key ed25519.PublicKey) (*PublicKey, error) {
	if len(key) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("signing: a public key of %d bytes, not %d", len(key), ed25519.PublicKeySize)
	}
	expanded, err := voi.NewExpandedPublicKey(voi.PublicKey(key))
	if err != nil {
		return nil, fmt.Errorf("signing: public key %x is not a point of the curve: %w", []byte(key), err)
	}
	return &PublicKey{expanded: expanded}, nil
}

// Verify reports whether sig is a valid signature of msg by k.
func (k *PublicKey) Verify(msg, sig []byte) bool {
	return voi.VerifyExpandedWithOptions(k.expanded, msg, sig, asStdLib)
}

// Members are a cluster's members' public keys, expanded.
type Members map[consensus.NodeID]*PublicKey

// ExpandMembers expands every member's key.
func ExpandMembers(keys map[consensus.NodeID]ed25519.PublicKey) (Members, error) {
	members := make(Members, len(keys))
	for id, key := range keys {
		k, err := Expand(key)
		if err != nil {
			return nil, fmt.Errorf("member %d: %w", id, err)
		}
		members[id] = k
	}
	return members, nil
}
