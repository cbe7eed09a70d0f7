package replica

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The node's loop wakes every Tick while something moves or waits on the
// clock, and every IdleTick once it has been quiet, except to seal a
// sleeping guest thread's deadline.
func TestAQuietNodeSleepsLongerButNotPastASleepersDeadline(t *testing.T) {
	cfg := NodeConfig{Tick: 5 * time.Millisecond, IdleTick: 50 * time.Millisecond}
	now := time.Unix(1_700_000_000, 0)
	quiet := now.Add(-time.Second)
	in := func(d time.Duration) int64 { return now.Add(d).UnixNano() }
	for _, tc := range []struct {
		name   string
		moved  time.Time
		si     SealInfo
		booted bool
		want   time.Duration
	}{
		{"an entry taken or the guest run just now", now.Add(-time.Millisecond), SealInfo{}, true, cfg.Tick},
		{"quiet", quiet, SealInfo{}, true, cfg.IdleTick},
		{"quiet, but an entry waits for a seal", quiet, SealInfo{Unsealed: true}, true, cfg.Tick},
		{"quiet, but the guest has not booted", quiet, SealInfo{}, false, cfg.Tick},
		{"quiet, a sleeper due in 20 ms", quiet, SealInfo{Deadline: in(20 * time.Millisecond)}, true, 20 * time.Millisecond},
		{"quiet, a sleeper due in a second", quiet, SealInfo{Deadline: in(time.Second)}, true, cfg.IdleTick},
		{"quiet, a sleeper overdue", quiet, SealInfo{Deadline: in(-time.Millisecond)}, true, cfg.Tick},
		{"moving, a sleeper due in 1 ms", now, SealInfo{Deadline: in(time.Millisecond)}, true, cfg.Tick},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, cfg.sleep(now, tc.moved, tc.si, tc.booted))
		})
	}
}
