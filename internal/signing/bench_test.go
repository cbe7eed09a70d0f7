package signing

import (
	"crypto/ed25519"
	"testing"
)

// BenchmarkSignatures sets this package beside crypto/ed25519 on a
// message of the engine's usual size (a vote is about 100 bytes, a
// request a few hundred):
//
//	go test ./internal/signing -bench Signatures
func BenchmarkSignatures(b *testing.B) {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	public := key.Public().(ed25519.PublicKey)
	expanded, err := Expand(public)
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 256)
	sig := Sign(key, msg)
	b.Run("sign/crypto-ed25519", func(b *testing.B) {
		for b.Loop() {
			ed25519.Sign(key, msg)
		}
	})
	b.Run("sign/signing", func(b *testing.B) {
		for b.Loop() {
			Sign(key, msg)
		}
	})
	b.Run("verify/crypto-ed25519", func(b *testing.B) {
		for b.Loop() {
			if !ed25519.Verify(public, msg, sig) {
				b.Fatal("a good signature refused")
			}
		}
	})
	b.Run("verify/signing", func(b *testing.B) {
		for b.Loop() {
			if !expanded.Verify(msg, sig) {
				b.Fatal("a good signature refused")
			}
		}
	})
}
