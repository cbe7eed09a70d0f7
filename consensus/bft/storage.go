package bft

import (
	"errors"
	"hash/crc32"
)

// Storage keeps a replica's records (Ready.Persist) durably, in order.
type Storage interface {
	// Load returns every record stored, oldest first.
	Load() ([][]byte, error)
	// Append makes records durable after the ones stored, or instead of
	// all of them when replace is set, atomically either way.
	Append(records [][]byte, replace bool) error
	Close() error
}

// ErrCorruptStorage means a stored record fails its checksum: the
// replica must not start from it (it could sign against what it signed
// before).
var ErrCorruptStorage = errors.New("bft: storage is damaged")

// ErrEarlierFormat means the records were written by an earlier synod in
// a format this one does not read.
var ErrEarlierFormat = errors.New("bft: records of an earlier format")

// ErrLaterFormat means the records were written by a later synod, whose
// format this one does not know: not damage, and not to be set aside.
var ErrLaterFormat = errors.New("bft: records of a later format")

var crcTable = crc32.MakeTable(crc32.Castagnoli)
