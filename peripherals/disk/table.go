package disk

import (
	"fmt"
	"slices"

	"github.com/synodvm/synod/internal/planted"
)

// result is the answer the server gave a write: what a replay of it is
// answered with.
type result struct {
	status Status
	value  uint64 // bytes written
	text   string
}

// keptResult is one write a client's table remembers. digest is the
// request frame's checksum: a replay carries the same bytes, so a
// different digest under the same seq is another request.
type keptResult struct {
	seq    uint64
	digest uint32
	result result
}

// clientResults is what the table remembers of one client: the answers
// to its writes with the highest sequence numbers, in seq order, and
// below, under which every seq it does not keep is forgotten.
type clientResults struct {
	kept  []keptResult
	below uint64
}

// seqTable makes a replayed write exactly once: per client, the answers
// to its last perClient writes, for at most maxClients clients.
type seqTable struct {
	perClient  int
	maxClients int
	clients    map[string]*clientResults
}

func newSeqTable(perClient, maxClients int) *seqTable {
	return &seqTable{perClient: perClient, maxClients: maxClients, clients: map[string]*clientResults{}}
}

// verdict is what the table says of a write before it is applied.
type verdict struct {
	apply  bool   // a write the table has not seen: apply it, then record it
	answer result // otherwise, the answer to give
}

// check says whether the write (client, seq) with digest is new, and if
// not, what to answer it.
func (t *seqTable) check(client string, seq uint64, digest uint32) verdict {
	c := t.clients[client]
	if c == nil {
		if len(t.clients) >= t.maxClients {
			return verdict{answer: result{status: StatusRefused,
				text: fmt.Sprintf("the server keeps the answers of %d clients already", t.maxClients)}}
		}
		return verdict{apply: true}
	}
	if i, ok := c.find(seq); ok {
		k := c.kept[i]
		if k.digest != digest {
			return verdict{answer: result{status: StatusConflict,
				text: fmt.Sprintf("seq %d named a different write before", seq)}}
		}
		if planted.On(planted.ReplayAppliedTwice) {
			return verdict{apply: true}
		}
		return verdict{answer: k.result}
	}
	if seq < c.below {
		return verdict{answer: result{status: StatusForgotten,
			text: fmt.Sprintf("seq %d is older than the last %d writes whose answers the server keeps", seq, t.perClient)}}
	}
	return verdict{apply: true}
}

func (c *clientResults) find(seq uint64) (int, bool) {
	return slices.BinarySearchFunc(c.kept, seq, func(k keptResult, seq uint64) int {
		switch {
		case k.seq < seq:
			return -1
		case k.seq > seq:
			return 1
		}
		return 0
	})
}

// record remembers a write's answer, forgetting the client's oldest when
// it keeps perClient already.
func (t *seqTable) record(client string, k keptResult) {
	c := t.clients[client]
	if c == nil {
		c = &clientResults{}
		t.clients[client] = c
	}
	i, ok := c.find(k.seq)
	if ok {
		c.kept[i] = k
		return
	}
	c.kept = slices.Insert(c.kept, i, k)
	if n := len(c.kept) - t.perClient; n > 0 {
		c.forget(c.kept[n-1].seq + 1)
	}
}

// forget drops the client's answers below seq, for good.
func (c *clientResults) forget(below uint64) {
	if below <= c.below {
		return
	}
	c.below = below
	i, _ := c.find(below)
	c.kept = slices.Delete(c.kept, 0, i)
}

// setBelow restores what a journal says was forgotten.
func (t *seqTable) setBelow(client string, below uint64) {
	c := t.clients[client]
	if c == nil {
		c = &clientResults{}
		t.clients[client] = c
	}
	c.forget(below)
}

// size is how many answers the table keeps.
func (t *seqTable) size() int {
	n := 0
	for _, c := range t.clients {
		n += len(c.kept)
	}
	return n
}
