package p2p

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
)

func TestRequestGetsTheAnswer(t *testing.T) {
	c := newTestCluster(t, 2)
	asker, answerer := start(t, c, 1, nil), start(t, c, 2, nil)
	big := bytes.Repeat([]byte("state "), 1<<20) // answers may be snapshot-sized
	answerer.HandleRequests(func(_ context.Context, from consensus.NodeID, req []byte) ([]byte, error) {
		switch string(req) {
		case "big":
			return big, nil
		case "who":
			return []byte(nodeLabel(from)), nil
		}
		return nil, errors.New("no such thing")
	})
	waitConnected(t, asker, 2)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()

	got, err := asker.Request(ctx, 2, []byte("who"))
	require.NoError(t, err)
	require.Equal(t, "1", string(got), "the answerer knows who asks")
	got, err = asker.Request(ctx, 2, []byte("big"))
	require.NoError(t, err)
	require.Equal(t, big, got)

	_, err = asker.Request(ctx, 2, []byte("else"))
	require.ErrorIs(t, err, ErrRefused)
	require.ErrorContains(t, err, "no such thing")
	_, err = answerer.Request(ctx, 1, []byte("who"))
	require.Error(t, err, "a node that serves no requests refuses them")
	_, err = asker.Request(ctx, 3, nil)
	require.ErrorIs(t, err, ErrUnknownPeer)
	_, err = asker.Request(ctx, 2, make([]byte, maxRequestSize+1))
	require.ErrorIs(t, err, ErrMessageTooLarge)
}

func TestRequestToAStrangerIsRefused(t *testing.T) {
	full := newTestCluster(t, 3)
	members := withoutNode(t, full, 3)
	answerer := start(t, members, 1, nil)
	answerer.HandleRequests(func(context.Context, consensus.NodeID, []byte) ([]byte, error) { return []byte("secret"), nil })
	stranger := start(t, full, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	_, err := stranger.Request(ctx, 1, []byte("anything"))
	require.Error(t, err, "the gater refuses a node outside the config")
}
