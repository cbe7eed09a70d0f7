package outputs

import (
	"crypto/sha256"
)

// A member signs the outputs it computes in groups: one signature per
// group (what it computed since it last signed, Certifier.Flush), over
// the root of a hash tree whose leaves are the outputs' digests. A
// certificate carries, with each signature, the output's place in the
// group and the hashes from its leaf up to the root, so that whoever
// checks it recomputes the root from the output alone. Each member groups
// as its own calls fall: the members' groups need not match, since every
// signature carries its own proof.

// maxGroup bounds the outputs one signature covers, and so a proof to
// maxProofPath hashes.
const (
	maxGroup     = 256
	maxProofPath = 8
)

type hash = [sha256.Size]byte

// Leaves and inner nodes are hashed with different first bytes, so that
// no inner node can pass for an output's leaf.
func leafHash(digest hash) hash {
	var b [1 + sha256.Size]byte
	copy(b[1:], digest[:])
	return sha256.Sum256(b[:])
}

func innerHash(left, right hash) hash {
	var b [1 + 2*sha256.Size]byte
	b[0] = 1
	copy(b[1:], left[:])
	copy(b[1+sha256.Size:], right[:])
	return sha256.Sum256(b[:])
}

// groupTree is the hash tree over a group's digests, level by level from
// the leaves' hashes to the root. Each level pairs the nodes of the one
// below from the left; an odd last node is carried up as it is.
type groupTree [][]hash

func newGroupTree(digests []hash) groupTree {
	level := make([]hash, len(digests))
	for i, d := range digests {
		level[i] = leafHash(d)
	}
	tree := groupTree{level}
	for len(level) > 1 {
		up := make([]hash, 0, (len(level)+1)/2)
		for i := 0; i < len(level); i += 2 {
			if i+1 < len(level) {
				up = append(up, innerHash(level[i], level[i+1]))
			} else {
				up = append(up, level[i])
			}
		}
		tree = append(tree, up)
		level = up
	}
	return tree
}

func (t groupTree) root() hash { return t[len(t)-1][0] }

// path is the proof for the leaf at index: the sibling at every level
// where it has one.
func (t groupTree) path(index int) []hash {
	var p []hash
	for _, level := range t[:len(t)-1] {
		if sibling := index ^ 1; sibling < len(level) {
			p = append(p, level[sibling])
		}
		index >>= 1
	}
	return p
}

// rootFromPath is the root that path leads to from the output whose
// digest is at index of a group of size outputs; false when the path does
// not fit the tree of that size.
func rootFromPath(digest hash, index, size uint32, path []hash) (hash, bool) {
	if size == 0 || size > maxGroup || index >= size {
		return hash{}, false
	}
	r := leafHash(digest)
	used := 0
	for width := size; width > 1; width = (width + 1) / 2 {
		switch {
		case index&1 == 1 && used < len(path):
			r = innerHash(path[used], r)
			used++
		case index&1 == 0 && index+1 < width && used < len(path):
			r = innerHash(r, path[used])
			used++
		case index&1 == 0 && index+1 == width:
			// the odd last node, carried up
		default:
			return hash{}, false
		}
		index >>= 1
	}
	return r, used == len(path)
}
