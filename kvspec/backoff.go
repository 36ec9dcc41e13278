package kvspec

import (
	"time"

	jitter "github.com/mms-io/mms/internal/backoff"
)

// backoff returns the wait before retry number attempt (0 first): min doubled per attempt,
// capped at max, and jittered so that a fleet does not retry in lock step.
func backoff(attempt int, min, max time.Duration) time.Duration {
	return jitter.Jittered(attempt, min, max)
}
