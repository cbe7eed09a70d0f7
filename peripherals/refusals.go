package peripherals

import (
	"log/slog"
	"time"
)

// refusalLogEvery bounds how often refused connections are logged: a
// flood of them (a thousand clients at once, a client retrying in a loop)
// costs one line per reason in each interval, with the count.
const refusalLogEvery = 5 * time.Second

// refusals counts the client connections a node hung up on without
// serving them, by reason, for the log.
type refusals struct {
	pending map[string]int // since the last line, by reason
	logged  time.Time
}

// note counts one refusal at now, and logs the pending counts when the
// last line is old enough.
func (r *refusals) note(logger *slog.Logger, reason string, now time.Time) {
	if r.pending == nil {
		r.pending = map[string]int{}
	}
	r.pending[reason]++
	r.flush(logger, now)
}

// flush logs the pending counts unless a line went out less than
// refusalLogEvery before now.
func (r *refusals) flush(logger *slog.Logger, now time.Time) {
	if len(r.pending) == 0 || now.Sub(r.logged) < refusalLogEvery {
		return
	}
	for reason, count := range r.pending {
		logger.Warn("client connections refused", "count", count, "reason", reason)
	}
	clear(r.pending)
	r.logged = now
}
