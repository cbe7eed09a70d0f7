package p2p

import (
	"sync"
	"time"
)

// logLimiter lets a refusal be logged once per interval per source (peer
// id or remote address), so a stranger that redials every second, or a
// port scanner, cannot flood the log; the metrics still count every one.
type logLimiter struct {
	interval time.Duration
	mu       sync.Mutex
	last     map[string]time.Time
}

// maxLogSources bounds the memory of the limiter: past it the memory is
// forgotten, which at worst logs a source again early.
const maxLogSources = 1024

func newLogLimiter(interval time.Duration) *logLimiter {
	return &logLimiter{interval: interval, last: map[string]time.Time{}}
}

func (l *logLimiter) allow(source string) bool {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.last[source]; ok && now.Sub(t) < l.interval {
		return false
	}
	if len(l.last) >= maxLogSources {
		clear(l.last)
	}
	l.last[source] = now
	return true
}
