package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A line written in parts shows whole, the last one without its newline
// shows too, and a line longer than maxGuestStderrLine shows in marked
// parts instead of being held without end.
func TestGuestStderrShowsWholeMarkedLines(t *testing.T) {
	var shown syncBuffer
	g := newGuestStderr(&shown)
	w, err := g.pipe()
	require.NoError(t, err)
	long := strings.Repeat("x", maxGuestStderrLine+10)
	for _, part := range []string{"written ", "in parts\n", long + "\n", "no newline"} {
		_, err := w.WriteString(part)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	g.wait()

	want := guestStderrMark + "written in parts\n" +
		guestStderrMark + long[:maxGuestStderrLine] + "\n" +
		guestStderrMark + long[maxGuestStderrLine:] + "\n" +
		guestStderrMark + "no newline\n"
	require.Equal(t, want, shown.String())
}
