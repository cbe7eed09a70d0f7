package signing

import (
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSignaturesAreCryptoEd25519s checks the promise every mixed cluster
// depends on: a signature made here is crypto/ed25519's, byte for byte,
// and a check here accepts what crypto/ed25519 accepts, for good
// signatures and for each of them with any one bit flipped, cut short
// or grown.
func TestSignaturesAreCryptoEd25519s(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 8 {
		seed := make([]byte, ed25519.SeedSize)
		for j := range seed {
			seed[j] = byte(rng.Uint32())
		}
		key := ed25519.NewKeyFromSeed(seed)
		public, err := Expand(key.Public().(ed25519.PublicKey))
		require.NoError(t, err)
		msg := []byte(fmt.Sprintf("message %d of the cluster", i))

		sig := Sign(key, msg)
		require.Equal(t, ed25519.Sign(key, msg), sig, "key %d", i)
		require.True(t, public.Verify(msg, sig))

		for bit := range 8 * len(sig) {
			bad := append([]byte(nil), sig...)
			bad[bit/8] ^= 1 << (bit % 8)
			require.Equal(t, ed25519.Verify(key.Public().(ed25519.PublicKey), msg, bad), public.Verify(msg, bad), "key %d, bit %d flipped", i, bit)
		}
		require.False(t, public.Verify(msg, sig[:len(sig)-1]), "a signature cut short")
		require.False(t, public.Verify(msg, append(append([]byte(nil), sig...), 0)), "a signature grown")
		require.False(t, public.Verify(append(msg, '!'), sig), "another message")
	}
}

func TestExpandRefusesWhatIsNoKey(t *testing.T) {
	_, err := Expand(make([]byte, 31))
	require.ErrorContains(t, err, "31 bytes")
	// y = 2 is on no point of the curve: x² = (y²−1)/(dy²+1) has no root.
	notAPoint := make([]byte, ed25519.PublicKeySize)
	notAPoint[0] = 2
	_, err = Expand(notAPoint)
	require.ErrorContains(t, err, "not a point")
	require.False(t, ed25519.Verify(notAPoint, []byte("m"), make([]byte, ed25519.SignatureSize)), "crypto/ed25519 refuses every signature by it too")
}
