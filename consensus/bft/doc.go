// Package bft orders the log in Byzantine mode: n = 3f+1 members of
// which up to f may be faulty in any way (lying, equivocating, silent,
// sharing an identity), behind the same consensus.Log and
// consensus.Transport interfaces as the raft engine.
//
// The protocol is PBFT's three phases with ed25519 signatures on every
// message. A member signs its proposals as requests and sends them to
// every member; the primary of the current view packs the waiting
// requests into a batch (a pre-prepare) for the next sequence number;
// the others prepare it, and once a quorum has prepared and then
// committed it, every correct member executes it, skipping any request
// already executed. A member whose request waits too long votes to
// change view; a quorum of view changes carries every batch that may
// have committed into the next view. Every CheckpointInterval sequence
// numbers the members sign a digest of the application's state; a quorum
// of them makes a checkpoint stable, lets the log below it go, and lets a
// member that fell behind take the state from a peer. docs/byzantine.md
// describes the protocol as built and its limits.
//
// Core is the deterministic engine (no goroutines, no I/O, no clock); Log
// drives it on a goroutine with a wall-clock ticker and a Storage.
package bft
