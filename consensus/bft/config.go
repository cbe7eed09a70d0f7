package bft

import (
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/synodvm/synod/consensus"
)

// Config configures one replica. Zero values take the defaults documented
// on each field; Validate fills them in.
type Config struct {
	// ID is this replica. Required, and one of PublicKeys.
	ID consensus.NodeID
	// PublicKeys holds every member's ed25519 public key: the membership
	// is exactly its keys. Tolerates f faulty members when it holds at
	// least 3f+1.
	PublicKeys map[consensus.NodeID]ed25519.PublicKey
	// PrivateKey is this replica's key; it signs every message it sends.
	PrivateKey ed25519.PrivateKey
	// Cluster is the cluster's id. Every signature covers it, so that a
	// member of two clusters with one key cannot have its messages
	// replayed from one into the other.
	Cluster string

	// Window is how many sequence numbers above the stable checkpoint may
	// be in flight at once (default 2×CheckpointInterval). Wider lets a
	// primary keep more batches in the pipeline over a long-latency link
	// and lets a replica fall further behind before it must fetch state;
	// but every replica keeps the messages of the whole window in memory,
	// and a view change carries the batch of every prepared sequence
	// number in it: up to Window×MaxBatchBytes, and a new view a quorum
	// of view changes plus as many batches again, which must fit the
	// transport's message limit (64 MiB by default; with the defaults here
	// a new view of 7 members stays under 48 MiB). It must be at least
	// CheckpointInterval, or the window fills before a checkpoint can
	// move it.
	Window uint64
	// CatchUpWindows is how many windows of decided batches below its
	// stable checkpoint a member keeps, with their proofs, for a member
	// that lags (default 2): one that executes more slowly than the
	// cluster decides (a slower or loaded machine), or was cut off or
	// restarted, and is less than this many windows behind the others'
	// stable checkpoint fetches those batches and executes them; further
	// behind, it installs the others' state, which hangs up on every
	// client of its node. Each window costs every member up to
	// Window×MaxBatchBytes of memory more (8 MiB with the defaults at the
	// largest batches; a quorum of commits each besides), and nothing on
	// disk.
	CatchUpWindows uint64
	// CheckpointInterval is how many sequence numbers lie between two
	// checkpoints (default 64). Each checkpoint asks the application for
	// a snapshot, which the guest waits for and every member encodes and
	// hashes whole, and costs a round of signed messages; longer intervals
	// keep more log in memory (the window doubles with them) and make a
	// lagging replica replay more. Under 64 clients the key-value guest's
	// cluster decides about 80 batches a second, and at 32 it spent a
	// checkpoint's 20 ms on each member twice to three times a second.
	CheckpointInterval uint64
	// CompactionBytes bounds the records a replica appends between two
	// rewrites of its storage (default 4 MiB). A stable checkpoint
	// normally appends a small record naming it (its certificate); only
	// once the records appended since the last rewrite reach
	// max(CompactionBytes, that rewrite's size) does it rewrite the
	// storage as the stable checkpoint's whole state and what follows it.
	// Each rewrite writes the application's whole snapshot and makes
	// every append wait behind it; but a restart re-executes every batch
	// decided since the state it finds, and those batches are in the
	// records appended since: at most that bound plus one checkpoint
	// interval's records. Smaller values mean shorter restarts and more
	// of the disk spent on snapshots.
	CompactionBytes int
	// MaxBatchRequests bounds the requests in one batch (default 1024).
	MaxBatchRequests int
	// MaxBatchBytes bounds the request data in one batch (default
	// 64 KiB), each proposal counting 32 bytes more than it holds (so a
	// batch holds at most 2,048 entries): larger batches amortise the
	// three phases over more requests but make view changes larger (see
	// Window). The default keeps Window×MaxBatchBytes at 8 MiB with the
	// default window; batches under load hold a few kilobytes (22
	// requests of the key-value service under 64 clients), and only
	// writes of tens of kilobytes fill one.
	MaxBatchBytes int
	// MaxBatchesInFlight bounds the batches the primary has ordered and
	// not yet seen decided (default 1, as in PBFT); the requests that
	// arrive meanwhile wait for the next batch. Every batch costs each
	// member a few dozen signature checks however few requests it holds:
	// a primary that ordered each request as it came made batches of two
	// or three, and the cluster spent its CPU on them.
	MaxBatchesInFlight int
	// MaxRequestBytes bounds one request's data (default 64 KiB); at most
	// MaxBatchBytes, so that every request fits a batch.
	MaxRequestBytes int
	// CheckRequest, when set, says whether another member's request may
	// be ordered, judged by what this member knows now (its clock): a
	// refused request is not held, and a backup does not prepare a batch
	// that holds one. It must pass every request a correct member makes,
	// or the cluster stops ordering that member's requests; it is never
	// asked at execution, which depends on nothing local.
	CheckRequest func(data []byte) error
	// MaxPendingRequests bounds the requests held for each origin that
	// are not yet executed (default 1024). A proposer beyond it gets
	// ErrBusy; a member that floods requests fills only its own share.
	MaxPendingRequests int

	// RequestTimeoutTicks is how long a replica waits for a request it
	// holds to execute before it suspects the primary (default 20). Too
	// short and a merely loaded primary is replaced; too long and a
	// silent or slow primary stalls the service this long.
	RequestTimeoutTicks uint64
	// ViewChangeTimeoutTicks is how long a replica waits for a view
	// change to complete before it moves on to the next view (default
	// 20). It doubles with each view change that fails to complete, up to
	// MaxViewChangeTimeoutTicks (default 64×ViewChangeTimeoutTicks), so
	// that correct replicas eventually spend long enough in one view to
	// agree even when the network is slower than the base timeout.
	ViewChangeTimeoutTicks    uint64
	MaxViewChangeTimeoutTicks uint64
	// RetransmitTicks is how often a replica resends what it last said
	// for everything not yet settled (default 4): messages may be lost,
	// and the protocol's progress depends on them arriving.
	RetransmitTicks uint64

	// TickInterval is the wall time of one tick for the driver, Log
	// (default 50 ms). The core has no clock: it counts Tick calls.
	TickInterval time.Duration
	// Logger receives the engine's logs (default slog.Default()).
	Logger *slog.Logger
}

// Validate checks cfg and fills in defaults.
func (c *Config) Validate() error {
	if c.ID == 0 {
		return fmt.Errorf("bft: config: node id 0 is reserved")
	}
	if _, ok := c.PublicKeys[c.ID]; !ok {
		return fmt.Errorf("bft: config: node %d has no public key among the members", c.ID)
	}
	for id, key := range c.PublicKeys {
		if id == 0 || len(key) != ed25519.PublicKeySize {
			return fmt.Errorf("bft: config: member %d: id 0 or a key of %d bytes", id, len(key))
		}
	}
	if len(c.PrivateKey) != ed25519.PrivateKeySize {
		return fmt.Errorf("bft: config: private key of %d bytes", len(c.PrivateKey))
	}
	if !c.PrivateKey.Public().(ed25519.PublicKey).Equal(c.PublicKeys[c.ID]) {
		return fmt.Errorf("bft: config: the private key is not node %d's", c.ID)
	}
	setDefault(&c.CheckpointInterval, 64)
	setDefault(&c.Window, 2*c.CheckpointInterval)
	if c.Window < c.CheckpointInterval {
		return fmt.Errorf("bft: config: window %d is shorter than the checkpoint interval %d", c.Window, c.CheckpointInterval)
	}
	setDefault(&c.CatchUpWindows, 2)
	setDefault(&c.CompactionBytes, 4<<20)
	setDefault(&c.MaxBatchRequests, 1024)
	setDefault(&c.MaxBatchBytes, 64<<10)
	setDefault(&c.MaxBatchesInFlight, 1)
	setDefault(&c.MaxRequestBytes, 64<<10)
	if c.MaxRequestBytes > c.MaxBatchBytes {
		return fmt.Errorf("bft: config: a request of up to %d bytes does not fit a batch of %d", c.MaxRequestBytes, c.MaxBatchBytes)
	}
	setDefault(&c.MaxPendingRequests, 1024)
	setDefault(&c.RequestTimeoutTicks, 20)
	setDefault(&c.ViewChangeTimeoutTicks, 20)
	setDefault(&c.MaxViewChangeTimeoutTicks, 64*c.ViewChangeTimeoutTicks)
	setDefault(&c.RetransmitTicks, 4)
	setDefault(&c.TickInterval, 50*time.Millisecond)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// QuorumSize is how many of n members decide: ⌈(n+f+1)/2⌉ with f the
// faulty members n tolerates, 2f+1 for n = 3f+1.
func QuorumSize(n int) int { return (n + Tolerated(n) + 2) / 2 }

// Tolerated is how many faulty members n members tolerate: f of 3f+1.
func Tolerated(n int) int { return (n - 1) / 3 }

// quorums is what follows from the membership: who leads which view and
// how many votes decide.
type quorums struct {
	members []consensus.NodeID // sorted
	f       int
	// quorum is the size of every deciding set: any two quorums share at
	// least f+1 members, so at least one correct one. With n = 3f+1 it
	// is 2f+1.
	quorum int
}

func newQuorums(keys map[consensus.NodeID]ed25519.PublicKey) quorums {
	members := make([]consensus.NodeID, 0, len(keys))
	for id := range keys {
		members = append(members, id)
	}
	slices.Sort(members)
	n := len(members)
	return quorums{members: members, f: Tolerated(n), quorum: QuorumSize(n)}
}

// primary is the member that orders requests in view v: the members take
// turns, in id order.
func (q quorums) primary(v uint64) consensus.NodeID {
	return q.members[v%uint64(len(q.members))]
}
