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
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksumSize is the length of the CRC-32C in front of a sealed value.
const checksumSize = 4

// seal returns b with its CRC-32C in front.
func seal(b []byte) []byte {
	return append(binary.BigEndian.AppendUint32(make([]byte, 0, checksumSize+len(b)), crc32.Checksum(b, castagnoli)), b...)
}

// unseal checks a sealed value and returns its contents (sharing v's
// memory). what names the value in the error.
func unseal(v []byte, what string) ([]byte, error) {
	if len(v) < checksumSize {
		return nil, fmt.Errorf("%w: %s is truncated (%d bytes)", ErrCorruptStore, what, len(v))
	}
	b := v[checksumSize:]
	if crc32.Checksum(b, castagnoli) != binary.BigEndian.Uint32(v) {
		return nil, fmt.Errorf("%w: %s fails its checksum", ErrCorruptStore, what)
	}
	return b, nil
}
