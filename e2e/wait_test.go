package e2e

import (
	"testing"
	"time"
)

// pollEvery is how often waitFor checks its condition.
const pollEvery = 20 * time.Millisecond

// waitFor polls cond until it holds or timeout passes; then it fails the test with what was
// awaited and cond's last explanation.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	if !poll(timeout, cond) {
		_, why := cond()
		t.Fatalf("timed out after %v waiting for %s: %s", timeout, what, why)
	}
}

// poll checks cond every pollEvery until it holds (true) or timeout passes (false).
func poll(timeout time.Duration, cond func() (bool, string)) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		if ok, _ := cond(); ok {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
}
