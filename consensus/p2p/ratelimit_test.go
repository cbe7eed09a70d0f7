package p2p

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLogLimiterOncePerIntervalPerSource(t *testing.T) {
	l := newLogLimiter(time.Hour)
	require.True(t, l.allow("a"))
	require.False(t, l.allow("a"))
	require.True(t, l.allow("b"), "sources are limited separately")

	l = newLogLimiter(0)
	require.True(t, l.allow("a"))
	require.True(t, l.allow("a"), "a zero interval logs everything")

	l = newLogLimiter(time.Hour)
	for i := range maxLogSources + 10 {
		l.allow(string(rune(i)))
	}
	require.LessOrEqual(t, len(l.last), maxLogSources)
}
