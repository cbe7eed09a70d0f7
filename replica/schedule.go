package replica

import (
	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/internal/planted"
)

// committed is a log entry that has committed but not yet been delivered
// to the guest. A nil e marks an entry that carries nothing for the guest
// (a seal that did not raise Through, or one that failed to decode) but
// still occupies its place in the delivered prefix.
type committed struct {
	index uint64
	e     entry.Entry
	// closesBatch marks the seal that closes an Inputs batch. Unlike a
	// seal entry of its own, it is delivered together with the inputs
	// before it, so that a log entry is never split across two epochs and
	// the delivered index stays exact.
	closesBatch bool
}

// schedule implements the seal rule: at the end of epoch e the replica
// delivers every committed entry that precedes the first effective seal
// with Through >= e, and waits if no such seal has committed yet. Entries
// after that seal can only land in a later epoch, so the delivered set is
// the same on every replica however far behind or ahead its log is.
type schedule struct {
	queue []committed
	// highest is the largest Through of any seal seen in log order,
	// delivered or queued. A seal is effective only if it raises it.
	highest uint64
	// inputs counts the entries seen that a client or a guest thread may
	// be waiting on (see waitedOn), for the seal proposer.
	inputs uint64
}

// waitedOn reports whether someone may be waiting for e to reach the
// guest: a client's bytes, a disk completion, random bytes, console
// input, a node's departure that closes its clients' connections. Seals,
// state hashes and console acknowledgements change nothing a guest
// thread or a client waits for.
func waitedOn(e entry.Entry) bool {
	switch e.(type) {
	case nil, entry.Seal, entry.StateHash, entry.ConsoleDone:
		return false
	}
	return true
}

// add appends the next committed entry in log order. An Inputs batch
// becomes its inputs followed by its closing seal, whose Through is one
// more than the highest so far: relative, so always effective. A
// Completion seals itself the same way: a guest thread waits for it, and
// a seal of its own would cost the waiting guest another round of the
// log.
func (s *schedule) add(index uint64, e entry.Entry) {
	if waitedOn(e) {
		s.inputs++
	}
	switch e := e.(type) {
	case entry.Inputs:
		for _, c := range e.Entries {
			s.queue = append(s.queue, committed{index: index, e: c})
		}
		s.closeBatch(index, e.Time)
		return
	case entry.Completion:
		s.queue = append(s.queue, committed{index: index, e: e})
		s.closeBatch(index, 0)
		return
	}
	if seal, ok := e.(entry.Seal); ok {
		if seal.Through <= s.highest {
			e = nil
		} else {
			s.highest = seal.Through
		}
	}
	s.queue = append(s.queue, committed{index: index, e: e})
}

// closeBatch queues the relative seal that closes the entries of log
// entry index. A zero time leaves the guest's clock as it is (guest time
// never goes back).
func (s *schedule) closeBatch(index uint64, time int64) {
	if !planted.On(planted.SealWithoutIncrement) {
		s.highest++
	}
	s.queue = append(s.queue, committed{index: index, e: entry.Seal{Through: s.highest, Time: time}, closesBatch: true})
}

// downPending reports whether a NodeDown of node is queued.
func (s *schedule) downPending(node consensus.NodeID) bool {
	for _, c := range s.queue {
		if d, ok := c.e.(entry.NodeDown); ok && d.Node == node {
			return true
		}
	}
	return false
}

// sealAt returns the position of the first effective seal with Through >= epoch.
func (s *schedule) sealAt(epoch uint64) (int, bool) {
	for i, c := range s.queue {
		if seal, ok := c.e.(entry.Seal); ok && seal.Through >= epoch {
			return i, true
		}
	}
	return 0, false
}

// cut returns the entries to deliver at the end of epoch, removing them
// from the queue, or false if the seal that decides it has not committed.
func (s *schedule) cut(epoch uint64) ([]committed, bool) {
	i, ok := s.sealAt(epoch)
	if !ok {
		return nil, false
	}
	if s.queue[i].closesBatch {
		i++
	}
	batch := s.queue[:i:i]
	s.queue = s.queue[i:]
	return batch, true
}

// takeAll removes and returns every queued entry.
func (s *schedule) takeAll() []committed {
	q := s.queue
	s.queue = nil
	return q
}

// skip returns the first epoch >= epoch at whose end something would be
// delivered, for a guest that is idle: the epochs in between execute no
// instructions and deliver nothing, so jumping over them changes nothing
// the guest can observe. It only looks at the queue's head, which every
// replica has in the same position in the log.
func (s *schedule) skip(epoch uint64) uint64 {
	if len(s.queue) == 0 {
		return epoch
	}
	if seal, ok := s.queue[0].e.(entry.Seal); ok && seal.Through >= epoch {
		return seal.Through + 1
	}
	return epoch
}

// quietThrough is the last epoch whose end delivers nothing, as far as
// the queue shows: the head is an effective seal that no entry precedes,
// so the ends of the epochs through its Through take nothing. Zero when
// the next end may deliver something or wait for the log.
func (s *schedule) quietThrough() uint64 {
	if len(s.queue) == 0 || s.queue[0].closesBatch {
		return 0
	}
	if seal, ok := s.queue[0].e.(entry.Seal); ok {
		return seal.Through
	}
	return 0
}

// unsealed reports whether some queued entry is not yet covered by a seal:
// the leader then proposes one so that it gets delivered.
func (s *schedule) unsealed() bool {
	for i := len(s.queue) - 1; i >= 0; i-- {
		switch s.queue[i].e.(type) {
		case entry.Seal:
			return false
		case nil:
			continue
		default:
			return true
		}
	}
	return false
}
