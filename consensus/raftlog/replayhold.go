package raftlog

import (
	"fmt"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/synodvm/synod/consensus"
)

// A node that restarts holds a log it may no longer need: when the
// leader compacted its log past this node's last entry while the node was
// down, the leader sends a snapshot, which replaces all the state that
// replaying the node's own log would build. Replaying it first is wasted,
// and on processors the node shares with the nodes serving clients, taken
// from them: a follower restarted behind a 500 MiB machine re-executed
// its log (the guest writing its whole heap again) for 8 s of CPU before
// the leader's snapshot replaced the result.
//
// So a restarted node holds back what it would deliver from its own
// store, its stored snapshot and the committed entries after it, until it
// learns how it will catch up:
//
//   - it accepts an append from a leader: that leader holds the log after
//     what this node has, so no snapshot comes; the held state is
//     delivered, then whatever commits after it;
//   - raft restores a leader's snapshot: raft takes only one beyond this
//     node's commit index, so it replaces everything held, which is
//     dropped without being read;
//   - it becomes the leader: it holds the whole log;
//   - it hears of no leader for holdLeaderlessTicks: it is alone, or the
//     cluster has no quorum; it delivers its state as if it had not held
//     it, so that a node restarted alone still recovers its state.
//
// While it hears from a leader that neither appends nor sends a snapshot,
// it goes on holding, for up to holdTicks in all: a leader sending a
// snapshot sends no appends until it has gone, which takes a while for a
// large one. A leader sends nothing either when it believes the node
// holds its whole log, until the next entry commits: a node that was
// down long enough missed heartbeats, each of which made the leader probe
// it, and a probe is an append; but one restarted within a heartbeat
// missed none, and an idle cluster may commit nothing for minutes. So
// every holdNudgeTicks with a leader known, the node proposes an empty
// entry (the user never sees one, as a new leader's): its append ends the
// hold. Past holdTicks the node delivers its state as it always did: at
// worst, it does the work the hold was meant to save.
//
// Raft runs as before; only the hand-over to the user waits. Entries raft
// commits during the hold are read back from the store once it ends: the
// Ready that commits an entry stores it first, and the store compacts
// only past what the user has been given, or under a leader's snapshot,
// which drops what is held. Configuration changes among them are applied
// to raft as it commits them, as always. The user sees what it always
// did, later: the stored snapshot and the entries after it, in order, or
// a leader's snapshot and the entries after that, as a node that had
// lost its log would.

// holdLeaderlessTicks is how long a restarted node holds its state while
// it hears of no leader: ten election timeouts, 5–10 s at the usual
// ticks. A leader's heartbeats reach a restarted node only once the
// leader's transport has dialled it again, after a back-off that grew
// while the node was down (up to 2 s in the p2p transport), and when the
// leader is gone, electing another takes up to two election timeouts.
// Three timeouts (1.5 s) proved too short on a loaded machine.
func (c *Core) holdLeaderlessTicks() uint64 { return 10 * uint64(c.cfg.ElectionTicks) }

// holdTicks bounds the whole hold: 120 election timeouts, a minute at
// synod's tick, longer than restarting to installing a 500 MiB snapshot
// took on a loaded development machine (17–40 s).
func (c *Core) holdTicks() uint64 { return 120 * uint64(c.cfg.ElectionTicks) }

// holdNudgeTicks is how long a restarted node that hears from a leader
// waits for an append or a snapshot before it proposes an empty entry:
// two election timeouts, time for a leader's probe when the node missed
// heartbeats.
func (c *Core) holdNudgeTicks() uint64 { return 2 * uint64(c.cfg.ElectionTicks) }

// replayHold is what a restarted node holds back.
type replayHold struct {
	holding bool
	// ticks counts the ticks of the hold, leaderlessTicks those since a
	// leader was last known.
	ticks, leaderlessTicks uint64
	// heldTo is the last committed index kept from the user by the hold:
	// the entries after Core.delivered up to it are read back from the
	// store once the hold ends.
	heldTo uint64
}

// startHold holds the stored state if there is any to deliver.
func (c *Core) startHold() {
	commit := c.rn.BasicStatus().HardState.GetCommit()
	if c.startSnapshot == nil && commit <= c.snapIndex {
		return
	}
	c.hold = replayHold{holding: true, heldTo: c.snapIndex}
	c.log.Info("raftlog: holding the stored state until a leader tells whether its snapshot replaces it",
		"snapshot", c.snapIndex, "commit", commit)
}

// endHold ends the hold; the held state is delivered from the next
// HandleReady on.
func (c *Core) endHold(why string) {
	if !c.hold.holding {
		return
	}
	c.hold.holding = false
	c.log.Info("raftlog: delivering the stored state", "why", why, "snapshot", c.snapIndex, "through", c.hold.heldTo)
}

// tickHold ends a hold that has heard of no leader for too long, or has
// lasted too long.
func (c *Core) tickHold() {
	if !c.hold.holding {
		return
	}
	c.hold.ticks++
	c.hold.leaderlessTicks++
	if c.rn.BasicStatus().Lead != raft.None {
		c.hold.leaderlessTicks = 0
	}
	switch {
	case c.hold.leaderlessTicks >= c.holdLeaderlessTicks():
		c.endHold("no leader heard of")
	case c.hold.ticks >= c.holdTicks():
		c.endHold("a leader sent neither an append nor a snapshot")
	case c.hold.leaderlessTicks == 0 && c.hold.ticks%c.holdNudgeTicks() == 0:
		// Dropped when a leadership transfer is under way: the next nudge
		// goes to the next leader.
		_ = c.rn.Propose(nil)
	}
}

// endHoldOnProgress ends the hold once rd shows that no leader's snapshot
// will replace the held state: this node acknowledged an append, or it
// leads.
func (c *Core) endHoldOnProgress(rd raft.Ready) {
	if !c.hold.holding {
		return
	}
	if c.rn.BasicStatus().RaftState == raft.StateLeader {
		c.endHold("this node leads")
		return
	}
	for _, m := range rd.Messages {
		if m.GetType() == pb.MsgAppResp && !m.GetReject() {
			c.endHold("a leader's append was accepted")
			return
		}
	}
}

// dropHeld forgets what the hold kept back, replaced by the leader's
// snapshot at index.
func (c *Core) dropHeld(index uint64) {
	if c.hold.holding || c.startSnapshot != nil || c.delivered < c.hold.heldTo {
		c.log.Info("raftlog: a leader's snapshot replaces the stored state, which is not delivered",
			"snapshot", index, "stored_snapshot", c.snapIndex, "held_through", c.hold.heldTo)
	}
	c.startSnapshot = nil
	c.hold = replayHold{heldTo: index}
}

// defersDelivery reports whether committed entries wait for the held
// state to be delivered before them.
func (c *Core) defersDelivery() bool {
	return c.hold.holding || c.startSnapshot != nil || c.delivered < c.hold.heldTo
}

// hasHeldToDeliver reports whether the hold has ended with state still
// to deliver.
func (c *Core) hasHeldToDeliver() bool {
	return !c.hold.holding && (c.startSnapshot != nil || c.delivered < c.hold.heldTo)
}

// deliverHeld appends to applies what the hold kept back, once it has
// ended: the stored snapshot, then the committed entries after it, read
// back from the store, at most maxReadiesPerCall batches in one call.
func (c *Core) deliverHeld(applies []consensus.Apply) ([]consensus.Apply, error) {
	if c.hold.holding {
		return applies, nil
	}
	if c.startSnapshot != nil {
		applies = append(applies, consensus.Apply{Snapshot: c.startSnapshot})
		c.startSnapshot = nil
	}
	for i := 0; i < maxReadiesPerCall && c.delivered < c.hold.heldTo; i++ {
		ents, err := c.store.Entries(c.delivered+1, c.hold.heldTo+1, c.cfg.MaxCommittedSizePerReady)
		if err != nil {
			return applies, fmt.Errorf("read back committed entries %d to %d: %w", c.delivered+1, c.hold.heldTo, err)
		}
		if len(ents) == 0 {
			return applies, fmt.Errorf("read back committed entries %d to %d: the store returned none", c.delivered+1, c.hold.heldTo)
		}
		var batch []consensus.Entry
		for _, e := range ents {
			if ue, ok, err := c.userEntry(e); err != nil {
				return applies, err
			} else if ok {
				batch = append(batch, ue)
			}
			c.delivered = e.GetIndex()
		}
		if len(batch) > 0 {
			applies = append(applies, consensus.Apply{Entries: batch})
		}
	}
	return applies, nil
}
