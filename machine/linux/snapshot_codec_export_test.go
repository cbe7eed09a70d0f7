package linux

// Hooks for the external snapshot tests and benchmarks.

// EncodeState is the encoding of the guest's threads and kernel state:
// what a snapshot holds besides the memories, and what the state hash
// covers.
func EncodeState(p *Process) []byte { return encodeGuestState(p.k.state()) }

// DecodeState decodes what EncodeState encoded.
func DecodeState(b []byte) error {
	_, err := decodeGuestState(b)
	return err
}
