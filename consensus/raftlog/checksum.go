package raftlog

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Every value the store reads back is checked against a CRC-32C written
// with it, as etcd's WAL does: bbolt checks its own page structure but
// not the bytes inside a value, so a flipped bit in an entry would
// otherwise decode into a different entry (or none) and be applied as if
// it were what the cluster agreed on.
//
// Seal, Unseal and the stored forms built on them (EncodeEntry,
// MarshalSealed, CompactedMarker, ...) are exported for the simulator's
// model of this store (replica/sim), which must store, and refuse when
// damaged, exactly what the store does.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ChecksumSize is the length of the CRC-32C in front of a sealed value.
const ChecksumSize = 4

// Seal returns b with its CRC-32C in front.
func Seal(b []byte) []byte {
	return append(binary.BigEndian.AppendUint32(make([]byte, 0, ChecksumSize+len(b)), crc32.Checksum(b, castagnoli)), b...)
}

// Unseal checks a sealed value and returns its contents (sharing v's
// memory). what names the value in the error.
func Unseal(v []byte, what string) ([]byte, error) {
	if len(v) < ChecksumSize {
		return nil, fmt.Errorf("%w: %s is truncated (%d bytes)", ErrCorruptStore, what, len(v))
	}
	b := v[ChecksumSize:]
	if crc32.Checksum(b, castagnoli) != binary.BigEndian.Uint32(v) {
		return nil, fmt.Errorf("%w: %s fails its checksum", ErrCorruptStore, what)
	}
	return b, nil
}
