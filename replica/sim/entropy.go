package sim

import (
	cryptorand "crypto/rand"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

// Raft draws every randomised election timeout from crypto/rand.Reader
// (go.etcd.io/raft/v3's globalRand), a process global. A run is
// reproducible only if those draws come from its seed, so the simulator
// installs, once per process, a reader that serves the bytes of whichever
// simulation is inside a raft call, and the system's bytes otherwise.
// Every call into a raft Core holds entropy.mu (Sim.raft), so simulations
// may run on parallel goroutines: they only take turns inside raft.
// Anything else that reads crypto/rand while a simulation is inside raft
// gets that simulation's bytes and perturbs its run; a process that runs
// simulations should not use crypto/rand meanwhile.
var entropy struct {
	install sync.Once
	mu      sync.Mutex
	// src is the generator of the simulation holding mu, nil when none
	// does. Atomic because an outsider's Read may look at it unlocked.
	src    atomic.Pointer[rand.Rand]
	system io.Reader
}

type entropyReader struct{}

func (entropyReader) Read(p []byte) (int, error) {
	src := entropy.src.Load()
	if src == nil {
		return entropy.system.Read(p)
	}
	return rngReader{src}.Read(p)
}

// rngReader serves a generator's bytes as an io.Reader.
type rngReader struct{ rng *rand.Rand }

func (r rngReader) Read(p []byte) (int, error) {
	var word [8]byte
	for i := 0; i < len(p); i += len(word) {
		binary.LittleEndian.PutUint64(word[:], r.rng.Uint64())
		copy(p[i:], word[:])
	}
	return len(p), nil
}

func installEntropy() {
	entropy.install.Do(func() {
		entropy.system = cryptorand.Reader
		cryptorand.Reader = entropyReader{}
	})
}

// withEntropy runs f with raft's randomness drawn from src.
func withEntropy(src *rand.Rand, f func()) {
	entropy.mu.Lock()
	defer entropy.mu.Unlock()
	entropy.src.Store(src)
	defer entropy.src.Store(nil)
	f()
}
