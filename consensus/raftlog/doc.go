// Package raftlog is synod's crash-fault consensus engine: etcd raft
// (go.etcd.io/raft/v3) with CheckQuorum and PreVote, durable bbolt storage
// and the consensus.Transport of the caller's choice.
//
// # Two ways to drive it
//
// Core is the deterministic engine: no goroutines, no clock. One goroutine
// calls, in any interleaving, Tick (at a steady rate), Step (for each
// message from the transport's Inbound channel), Propose and the
// membership calls, and after each batch of those HandleReady, which
// persists (one fsync'd write), then sends, then returns the committed
// entries for the caller to apply in order:
//
//	store, err := raftlog.OpenBoltStore(dataDir, raftlog.Identity{ClusterID: id, Node: self})
//	core, err := raftlog.NewCore(raftlog.Config{ID: self, Peers: voters, SnapshotSource: snap, Clock: virtualNow}, store, transport)
//	for each step of the simulation:
//		core.Tick()                       // when the virtual clock passes a tick
//		core.Step(in)                     // for each message waiting on transport.Inbound()
//		core.Propose(data)                // ErrBusy: retry after a HandleReady; consensus.ErrNoQuorum: no leader
//		applies, err := core.HandleReady() // errors.Is(err, ErrFailed): the node is dead
//
// A simulator may use NewMemStore instead of bbolt: it keeps exactly what
// was saved across a simulated crash (drop the Core, keep the MemStore).
// Raft draws its randomised election timeouts from crypto/rand; a
// simulation test makes them reproducible with testing/cryptotest's
// SetGlobalRandom (see TestDeterministicRun).
//
// Node is the production form: StartNode wraps a Core in one event loop
// with a wall-clock ticker, pumps the transport, batches every proposal
// and message that has arrived into one Ready, and implements
// consensus.Log:
//
//	node, err := raftlog.StartNode(cfg, store, transport) // owns store and transport from now on
//	go func() { for a := range node.Applies() { apply(a) } }()
//	err = node.Propose(ctx, data) // blocks under back-pressure, fails fast without quorum
//	node.AddNode(ctx, id); node.RemoveNode(ctx, id); node.TransferLeadership(ctx, id)
//	err = node.Stop()             // the fatal error, if one stopped the node
//
// # What the user of the log sees
//
// Applies starts, when the store holds a snapshot, with that snapshot,
// then every committed entry after it, each once per process lifetime: a
// restarted node rebuilds its state from the log alone. When SnapshotSource
// is set, the engine asks for a snapshot every SnapshotEntries delivered
// entries (but no sooner after the last one than four times as long as
// that one took, and not while the log cannot be compacted any further
// because a follower is being caught up through a snapshot); the user
// returns its state and the last index it applied (which may trail what
// was delivered), and the engine stores it and compacts the log. A
// follower too far behind receives the leader's snapshot as
// Apply{Snapshot}. A snapshot travels apart from the raft messages
// (Transport.SendSnapshot), so it may be of any size.
//
// Proposals travel in a small envelope (proposer, sequence number) so the
// proposer recognises its own entries coming back: that frees
// back-pressure slots and times commit latency. A proposal raft loses
// with a leader change is never retried by the engine; its slot expires
// after ProposalTimeoutTicks, and the user re-proposes if it still wants it.
//
// # Durability
//
// BoltStore writes each Ready's entries and hard state as one record of
// its write-ahead log, with one fdatasync, before the messages that vouch
// for them are sent; bbolt takes the log in off that path (walstore.go).
// A Ready with a snapshot is one bbolt transaction, synced.
// A failed write stops the node (ErrFailed) before anything about the
// unsynced state leaves it. The store records a format marker, the
// cluster id and the node id; a damaged file or another cluster's or
// node's directory is refused (ErrCorruptStore, ErrForeignStore), never
// reset.
package raftlog
