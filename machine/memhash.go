package machine

import (
	"crypto/sha256"
	"encoding/binary"
)

// The memory's state hash is a two-level Merkle tree over the page table,
// so that a state hash costs what changed since the last one rather than
// a walk of every mapped page (128 Ki records for a 500 MiB heap, at
// every checkpoint):
//
//	page   = SHA-256(contents)                        (4096 bytes)
//	table  = SHA-256(page number u32, rights byte, page, for each mapped page of a 4 MiB table, in order)
//	memory = SHA-256(table number u32, table, for each table with a mapped page, in order)
//
// Each level caches its hash until something under it changes: a write
// to a page clears the page's and its table's, mapping, unmapping and
// protecting clear the table's. A state hash then rehashes the written
// pages, the tables they are in (1024 records of 37 bytes each) and the
// root (one record of 36 bytes per table). Only contents count: a page
// never written hashes like one written with zeros, so neither a page's
// history nor a snapshot changes the hash.
//
// Why a tree rather than an incremental sum: combining per-page hashes by
// XOR is linear, and a collision is found by solving a linear system;
// adding them modulo 2^256 falls to Wagner's generalized birthday attack.
// Sound multiset hashes need moduli of thousands of bits or elliptic
// curves. A tree of fixed depth whose records have a fixed length at
// each level is as collision resistant as SHA-256: two memories with the
// same root either have the same tables, and then the same pages, or
// yield a SHA-256 collision at the level where they first differ.

// zeroSum is the content hash of a page of zeros.
var zeroSum = sha256.Sum256(zeroData[:])

// Hash is the memory's state hash: the root of the tree above.
func (m *Memory) Hash() [32]byte {
	// Stores through the cache do not mark pages changed; pages enter
	// it anew, marked, after the hash.
	m.stores.clear()
	h := sha256.New()
	var record [4 + 32]byte
	for ti, t := range m.tables {
		if t == nil {
			continue
		}
		if !t.hashed {
			t.sum, t.hashed = t.hash(uint32(ti))
		}
		binary.BigEndian.PutUint32(record[:], uint32(ti))
		copy(record[4:], t.sum[:])
		h.Write(record[:])
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// hash hashes table number ti, rehashing the contents of the pages
// written since their last hash. It reports whether the result may be
// kept until the table changes: not when the table holds a page one with
// other memories' (memshare.go), which another memory may write.
func (t *pageTable) hash(ti uint32) (sum [32]byte, keep bool) {
	h := sha256.New()
	var record [4 + 1 + 32]byte
	keep = true
	t.eachPage(ti, func(n uint32, p *page) {
		if !p.hashed || p.common {
			p.sum = zeroSum
			if p.data != nil {
				p.sum = sha256.Sum256(p.data[:])
			}
			p.hashed = true
		}
		keep = keep && !p.common
		binary.BigEndian.PutUint32(record[:], n)
		record[4] = byte(p.prot)
		copy(record[5:], p.sum[:])
		h.Write(record[:])
	})
	h.Sum(sum[:0])
	return sum, keep
}
