package disk

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ExactlyOnce applies a write once: the same write sent again is answered
// with its first answer and not applied; the same seq naming another
// write is a conflict; a write older than the table keeps is forgotten.
func TestExactlyOnceAppliesAWriteOnce(t *testing.T) {
	e := NewExactlyOnce(Options{ResultsPerClient: maxBatch})
	applied := 0
	apply := func() (int, error) { applied++; return 5, nil }

	n, err := e.Write("c", 7, 0, []byte("hello"), apply)
	require.NoError(t, err)
	assert.Equal(t, 5, n)
	n, err = e.Write("c", 7, 0, []byte("hello"), apply)
	require.NoError(t, err)
	assert.Equal(t, 5, n, "a replay gets the first answer")
	assert.Equal(t, 1, applied, "and is not applied again")

	_, err = e.Write("c", 7, 0, []byte("other"), apply)
	var se *StatusError
	require.True(t, errors.As(err, &se))
	assert.Equal(t, StatusConflict, se.Status)

	for seq := uint64(8); seq < 8+maxBatch; seq++ {
		_, err := e.Write("c", seq, 0, []byte("hello"), apply)
		require.NoError(t, err)
	}
	_, err = e.Write("c", 6, 0, []byte("hello"), apply)
	require.True(t, errors.As(err, &se))
	assert.Equal(t, StatusForgotten, se.Status)
	assert.Equal(t, 1+maxBatch, applied)
}

// A write that fails on the image is answered, then and on a replay,
// with the image's error.
func TestExactlyOnceKeepsAFailedWritesAnswer(t *testing.T) {
	e := NewExactlyOnce(Options{})
	fail := func() (int, error) { return 0, errors.New("bad sector") }
	_, err := e.Write("c", 1, 0, []byte("x"), fail)
	var se *StatusError
	require.True(t, errors.As(err, &se))
	assert.Equal(t, StatusIOError, se.Status)
	_, err = e.Write("c", 1, 0, []byte("x"), func() (int, error) { t.Fatal("applied again"); return 0, nil })
	require.True(t, errors.As(err, &se))
	assert.Equal(t, StatusIOError, se.Status)
}
