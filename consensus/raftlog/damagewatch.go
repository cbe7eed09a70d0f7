package raftlog

import (
	"errors"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// damageWatch is the store as raft reads it. Raft turns a read error into
// a panic whose message is all that is left of the error; damageWatch
// keeps the first error that says the store is damaged, so that the
// Core's failure still wraps ErrCorruptStore.
type damageWatch struct {
	raft.Storage
	damage *error
}

func (w damageWatch) note(err error) error {
	if err != nil && *w.damage == nil && errors.Is(err, ErrCorruptStore) {
		*w.damage = err
	}
	return err
}

func (w damageWatch) Entries(lo, hi, maxSize uint64) ([]*pb.Entry, error) {
	e, err := w.Storage.Entries(lo, hi, maxSize)
	return e, w.note(err)
}

func (w damageWatch) Term(i uint64) (uint64, error) {
	t, err := w.Storage.Term(i)
	return t, w.note(err)
}

func (w damageWatch) Snapshot() (*pb.Snapshot, error) {
	s, err := w.Storage.Snapshot()
	return s, w.note(err)
}
