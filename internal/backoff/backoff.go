// Package backoff computes the jittered exponential waits mms uses wherever something is
// retried (downloads, KV watches, failed entries across reconciles), so that a fleet whose
// nodes failed together does not retry together.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Jittered returns the wait before retry number n (0 for the first): min doubled n times,
// capped at max, then drawn at random between half of it and all of it.
func Jittered(n int, min, max time.Duration) time.Duration {
	d := min
	for i := 0; i < n && d < max; i++ {
		d *= 2
	}
	d = minDuration(d, max)
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(d-half+1)
}

func minDuration(a, b time.Duration) time.Duration {
	if a < b {
		return a
	}
	return b
}
