// Package testwait waits in tests for something observable to happen, polling with a deadline
// instead of sleeping a guessed time.
package testwait

import (
	"testing"
	"time"
)

// Tick is how often Eventually polls.
const Tick = 10 * time.Millisecond

// Eventually polls cond every Tick until it holds, failing the test when d has passed.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(Tick)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		<-tick.C
	}
}
