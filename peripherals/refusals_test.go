package peripherals

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A flood of refusals costs a line per reason and interval, with the count.
func TestRefusalsAreLoggedAtABoundedRate(t *testing.T) {
	var out bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&out, nil))
	var r refusals
	start := time.Unix(1_000_000, 0)
	for i := range 1000 {
		r.note(logger, "the guest's listen queue is full", start.Add(time.Duration(i)*time.Millisecond))
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 1, "the first refusal is logged at once, the rest wait")
	require.Contains(t, lines[0], `msg="client connections refused" count=1 reason="the guest's listen queue is full"`)

	r.flush(logger, start.Add(time.Second))
	require.Len(t, strings.Split(strings.TrimSpace(out.String()), "\n"), 1, "too early for another line")
	r.flush(logger, start.Add(refusalLogEvery))
	lines = strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 2)
	require.Contains(t, lines[1], "count=999")
	r.flush(logger, start.Add(3*refusalLogEvery))
	require.Len(t, strings.Split(strings.TrimSpace(out.String()), "\n"), 2, "nothing pending, nothing logged")
}
