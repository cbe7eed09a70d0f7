package linux

// Hooks for the external snapshot tests and benchmarks.

// EncodeState is the encoding of p's threads and kernel state: what a
// snapshot holds besides the memory, and what the state hash covers.
func EncodeState(p *Process) []byte { return encodeProcessState(p.state()) }

// DecodeState decodes what EncodeState encoded.
func DecodeState(b []byte) error {
	_, err := decodeProcessState(b)
	return err
}
