package replica

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/machine/linux"
)

func TestStdinIsEmptyUnlessTheConsoleFeedsIt(t *testing.T) {
	w := testWorld(t)
	b, errno := w.Read(linux.Stdin, 10)
	assert.Zero(t, errno)
	assert.Empty(t, b, "end of file at once")
	w.deliver(0, entry.ConsoleIn{Node: 1, Data: []byte("ignored")})
	b, _ = w.Read(linux.Stdin, 10)
	assert.Empty(t, b)
}

// Every node proposes what it read from the console; the first copy of
// each byte counts, a hole waits for the bytes before it, and the end
// of input comes after the last byte.
func TestStdinTakesEachByteOnce(t *testing.T) {
	w := newWorld(entry.Boot{Members: []consensus.NodeID{1, 2, 3}, ConsoleInput: true}, nil)
	w.drain()
	_, errno := w.Read(linux.Stdin, 10)
	require.Equal(t, linux.EAGAIN, errno, "waits for input")
	assert.Zero(t, w.poll(linux.Stdin)&linux.PollIn)

	w.deliver(0, entry.ConsoleIn{Node: 2, Offset: 0, Data: []byte("ab")})
	w.deliver(0, entry.ConsoleIn{Node: 3, Offset: 0, Data: []byte("abc")})
	w.deliver(0, entry.ConsoleIn{Node: 1, Offset: 9, Data: []byte("late"), EOF: true})
	assert.NotZero(t, w.poll(linux.Stdin)&linux.PollIn)
	b, errno := w.Read(linux.Stdin, 10)
	require.Zero(t, errno)
	assert.Equal(t, "abc", string(b))
	_, errno = w.Read(linux.Stdin, 10)
	require.Equal(t, linux.EAGAIN, errno, "the hole at 3 is not the end")

	w.deliver(0, entry.ConsoleIn{Node: 1, Offset: 3, Data: []byte("d\n"), EOF: true})
	enc := w.encode()
	w, err := decodeWorld(enc)
	require.NoError(t, err)
	b, _ = w.Read(linux.Stdin, 10)
	assert.Equal(t, "d\n", string(b))
	b, errno = w.Read(linux.Stdin, 10)
	assert.Zero(t, errno)
	assert.Empty(t, b, "then end of file")
	next, eof := (&Replica{world: w}).ConsoleInputNext()
	assert.Equal(t, uint64(5), next)
	assert.True(t, eof)
}
