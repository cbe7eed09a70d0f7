// Package outputs is what the replicated machine asks the world to do.
// Every replica computes the same outputs with the same sequence numbers;
// each output names the one node that performs it, and the others only
// note that it was done elsewhere.
package outputs

import (
	"fmt"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
)

// Output is "execute Action on node Node". Seq is assigned by the replica
// in execution order, so all replicas name the same output the same way and
// a peripheral can drop a duplicate by its number.
type Output struct {
	Seq    uint64
	Node   consensus.NodeID
	Action Action
}

func (o Output) String() string {
	return fmt.Sprintf("#%d on node %d: %s", o.Seq, o.Node, o.Action)
}

// Action is one thing a peripheral can do.
type Action interface {
	String() string
}

// Send writes guest bytes to a client connection.
type Send struct {
	Conn entry.ConnID
	Data []byte
}

// CloseConn closes a client connection (the guest closed or shut down its
// socket, or the connection's node failed).
type CloseConn struct {
	Conn entry.ConnID
}

// RefuseConn closes a client connection the guest never accepted, and
// says why, so that its node can count the refusals it hands out.
type RefuseConn struct {
	Conn   entry.ConnID
	Reason string
}

// Console writes guest bytes to the console: Stream 1 is stdout, 2 stderr.
type Console struct {
	Stream int
	Data   []byte
}

// Listen opens the node's service port for the guest's port Port. It is
// emitted once per member, since every node serves every guest port.
type Listen struct {
	Port uint16
}

// Refill asks the node for Bytes fresh random bytes for the guest's pool.
// In a crash-fault cluster Round is zero and the node proposes the bytes
// at once (entry.Random). In a Byzantine cluster the draw has two steps,
// so that no member chooses the bytes: the node first draws a batch for
// round Round and proposes only its hash (entry.RandomCommit); once every
// contributor's hash is ordered, a second Refill for the same round with
// Reveal set asks it to propose the batch itself.
type Refill struct {
	Bytes  int
	Round  uint64
	Reveal bool
}

// DiskRead reads Length bytes at Offset of the node's path to Disk. Like
// every disk action it needs an answer: the guest thread waits until the
// node proposes an entry.Completion for this output's sequence number, or
// until the node is declared down, when it completes as uncertain (EIO).
type DiskRead struct {
	Disk   string
	Offset int64
	Length int
}

// DiskWrite writes Data at Offset of the node's path to Disk; the disk
// has it durably when the completion says so.
type DiskWrite struct {
	Disk   string
	Offset int64
	Data   []byte
}

// Kinds names every kind of action, in the order KindOf numbers them: the
// label values of the per-kind output metrics.
var Kinds = [NumKinds]string{"send", "close", "refuse", "console", "listen", "refill", "disk-read", "disk-write"}

// NumKinds is how many kinds of action there are.
const NumKinds = 8

// KindOf returns the index in Kinds of a's kind.
func KindOf(a Action) int {
	switch a.(type) {
	case Send:
		return 0
	case CloseConn:
		return 1
	case RefuseConn:
		return 2
	case Console:
		return 3
	case Listen:
		return 4
	case Refill:
		return 5
	case DiskRead:
		return 6
	}
	return 7
}

// NeedsCompletion reports whether an action blocks its guest thread until
// the target node proposes its completion.
func NeedsCompletion(a Action) bool {
	switch a.(type) {
	case DiskRead, DiskWrite:
		return true
	}
	return false
}

func (a Send) String() string {
	return fmt.Sprintf("send %d bytes on conn %d/%d", len(a.Data), a.Conn.Node, a.Conn.Serial)
}
func (a CloseConn) String() string {
	return fmt.Sprintf("close conn %d/%d", a.Conn.Node, a.Conn.Serial)
}
func (a RefuseConn) String() string {
	return fmt.Sprintf("refuse conn %d/%d: %s", a.Conn.Node, a.Conn.Serial, a.Reason)
}

func (a Console) String() string { return fmt.Sprintf("console %d: %d bytes", a.Stream, len(a.Data)) }
func (a Listen) String() string  { return fmt.Sprintf("listen on guest port %d", a.Port) }
func (a Refill) String() string {
	switch {
	case a.Round == 0:
		return fmt.Sprintf("refill %d random bytes", a.Bytes)
	case a.Reveal:
		return fmt.Sprintf("reveal the random batch of round %d", a.Round)
	}
	return fmt.Sprintf("commit to %d random bytes for round %d", a.Bytes, a.Round)
}
func (a DiskRead) String() string {
	return fmt.Sprintf("read %d bytes of disk %s at %d", a.Length, a.Disk, a.Offset)
}
func (a DiskWrite) String() string {
	return fmt.Sprintf("write %d bytes to disk %s at %d", len(a.Data), a.Disk, a.Offset)
}
