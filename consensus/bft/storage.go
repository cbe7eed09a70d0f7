package bft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	bolt "go.etcd.io/bbolt"
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
// before), and is rebuilt from its peers instead.
var ErrCorruptStorage = errors.New("bft: storage is damaged")

var recordsBucket = []byte("records")

// BoltStorage is a Storage in one bbolt file. bbolt checks its pages but
// not the bytes of a value, so each record carries a CRC-32C that Load
// checks.
type BoltStorage struct {
	db   *bolt.DB
	next uint64
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// OpenBoltStorage opens (or creates) the storage file at path.
func OpenBoltStorage(path string) (*BoltStorage, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("bft: open storage %s: %w", path, err)
	}
	s := &BoltStorage{db: db}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(recordsBucket)
		if err != nil {
			return err
		}
		if k, _ := b.Cursor().Last(); k != nil {
			s.next = binary.BigEndian.Uint64(k) + 1
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("bft: open storage %s: %w", path, err)
	}
	return s, nil
}

// Load implements Storage.
func (s *BoltStorage) Load() ([][]byte, error) {
	var records [][]byte
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(recordsBucket).ForEach(func(k, v []byte) error {
			if len(v) < 4 || crc32.Checksum(v[4:], crcTable) != binary.BigEndian.Uint32(v) {
				return fmt.Errorf("%w: record %x of %s fails its checksum", ErrCorruptStorage, k, s.db.Path())
			}
			records = append(records, append([]byte(nil), v[4:]...))
			return nil
		})
	})
	return records, err
}

// Append implements Storage: one transaction, synced before it returns.
func (s *BoltStorage) Append(records [][]byte, replace bool) error {
	if len(records) == 0 && !replace {
		return nil
	}
	next := s.next
	err := s.db.Update(func(tx *bolt.Tx) error {
		if replace {
			if err := tx.DeleteBucket(recordsBucket); err != nil {
				return err
			}
			if _, err := tx.CreateBucket(recordsBucket); err != nil {
				return err
			}
		}
		b := tx.Bucket(recordsBucket)
		for _, rec := range records {
			v := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(rec)), crc32.Checksum(rec, crcTable))
			if err := b.Put(binary.BigEndian.AppendUint64(nil, next), append(v, rec...)); err != nil {
				return err
			}
			next++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bft: write %d records to %s: %w", len(records), s.db.Path(), err)
	}
	s.next = next
	return nil
}

// Close implements Storage.
func (s *BoltStorage) Close() error { return s.db.Close() }
