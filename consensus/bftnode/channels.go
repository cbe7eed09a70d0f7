package bftnode

import (
	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/p2p"
)

// Two channels share the members' connections: the engine's messages and
// the output certifiers' signatures. The transport marks each message
// with its channel (p2p.Options.Channels), so neither ever sees the
// other's.
const (
	channelEngine  byte = 0
	channelOutputs byte = 1
)

// inboundBuffer is how many received messages of one channel wait for
// their reader before the transport's reader waits too.
const inboundBuffer = 256

// transportChannels are the channels of the members' transport: the
// certifier's drops what finds its reader behind, since the certifier
// asks again for what it misses.
var transportChannels = []p2p.ChannelOptions{
	channelEngine:  {Buffer: inboundBuffer},
	channelOutputs: {Buffer: inboundBuffer, Lossy: true},
}

// engineTransport is the transport as the engine sees it.
type engineTransport struct{ net *p2p.Transport }

func (t engineTransport) Send(to consensus.NodeID, msg []byte) error {
	return t.net.SendOn(to, channelEngine, msg)
}

// SendSnapshot marks the head with the engine's channel in a copy: a
// snapshot is rare, and its head small.
func (t engineTransport) SendSnapshot(to consensus.NodeID, head, body []byte) error {
	return t.net.SendSnapshot(to, append([]byte{channelEngine}, head...), body)
}

func (t engineTransport) SnapshotsSent() <-chan consensus.SnapshotSent { return t.net.SnapshotsSent() }
func (t engineTransport) Inbound() <-chan consensus.Inbound            { return t.net.Channel(channelEngine) }
func (t engineTransport) Close() error                                 { return t.net.Close() }
