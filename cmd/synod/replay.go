package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/cluster"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/consensus/raftlog"
	"github.com/synodvm/synod/machine"
	"github.com/synodvm/synod/replica"
)

const replayUsage = `usage: synod replay --dir D --node N [--guest PROG] [--until-epoch E] [--trace FILE]

Re-executes node N's replica from its stored log (from its snapshot and
the log after it, when the log was compacted), deterministically, as the
node ran it: it prints every output the node would perform and, at each
checkpoint, the state hash, checked against the hashes the nodes recorded
in the log. The node must be stopped (its store is locked while it runs).
Exits with status 1 if a recorded hash differs.

flags:
`

// replayBatch is how many entries replay reads from the store at once.
const replayBatch = 256

func runReplay(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("replay", replayUsage)
	dir := fs.String("dir", "", "the cluster's `directory` (made by synod up or synod init)")
	id := fs.Uint64("node", 0, "the `node` whose log to replay")
	guestPath := fs.String("guest", "", "the guest `program` the cluster runs (default: the bundled key-value service)")
	rootPath := fs.String("root", "", "the `directory` the cluster packed into the guest's root file system (synod up --root)")
	until := fs.Uint64("until-epoch", 0, "stop at this `epoch` (0: at the end of the log)")
	tracePath := fs.String("trace", "", "write every executed instruction to `file` (slow)")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if *dir == "" || *id == 0 {
		fs.Usage()
		return errors.New("replay: give --dir and --node")
	}
	cfg, err := cluster.Load(filepath.Join(*dir, cluster.FileName))
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	node, err := cfg.Node(consensus.NodeID(*id))
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	m := machineFlags{guest: *guestPath, root: *rootPath}
	guest, name, err := m.binary()
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	root, err := m.rootFiles()
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	store, err := raftlog.OpenBoltStore(cfg.Path(node.DataDir), raftlog.Identity{ClusterID: cfg.ClusterID, Node: node.ID})
	if err != nil {
		return fmt.Errorf("replay: node %d: %w (stop the node first)", node.ID, err)
	}
	defer store.Close()
	rc := replica.Config{Self: node.ID, Guest: guest, Root: root, ExePath: "/" + name, Logger: slog.New(slog.DiscardHandler)}
	if *tracePath != "" {
		f, err := os.Create(*tracePath)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		defer f.Close()
		w := bufio.NewWriterSize(f, 1<<16)
		defer w.Flush()
		rc.Trace = func(tid, pc, word uint32, nullified bool) {
			fmt.Fprintf(w, "%d %08x %08x  %s\n", tid, pc&^3, word, machine.Disassemble(pc&^3, word))
		}
	}
	r := replayer{rep: replica.New(rc), out: stdout, until: *until, self: node.ID}
	if err := r.run(ctx, store); err != nil {
		return err
	}
	return r.verdict()
}

// replayer drives one replica from a stored log.
type replayer struct {
	rep   *replica.Replica
	out   io.Writer
	until uint64
	self  consensus.NodeID
	// recorded are the state hashes the log holds, by epoch and node;
	// replayed are the replay's own.
	recorded map[uint64]map[consensus.NodeID][32]byte
	replayed map[uint64][32]byte
	lastHash uint64
}

func (r *replayer) run(ctx context.Context, store *raftlog.BoltStore) error {
	r.recorded = map[uint64]map[consensus.NodeID][32]byte{}
	r.replayed = map[uint64][32]byte{}
	first, err := store.FirstIndex()
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	if snap, err := store.Snapshot(); err == nil && snap.GetMetadata().GetIndex() > 0 {
		if err := r.rep.Restore(snap.Data); err != nil {
			return fmt.Errorf("replay: the stored snapshot at index %d: %w", snap.GetMetadata().GetIndex(), err)
		}
		fmt.Fprintf(r.out, "from the snapshot at index %d (epoch %d)\n", snap.GetMetadata().GetIndex(), r.rep.Status().Epoch)
		first = max(first, snap.GetMetadata().GetIndex()+1)
	}
	fmt.Fprintf(r.out, "replaying node %d's committed log from index %d\n", r.self, first)
	for next := first; ctx.Err() == nil; {
		ents, after, err := raftlog.ReadCommitted(store, next, replayBatch)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		if after == next {
			break
		}
		next = after
		for _, e := range ents {
			if d, err := entry.Decode(e.Data); err == nil {
				if sh, ok := d.(entry.StateHash); ok {
					if r.recorded[sh.Epoch] == nil {
						r.recorded[sh.Epoch] = map[consensus.NodeID][32]byte{}
					}
					r.recorded[sh.Epoch][sh.Node] = sh.Hash
				}
			}
			r.rep.Commit(e.Index, e.Data)
		}
		if done := r.step(); done {
			return nil
		}
	}
	r.step()
	return ctx.Err()
}

// step runs the replica as far as the entries committed so far take it,
// printing outputs and checkpoints; it reports whether --until-epoch was
// reached.
func (r *replayer) step() bool {
	for {
		progress := r.rep.Step()
		st := r.rep.Status()
		for _, o := range r.rep.Outputs() {
			fmt.Fprintf(r.out, "  output %v\n", o)
		}
		r.rep.Proposals()
		if st.LastHashAt != 0 && st.LastHashAt != r.lastHash {
			r.lastHash = st.LastHashAt
			r.checkpoint(st.LastHashAt, st.LastHash)
		}
		if r.until != 0 && st.Epoch >= r.until {
			return true
		}
		switch progress {
		case replica.Ran:
			continue
		case replica.Stopped:
			fmt.Fprintf(r.out, "the replica stopped: %v\n", st.Stopped)
			return true
		}
		return false
	}
}

// checkpoint prints a state hash of the replay; the nodes' hashes for
// that epoch come later in the log, so verdict compares them.
func (r *replayer) checkpoint(epoch uint64, hash [32]byte) {
	r.replayed[epoch] = hash
	fmt.Fprintf(r.out, "epoch %d  state hash %x\n", epoch, hash[:8])
}

// verdict compares the replay's state hashes with those the nodes
// recorded in the log for the same epochs.
func (r *replayer) verdict() error {
	checked := 0
	var differ []string
	for _, epoch := range slices.Sorted(maps.Keys(r.replayed)) {
		for _, node := range slices.Sorted(maps.Keys(r.recorded[epoch])) {
			checked++
			own, h := r.replayed[epoch], r.recorded[epoch][node]
			if h != own {
				differ = append(differ, fmt.Sprintf("epoch %d: the replay has %x, node %d recorded %x", epoch, own[:8], node, h[:8]))
			}
		}
	}
	st := r.rep.Status()
	fmt.Fprintf(r.out, "replayed to epoch %d, delivered index %d; %d recorded state hashes compared, %d differ\n",
		st.Epoch, st.Delivered, checked, len(differ))
	for _, d := range differ {
		fmt.Fprintln(r.out, "  "+d)
	}
	if len(differ) > 0 {
		return exitStatus(1)
	}
	return nil
}
