package p2p

import (
	"math/rand/v2"
	"time"
)

// backoff spaces out redials of one peer: the delay doubles from min up to
// max after every failure, and each wait is drawn from [d/2, d) so that
// nodes restarted together do not redial each other in lockstep.
type backoff struct {
	min, max time.Duration
	cur      time.Duration
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	half := b.cur / 2
	return half + rand.N(b.cur-half)
}

// reset starts over after a success.
func (b *backoff) reset() { b.cur = 0 }
