package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/bft"
	"github.com/synodvm/synod/consensus/bftnode"
	"github.com/synodvm/synod/consensus/cluster"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/internal/signing"
	"github.com/synodvm/synod/outputs"
	"github.com/synodvm/synod/peripherals"
)

// certifierTick is how often a node checks whether an output has waited
// long enough for its certificate to ask for the signatures again.
const certifierTick = 100 * time.Millisecond

// faultyBehaviours are what `synod node --faulty` can make a node of a
// Byzantine cluster do wrong, for fault-injection tests. A correct
// cluster of 3f+1 tolerates f such nodes.
var faultyBehaviours = map[string]string{
	"wrong-outputs":      "sign a wrong digest for every output of the other nodes",
	"wrong-replies":      "change every reply before sending it to a client",
	"forge-inputs":       "type a command into every other node's client sessions it sees",
	"future-clock":       "propose times ten years ahead of its clock",
	"withhold-random":    "commit to random batches but never reveal them",
	"wrong-state-hashes": "propose a wrong hash of the replicated state at every checkpoint",
	"flip-input-once":    "flip a byte of the first client input its own replica executes (a correct node's memory error: it must repair itself)",
	"silent":             "send the other members nothing, receive everything",
	"slow":               "send every engine message 300 ms late",
	"garbage":            "send random bytes and truncated copies with every engine message",
	"replay":             "send one of its old engine messages again with every new one",
}

const faultyUsage = "make this node of a Byzantine cluster faulty, for fault-injection tests: `behaviour` is one of "

func faultyNames() string {
	names := make([]string, 0, len(faultyBehaviours))
	for name, what := range faultyBehaviours {
		names = append(names, fmt.Sprintf("%s (%s)", name, what))
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// checkFaulty refuses a behaviour no node knows, and one asked of a node
// whose cluster does not tolerate faulty members.
func checkFaulty(behaviour string, byzantine bool) error {
	if behaviour == "" {
		return nil
	}
	if _, ok := faultyBehaviours[behaviour]; !ok {
		return fmt.Errorf("--faulty %q: unknown behaviour; known: %s", behaviour, faultyNames())
	}
	if !byzantine {
		return fmt.Errorf("--faulty %s: only a Byzantine cluster (synod init --byzantine) tolerates faulty nodes", behaviour)
	}
	return nil
}

// startCertifier gives a node of a Byzantine cluster the certifier of its
// outputs, and feeds it the other members' signatures until ctx ends.
func startCertifier(ctx context.Context, s nodeSetup, log *bftnode.Node, logger *slog.Logger) (*outputs.Certifier, error) {
	key, members, err := bftnode.Keys(s.cfg, s.self)
	if err != nil {
		return nil, err
	}
	cert, err := outputs.NewCertifier(outputs.CertifierConfig{
		Self: s.self, ClusterID: s.cfg.ClusterID, Key: key, Members: members,
		Send:             log.SendOutputs,
		SignWrongDigests: s.faulty == "wrong-outputs",
		Logger:           logger,
	})
	if err != nil {
		return nil, fmt.Errorf("node %d: %w", s.self, err)
	}
	if s.faulty != "" {
		logger.Warn("this node is faulty on purpose, for a fault-injection test", "behaviour", s.faulty)
	}
	go func() {
		tick := time.NewTicker(certifierTick)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				cert.Tick(now)
			case in, ok := <-log.OutputMessages():
				if !ok {
					return
				}
				cert.Receive(in.From, in.Data)
				if in.Release != nil {
					in.Release()
				}
			}
		}
	}()
	return cert, nil
}

// certifierOf returns the certifier of a Byzantine node's outputs, and
// nil for an engine whose outputs need none.
func certifierOf(ctx context.Context, s nodeSetup, log consensus.Log, logger *slog.Logger) (*outputs.Certifier, error) {
	bft, ok := log.(*bftnode.Node)
	if !ok {
		return nil, nil
	}
	return startCertifier(ctx, s, bft, logger)
}

// faultyNet is the node's client connections, as a node that is faulty
// in the given way performs them.
func faultyNet(behaviour string, net *peripherals.NetPort) outputs.Net {
	if behaviour == "wrong-replies" {
		return lyingNet{net}
	}
	return net
}

// lyingNet changes every reply, keeping its certificate.
type lyingNet struct{ *peripherals.NetPort }

func (l lyingNet) Send(conn entry.ConnID, data []byte) { l.NetPort.Send(conn, lie(data)) }
func (l lyingNet) SendCertified(conn entry.ConnID, data []byte, seq uint64, cert outputs.Certificate) {
	l.NetPort.SendCertified(conn, lie(data), seq, cert)
}

func lie(data []byte) []byte {
	if len(data) == 0 {
		return data
	}
	changed := append([]byte(nil), data...)
	changed[len(changed)-1] ^= 0x20
	return changed
}

// forgedCommand is what a node faulty with forge-inputs types into other
// nodes' client sessions.
var forgedCommand = []byte("*3\r\n$3\r\nSET\r\n$6\r\nforged\r\n$3\r\nyes\r\n")

// faultyOnCommit is what the node does with each committed entry: pass
// it to the network port, and, when faulty with forge-inputs, propose
// forgedCommand as the next bytes of every other node's client whose
// bytes just committed.
func faultyOnCommit(ctx context.Context, behaviour string, self consensus.NodeID, log consensus.Log, committed func(entry.Entry)) func(entry.Entry) {
	if behaviour != "forge-inputs" {
		return committed
	}
	return func(e entry.Entry) {
		committed(e)
		batch, ok := e.(entry.Inputs)
		if !ok {
			return
		}
		var forged entry.Inputs
		for _, in := range batch.Entries {
			if d, ok := in.(entry.ConnData); ok && d.Conn.Node != self {
				forged.Entries = append(forged.Entries, entry.ConnData{Conn: d.Conn, Offset: d.Offset + uint64(len(d.Data)), Data: forgedCommand})
			}
		}
		if len(forged.Entries) == 0 {
			return
		}
		forged.Time = batch.Time
		go func() {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			_ = log.Propose(pctx, entry.Encode(forged))
		}()
	}
}

// faultyClock is the clock whose times the node proposes: ten years ahead
// for a node faulty with future-clock.
func faultyClock(behaviour string) func() time.Time {
	if behaviour == "future-clock" {
		return func() time.Time { return time.Now().AddDate(10, 0, 0) }
	}
	return time.Now
}

// randomContributors is how many members contribute to each of the
// guest's random batches: f+1 in a Byzantine cluster, so that one at
// least is correct; in a crash-fault cluster one node proposes each.
func randomContributors(engine cluster.Engine, members int) uint64 {
	if engine != cluster.EngineBFT {
		return 0
	}
	return uint64(bft.Tolerated(members) + 1)
}

// faultyLog is the log as a node that is faulty in the given way uses it:
// with withhold-random, it commits to random batches and never reveals
// one; with wrong-state-hashes, every state hash it proposes is wrong;
// with flip-input-once, its first replica (firstRun) executes one client
// input with a byte flipped.
func faultyLog(behaviour string, log consensus.Log, firstRun bool) consensus.Log {
	switch behaviour {
	case "withhold-random", "wrong-state-hashes":
		return lyingLog{Log: log, behaviour: behaviour}
	case "flip-input-once":
		// A memory error strikes once: the replica the node starts
		// again with executes what the others do.
		if firstRun {
			return newFlippingLog(log)
		}
	}
	return log
}

type lyingLog struct {
	consensus.Log
	behaviour string
}

func (l lyingLog) Propose(ctx context.Context, data []byte) error {
	switch e, _ := entry.Decode(data); e := e.(type) {
	case entry.Random:
		if l.behaviour == "withhold-random" {
			return nil
		}
	case entry.StateHash:
		if l.behaviour == "wrong-state-hashes" {
			e.Hash[0] ^= 0xff
			data = entry.Encode(e)
		}
	}
	return l.Log.Propose(ctx, data)
}

// flippingLog delivers what its log delivers, with one byte of the first
// client input flipped, as a memory error on the way to the replica would.
type flippingLog struct {
	consensus.Log
	applies chan consensus.Apply
	stop    chan struct{}
	stopped sync.Once
}

func newFlippingLog(log consensus.Log) *flippingLog {
	l := &flippingLog{Log: log, applies: make(chan consensus.Apply), stop: make(chan struct{})}
	go l.forward()
	return l
}

func (l *flippingLog) Applies() <-chan consensus.Apply { return l.applies }

func (l *flippingLog) Stop() error {
	l.stopped.Do(func() { close(l.stop) })
	return l.Log.Stop()
}

func (l *flippingLog) forward() {
	defer close(l.applies)
	flipped := false
	for a := range l.Log.Applies() {
		if !flipped {
			a, flipped = flipFirstInput(a)
		}
		select {
		case l.applies <- a:
		case <-l.stop:
			return
		}
	}
}

// flipFirstInput returns a with the last byte before the line end of its
// first client input of three bytes or more flipped (in a key-value SET,
// a byte of the value), and whether it found one. The engine's own copy
// of the entry is left as it was.
func flipFirstInput(a consensus.Apply) (consensus.Apply, bool) {
	for i, e := range a.Entries {
		decoded, err := entry.Decode(e.Data)
		inputs, isInputs := decoded.(entry.Inputs)
		if err != nil || !isInputs {
			continue
		}
		for j, in := range inputs.Entries {
			d, isData := in.(entry.ConnData)
			if !isData || len(d.Data) < 3 {
				continue
			}
			d.Data = slices.Clone(d.Data)
			d.Data[len(d.Data)-3] ^= 0x01
			inputs.Entries = slices.Clone(inputs.Entries)
			inputs.Entries[j] = d
			a.Entries = slices.Clone(a.Entries)
			a.Entries[i].Data = entry.Encode(inputs)
			return a, true
		}
	}
	return a, false
}

// memberKeys are the public keys of a Byzantine cluster's members,
// expanded for checking certificates: what a disk server and a proxy,
// outside the cluster, check every output against.
func memberKeys(cfg *cluster.Config) (signing.Members, error) {
	public, err := bftnode.PublicKeys(cfg)
	if err != nil {
		return nil, err
	}
	return signing.ExpandMembers(public)
}
