package bftnode

import (
	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/p2p"
)

// Two channels share the members' connections: the engine's messages and
// the output certifiers' signatures. The first byte of every message says
// which it is for, so neither ever sees the other's.
const (
	channelEngine  byte = 0
	channelOutputs byte = 1
)

// inboundBuffer is how many received messages of one channel wait for
// their reader before the transport's reader waits too.
const inboundBuffer = 256

// channels splits one transport into the engine's and the certifiers'.
type channels struct {
	net     *p2p.Transport
	engine  chan consensus.Inbound
	outputs chan consensus.Inbound
}

func newChannels(net *p2p.Transport) *channels {
	c := &channels{net: net, engine: make(chan consensus.Inbound, inboundBuffer), outputs: make(chan consensus.Inbound, inboundBuffer)}
	go c.split()
	return c
}

// split hands each received message to its channel, without its first
// byte, and drops one that names no channel: only a faulty member sends
// it.
func (c *channels) split() {
	defer close(c.engine)
	defer close(c.outputs)
	for in := range c.net.Inbound() {
		if len(in.Data) == 0 {
			release(in)
			continue
		}
		channel := in.Data[0]
		in.Data = in.Data[1:]
		switch channel {
		case channelEngine:
			c.engine <- in
		case channelOutputs:
			select {
			case c.outputs <- in:
			default: // the certifier is behind; it asks again for what it misses
				release(in)
			}
		default:
			release(in)
		}
	}
}

func release(in consensus.Inbound) {
	if in.Release != nil {
		in.Release()
	}
}

func tagged(channel byte, msg []byte) []byte {
	return append([]byte{channel}, msg...)
}

// engineTransport is the transport as the engine sees it.
type engineTransport struct{ *channels }

func (t engineTransport) Send(to consensus.NodeID, msg []byte) error {
	return t.net.Send(to, tagged(channelEngine, msg))
}

func (t engineTransport) SendSnapshot(to consensus.NodeID, head, body []byte) error {
	return t.net.SendSnapshot(to, tagged(channelEngine, head), body)
}

func (t engineTransport) SnapshotsSent() <-chan consensus.SnapshotSent { return t.net.SnapshotsSent() }
func (t engineTransport) Inbound() <-chan consensus.Inbound            { return t.engine }
func (t engineTransport) Close() error                                 { return t.net.Close() }
