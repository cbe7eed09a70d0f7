// Package entry defines what the replicated log carries: every input that
// could differ between nodes, as typed records with a compact binary codec.
// Peripherals propose them, the replica runtime consumes them; neither side
// needs the other to agree on the bytes.
package entry

import (
	"fmt"

	"github.com/synodvm/synod/consensus"
)

// Kind is the first byte of every encoded entry.
type Kind uint8

const (
	KindBoot Kind = iota + 1
	KindSeal
	KindConnOpen
	KindConnData
	KindConnClose
	KindRandom
	KindNodeDown
	KindNodeUp
	KindStateHash
	KindInputs
	KindConsoleDone
	KindCompletion
	KindConsoleIn
	KindRandomCommit
)

func (k Kind) String() string {
	switch k {
	case KindBoot:
		return "boot"
	case KindSeal:
		return "seal"
	case KindConnOpen:
		return "conn-open"
	case KindConnData:
		return "conn-data"
	case KindConnClose:
		return "conn-close"
	case KindRandom:
		return "random"
	case KindNodeDown:
		return "node-down"
	case KindNodeUp:
		return "node-up"
	case KindStateHash:
		return "state-hash"
	case KindInputs:
		return "inputs"
	case KindConsoleDone:
		return "console-done"
	case KindCompletion:
		return "completion"
	case KindConsoleIn:
		return "console-in"
	case KindRandomCommit:
		return "random-commit"
	}
	return "unknown"
}

// Entry is one typed log record.
type Entry interface {
	Kind() Kind
}

// Boot starts the replicated machine. Only the first Boot in the log counts;
// every node checks GuestDigest against the guest binary it was given, so a
// node started with another guest stops instead of diverging.
type Boot struct {
	GuestDigest [32]byte
	Argv        []string
	Envp        []string
	// AuxRandom becomes the guest's AT_RANDOM bytes (glibc seeds its stack
	// protector and pointer guard from them).
	AuxRandom [16]byte
	// Time is the wall clock of the proposer, in Unix nanoseconds: the
	// guest's clock starts here.
	Time int64
	// EpochInstructions is E, the longest epoch. Fixed at boot because
	// delivery points depend on it.
	EpochInstructions uint64
	// NanosPerInstruction is how far guest time advances per instruction
	// between seals.
	NanosPerInstruction uint64
	// HashEvery is K: a state hash is exchanged every K non-empty epochs.
	HashEvery uint64
	// Members are the nodes alive at boot, in id order.
	Members []consensus.NodeID
	// MemoryLimit caps the guest's mapped memory in bytes (zero: no
	// limit). Fixed at boot because it decides which of the guest's
	// allocations fail.
	MemoryLimit uint64
	// Disks are the disk paths the guest may open, as
	// /dev/synod/<disk>.<node>: fixed at boot because the guest's view of
	// its devices is replicated state.
	Disks []DiskPath
	// ConsoleInput says the guest's stdin is fed by ConsoleIn entries;
	// without it stdin is empty, as under a supervisor.
	ConsoleInput bool
	// MaxProcesses caps how many processes the guest may have at once
	// (zero: the kernel's default). Fixed at boot because it decides
	// which of the guest's forks fail.
	MaxProcesses uint64
	// RootDigest is the digest of the guest's root file system as packed
	// (package fstree), so that every replica starts from the same files;
	// zero for a guest without one, whose root starts empty.
	RootDigest [32]byte
	// RandomContributors is how many members contribute to each random
	// batch (see RandomCommit): f+1 in a Byzantine cluster, so that at
	// least one is correct; zero or one means a single node proposes each
	// batch, as in a crash-fault cluster, where every node is trusted.
	RandomContributors uint64
}

// DiskPath is one node's path to a disk: a disk several nodes reach has
// one path per node, a node-local disk a single one.
type DiskPath struct {
	Disk string
	Node consensus.NodeID
	Size int64
}

// Name is the device file's name under /dev/synod.
func (p DiskPath) Name() string { return fmt.Sprintf("%s.%d", p.Disk, p.Node) }

// Seal closes the set of entries before it: they are delivered at the end
// of epoch Through+1 at the latest (see package replica). Seals that do not
// raise Through are ignored, so any node may propose one.
type Seal struct {
	Through uint64
	// Time is the proposer's wall clock in Unix nanoseconds. Guest time
	// never decreases: a smaller value than the guest has seen is ignored.
	Time int64
}

// ConnID names one client connection for its whole life. Node is the node
// the client is connected to; Serial is unique on that node across restarts.
type ConnID struct {
	Node   consensus.NodeID
	Serial uint64
}

// ConnOpen is a client that connected to Node's service port for the
// guest's port Port.
type ConnOpen struct {
	Conn ConnID
	Port uint16
	// Peer is the client's address as the guest's accept() reports it.
	PeerIP   [4]byte
	PeerPort uint16
}

// ConnData is bytes a client sent. Offset is the position of Data in the
// client's byte stream: a proposal can be lost when the leader changes, and
// a replica that sees a gap closes the connection instead of handing the
// guest a stream with a hole in it; a duplicate is dropped.
type ConnData struct {
	Conn   ConnID
	Offset uint64
	Data   []byte
}

// ConnClose is the client closing its side (or the connection breaking).
type ConnClose struct {
	Conn ConnID
}

// ConnOf returns the client connection a ConnOpen, ConnData or ConnClose
// is about, and false for any other entry.
func ConnOf(e Entry) (ConnID, bool) {
	switch e := e.(type) {
	case ConnOpen:
		return e.Conn, true
	case ConnData:
		return e.Conn, true
	case ConnClose:
		return e.Conn, true
	}
	return ConnID{}, false
}

// Random is a batch of random bytes for the guest's pool, proposed by the
// node an earlier refill output named. In a Byzantine cluster it is one
// contributor's batch revealed: it counts only if it matches the hash the
// contributor committed to, and the pool gets the XOR of the round's
// batches.
type Random struct {
	Node consensus.NodeID
	Data []byte
}

// RandomCommit is a contributor's commitment to its random batch for
// round Round of a Byzantine cluster's draw: Hash is the batch's SHA-256.
// Batches are revealed only once every contributor's commitment is
// ordered, so none can choose its batch knowing another's.
type RandomCommit struct {
	Node  consensus.NodeID
	Round uint64
	Hash  [32]byte
}

// NodeDown declares a node failed: its outstanding outputs complete as
// uncertain and its client connections close in the guest.
type NodeDown struct {
	Node consensus.NodeID
}

// NodeUp declares a node caught up and able to action outputs again.
type NodeUp struct {
	Node consensus.NodeID
}

// StateHash is one replica's state hash at the end of a checkpoint epoch.
// Hash is what replicas vote on; Parts are the hashes it is made of (their
// meaning is the replica's business), so that a replica outvoted on Hash
// can report which part of its state differs.
type StateHash struct {
	Node  consensus.NodeID
	Epoch uint64
	Hash  [32]byte
	Parts [][32]byte
}

// Inputs is a batch of client inputs (ConnOpen, ConnData, ConnClose) that
// one node proposes as a single log entry, closed by a seal. A burst of
// requests thus costs one consensus round instead of one per request, and
// the closing seal lets an idle guest have them after that round. The
// closing seal is relative: its Through is one more than the highest seal
// before it in log order, so it is always effective, whoever proposed it
// and however stale the proposer's view was (see package replica).
type Inputs struct {
	Entries []Entry
	// Time is the proposer's wall clock in Unix nanoseconds: the closing
	// seal's time.
	Time int64
}

// ConsoleDone is a node's acknowledgement that it has performed every
// console output addressed to it up to output sequence number Seq. Until
// then the replicas keep the output, and perform it again on the next
// console node if this one fails.
type ConsoleDone struct {
	Node consensus.NodeID
	Seq  uint64
}

// Completion is Node's answer to output Seq, an action that needs one (a
// disk read or write). Until it commits, the guest thread that asked
// waits. Errno is zero for success or the guest errno the action failed
// with; N is how many bytes were written, Data what was read.
//
// A read's answer larger than the log takes in one proposal (a Byzantine
// engine's request) comes in parts (Parts): From is where Data starts in
// the answer, and More says parts follow. The replicas take each part
// only where the answer so far ends, so a part proposed twice counts once.
type Completion struct {
	Node  consensus.NodeID
	Seq   uint64
	Errno uint32
	N     uint64
	Data  []byte
	From  uint64
	More  bool
}

// Parts splits a read's answer into completions of at most maxData bytes
// of data each. A write's completion, a failure, an answer that fits, or
// maxData <= 0 (no bound) is one part.
func (c Completion) Parts(maxData int) []Completion {
	if maxData <= 0 || c.Errno != 0 || len(c.Data) <= maxData {
		return []Completion{c}
	}
	var parts []Completion
	for from := 0; from < len(c.Data); from += maxData {
		p := c
		p.Data = c.Data[from:min(from+maxData, len(c.Data))]
		p.From, p.More = uint64(from), from+maxData < len(c.Data)
		parts = append(parts, p)
	}
	return parts
}

// ConsoleIn is bytes typed at the console for the guest's stdin. Every
// node that reads the console proposes them, so that input survives the
// loss of any one: Offset is where Data starts in the input stream, and
// replicas keep the first copy of each byte. EOF marks the end of input
// at Offset+len(Data).
type ConsoleIn struct {
	Node   consensus.NodeID
	Offset uint64
	Data   []byte
	EOF    bool
}

func (Boot) Kind() Kind         { return KindBoot }
func (Seal) Kind() Kind         { return KindSeal }
func (ConnOpen) Kind() Kind     { return KindConnOpen }
func (ConnData) Kind() Kind     { return KindConnData }
func (ConnClose) Kind() Kind    { return KindConnClose }
func (Random) Kind() Kind       { return KindRandom }
func (RandomCommit) Kind() Kind { return KindRandomCommit }
func (NodeDown) Kind() Kind     { return KindNodeDown }
func (NodeUp) Kind() Kind       { return KindNodeUp }
func (StateHash) Kind() Kind    { return KindStateHash }
func (Inputs) Kind() Kind       { return KindInputs }
func (ConsoleDone) Kind() Kind  { return KindConsoleDone }
func (Completion) Kind() Kind   { return KindCompletion }
func (ConsoleIn) Kind() Kind    { return KindConsoleIn }

// IsClientInput reports whether e may travel in an Inputs batch.
func IsClientInput(e Entry) bool {
	switch e.(type) {
	case ConnOpen, ConnData, ConnClose:
		return true
	}
	return false
}
