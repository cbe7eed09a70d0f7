package main

import (
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/synodvm/synod/consensus"
)

// What a node faulty on the wire does to the engine's messages
// (`synod node --faulty silent|slow|garbage|replay`). Each is bounded:
// a faulty node must cost its peers work, not the test machine's memory.
const (
	// slowDelay is how late a slow node sends each message: longer than
	// the engine's request timeout makes a slow primary one to replace.
	slowDelay = 300 * time.Millisecond
	// slowBacklog bounds the messages a slow node holds; beyond it they
	// are dropped, as a congested link would.
	slowBacklog = 4096
	// garbagePerMessage is how many garbage messages a flooding node sends
	// with each real one, and garbageMaxBytes the largest.
	garbagePerMessage = 8
	garbageMaxBytes   = 4096
	// replayedMessages is how many of its past messages a replaying node
	// keeps to send again.
	replayedMessages = 256
)

var errSilent = errors.New("a silent node sends nothing")

// faultyWire returns, for a behaviour that misbehaves on the wire, what
// the engine's transport becomes; nil for the others.
func faultyWire(behaviour string) func(consensus.Transport) consensus.Transport {
	switch behaviour {
	case "silent":
		return func(t consensus.Transport) consensus.Transport { return silentWire{t} }
	case "slow":
		return newSlowWire
	case "garbage":
		return func(t consensus.Transport) consensus.Transport { return garbageWire{t} }
	case "replay":
		return func(t consensus.Transport) consensus.Transport { return &replayWire{Transport: t} }
	}
	return nil
}

// silentWire receives everything and sends nothing: to its peers the node
// is a member that stopped, though its connections stay up.
type silentWire struct{ consensus.Transport }

func (silentWire) Send(consensus.NodeID, []byte) error { return nil }
func (silentWire) SendSnapshot(consensus.NodeID, []byte, []byte) error {
	return errSilent
}

// slowWire sends every message slowDelay late, in order.
type slowWire struct {
	consensus.Transport
	queue chan delayed
}

type delayed struct {
	due time.Time
	to  consensus.NodeID
	msg []byte
}

func newSlowWire(t consensus.Transport) consensus.Transport {
	w := &slowWire{Transport: t, queue: make(chan delayed, slowBacklog)}
	go w.send()
	return w
}

func (w *slowWire) Send(to consensus.NodeID, msg []byte) error {
	select {
	case w.queue <- delayed{due: time.Now().Add(slowDelay), to: to, msg: msg}:
	default:
	}
	return nil
}

// send runs until the process ends: a faulty node is a test's, and stops
// with it.
func (w *slowWire) send() {
	for d := range w.queue {
		time.Sleep(time.Until(d.due))
		_ = w.Transport.Send(d.to, d.msg)
	}
}

// garbageWire sends every message, and with it a flood of random bytes and
// of truncated copies of it.
type garbageWire struct{ consensus.Transport }

func (w garbageWire) Send(to consensus.NodeID, msg []byte) error {
	for i := range garbagePerMessage {
		var junk []byte
		if i%2 == 0 && len(msg) > 1 {
			junk = append([]byte(nil), msg[:rand.IntN(len(msg)-1)+1]...)
		} else {
			junk = make([]byte, rand.IntN(garbageMaxBytes)+1)
			for j := range junk {
				junk[j] = byte(rand.Uint32())
			}
		}
		_ = w.Transport.Send(to, junk)
	}
	return w.Transport.Send(to, msg)
}

// replayWire sends every message, and with it one of its past messages,
// signed and genuine but old, to a peer chosen at random among those it
// has sent to.
type replayWire struct {
	consensus.Transport
	mu   sync.Mutex
	past []sent
}

type sent struct {
	to  consensus.NodeID
	msg []byte
}

func (w *replayWire) Send(to consensus.NodeID, msg []byte) error {
	w.mu.Lock()
	var again sent
	if len(w.past) > 0 {
		again = w.past[rand.IntN(len(w.past))]
		again.to = w.past[rand.IntN(len(w.past))].to
	}
	if len(w.past) < replayedMessages {
		w.past = append(w.past, sent{to: to, msg: append([]byte(nil), msg...)})
	} else {
		w.past[rand.IntN(replayedMessages)] = sent{to: to, msg: append([]byte(nil), msg...)}
	}
	w.mu.Unlock()
	if again.msg != nil {
		_ = w.Transport.Send(again.to, append([]byte(nil), again.msg...))
	}
	return w.Transport.Send(to, msg)
}
