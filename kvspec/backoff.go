package kvspec

import (
	"math/rand/v2"
	"time"
)

// backoff returns the wait before retry number attempt (0 first): min doubled per attempt,
// capped at max, then jittered to a random duration between half of it and all of it, so that
// a fleet does not retry in lock step.
func backoff(attempt int, min, max time.Duration) time.Duration {
	d := min
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(d-half+1)
}
