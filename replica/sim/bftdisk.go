package sim

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/synodvm/synod/consensus/bft"
)

// A Byzantine member's records live in one file on its disk
// (bft.FileStorage): each Ready's records are appended in one write and
// synced before any of its messages leave, and a compaction writes the
// whole new content beside the file and renames it over. The disk's
// faults (FaultDisk) strike that write as they strike the raft store's:
//
//   - the process dies inside the write, before it is synced: the write
//     is on the disk whole or not at all. Any prefix of its bytes may be
//     there, but the file drops an Append cut short whole (its records
//     are marked as belonging together, TestFileStorageDropsAWriteCutShort),
//     and a compaction is renamed over the file only once written;
//   - the write fails at its fsync: it may or may not be on the disk, and
//     the engine stops the process (bft.Log returns the error);
//   - the disk is full: the file grows only in steps of zeros written
//     ahead, so nothing of the write is there, and the engine stops.
//
// Nothing of the Ready is sent in any case. A bit flipped while the
// member is down is left out: the file's checksums refuse the store, and
// the member rejoins as after a lost one (FaultStoreLoss, withRecordLoss).

// recordDiskSalt separates the draws of a Byzantine run's disk faults
// from the seed's others.
const recordDiskSalt = 0x7265636f726473

// withRecordDiskFaults adds to a Byzantine run's plan the disk faults
// its records may meet, when the run allows disk faults: each left out by
// one seed in four, so that seeds also try them apart, as newPlan does
// for the raft store's.
func (p plan) withRecordDiskFaults(seed uint64, allowed FaultSet) plan {
	rng := rand.New(rand.NewPCG(splitmix(seed^recordDiskSalt), splitmix(seed^recordDiskSalt+1)))
	if allowed&FaultDisk == 0 || rng.IntN(3) == 0 {
		return p
	}
	p.drawWriteFaults(rng, func() bool { return rng.IntN(4) > 0 })
	p.diskDownFor = between(rng, 10*time.Millisecond, 3*time.Second)
	return p
}

// recordLossSalt separates the draw of a Byzantine run's lost stores
// from the seed's others.
const recordLossSalt = 0x6c6f7374

// withRecordLoss adds lost stores to a Byzantine run's plan when the run
// allows them and crashes: a correct member's crash then loses its
// records at the rate drawn, and it comes back from a new store marked
// rejoining, as synod node --rejoin makes it. A rejoining member is a
// second fault until it is done: it needs answers from 2f+1 of the others
// (every other member, with 4), and meanwhile the cluster decides only
// with the faulty member's votes. So stores are lost only in runs whose
// faulty member still votes as a correct one would: not when it is
// silent, slow (3 s a vote), twins (two cores voting apart), or signs a
// wrong state (its checkpoints never become stable, and its window stops
// there: seed 17 deadlocked so, seed 3 with twins).
func (p plan) withRecordLoss(seed uint64, allowed FaultSet, behaviour Behaviour) plan {
	rng := rand.New(rand.NewPCG(splitmix(seed^recordLossSalt), splitmix(seed^recordLossSalt+1)))
	if allowed&FaultStoreLoss == 0 || p.crashEvery == 0 || rng.IntN(3) == 0 {
		return p
	}
	switch behaviour {
	case Silent, Slow, Twins, WrongState:
		return p
	}
	p.storeLoss = pick(rng, 0.1, 0.3)
	return p
}

// persistRecords stores a Ready's records as the disk's fate for this
// write says, and reports whether the process lives on to send them.
func (n *node) persistRecords(rd bft.Ready) bool {
	s := n.sim
	fate := synced
	if len(rd.Persist) > 0 || rd.Compact {
		fate = n.disk.fate(false)
	}
	if fate == synced {
		n.records = persist(n.records, rd)
		return true
	}
	kept := "none"
	if fate != diskFull && s.rng.IntN(2) == 0 {
		n.records, kept = persist(n.records, rd), "all"
	}
	switch fate {
	case diesBeforeSync:
		s.counts.WriteCrashes++
		n.diesInWrite(fmt.Sprintf("dies inside a write of %d records, %s of them on the disk", len(rd.Persist), kept))
	case fsyncFails:
		s.counts.WriteErrors++
		n.stopsOnFailedRecordWrite(fmt.Sprintf("the write of %d records fails at its fsync (EIO), %s of them on the disk", len(rd.Persist), kept))
	case diskFull:
		n.stopsOnFailedRecordWrite("its disk is full (ENOSPC): none of its records written")
	}
	return false
}

// stopsOnFailedRecordWrite stops the process whose engine stopped on a
// failed write of its records. Its supervisor restarts it after up to
// diskDownFor, with what the disk holds.
func (n *node) stopsOnFailedRecordWrite(why string) {
	n.p.failed = "its engine stopped on a failed write"
	n.restartAt = n.sim.now + between(n.sim.rng, stepLength, n.sim.plan.diskDownFor)
	n.sim.trace.note(n.sim.now, n.id, "engine stops: %s", why)
}
