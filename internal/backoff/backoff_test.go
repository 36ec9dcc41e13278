package backoff

import (
	"testing"
	"time"
)

func TestJittered(t *testing.T) {
	for _, tc := range []struct {
		n        int
		min, max time.Duration
		low      time.Duration
		high     time.Duration
	}{
		{0, time.Second, time.Minute, 500 * time.Millisecond, time.Second},
		{1, time.Second, time.Minute, time.Second, 2 * time.Second},
		{3, time.Second, time.Minute, 4 * time.Second, 8 * time.Second},
		{10, time.Second, time.Minute, 30 * time.Second, time.Minute},
		{1000, time.Second, time.Minute, 30 * time.Second, time.Minute},
		{2, time.Minute, time.Second, 500 * time.Millisecond, time.Second},
	} {
		for range 200 {
			if d := Jittered(tc.n, tc.min, tc.max); d < tc.low || d > tc.high {
				t.Fatalf("Jittered(%d, %v, %v) = %v, want within [%v, %v]", tc.n, tc.min, tc.max, d, tc.low, tc.high)
			}
		}
	}
	seen := map[time.Duration]bool{}
	for range 50 {
		seen[Jittered(4, time.Second, time.Hour)] = true
	}
	if len(seen) < 10 {
		t.Fatalf("50 waits took only %d values: not jittered", len(seen))
	}
}
