package rollout

import (
	"strings"
	"testing"
	"time"
)

func TestJudge(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	bake := time.Minute
	gate := func(wave int) Gate {
		return Gate{Wave: wave, Bake: bake, Budget: Budget{Count: 1}, Quiet: 3 * time.Minute, Seen: t0}
	}
	healthyAt := func(at time.Time, n int64) WaveCount {
		return WaveCount{Members: n, Took: n, Healthy: n, Changed: at, HealthChanged: at}
	}
	pause := &Note{By: "ops", Reason: "looking", At: t0.Add(time.Second)}
	for _, c := range []struct {
		name     string
		g        Gate
		t        Tally
		c        Controls
		now      time.Time
		open     bool
		halted   bool
		paused   bool
		contains string
	}{
		{"the first wave opens at once", gate(0), nil, Controls{}, t0, true, false, false, "first wave"},
		{"a later wave waits for the earlier ones to register", gate(1), nil, Controls{}, t0.Add(time.Second), false, false, false, "register"},
		{"empty earlier waves pass after the grace", gate(2), nil, Controls{}, t0.Add(RegistrationGrace), true, false, false, "empty"},
		{"a member not yet healthy holds the next wave", gate(1), Tally{{Members: 2, Took: 2, Healthy: 1, Changed: t0, HealthChanged: t0}}, Controls{}, t0.Add(2 * bake), false, false, false, "1 of its 2"},
		{"a member silent past the quiet time is not waited on", gate(1), Tally{{Members: 2, Took: 1, Healthy: 1, Changed: t0, HealthChanged: t0}}, Controls{}, t0.Add(3 * time.Minute), true, false, false, "baked"},
		{"healthy but not baked", gate(1), Tally{healthyAt(t0, 3)}, Controls{}, t0.Add(bake - time.Millisecond), false, false, false, "bake"},
		{"healthy and baked", gate(1), Tally{healthyAt(t0, 3)}, Controls{}, t0.Add(bake), true, false, false, "baked"},
		{"the bake counts from the last health report of every earlier wave", gate(2), Tally{healthyAt(t0, 1), healthyAt(t0.Add(30*time.Second), 5)}, Controls{}, t0.Add(bake), false, false, false, "bake"},
		{"unhealthy within budget lets it go on", gate(1), Tally{{Members: 3, Took: 3, Healthy: 2, Unhealthy: 1, Changed: t0, HealthChanged: t0}}, Controls{}, t0.Add(bake), true, false, false, ""},
		{"past the budget it halts", gate(1), Tally{{Members: 3, Took: 3, Healthy: 1, Unhealthy: 2, Changed: t0, HealthChanged: t0}}, Controls{}, t0.Add(bake), false, true, false, "2 of the 3"},
		{"a halt stays, whatever the counts", gate(0), Tally{healthyAt(t0, 3)}, Controls{Halted: &Note{Reason: "budget"}}, t0, false, true, false, "budget"},
		{"a pause stops even a baked wave", gate(1), Tally{healthyAt(t0, 3)}, Controls{Paused: pause}, t0.Add(bake), false, false, true, "paused by ops"},
		{"a pause stops the first wave too", gate(0), nil, Controls{Paused: pause}, t0, false, false, true, "paused"},
		{"a resume older than the pause does not lift it", gate(1), Tally{healthyAt(t0, 3)}, Controls{Paused: pause, Resumed: &Note{At: t0}}, t0.Add(bake), false, false, true, "paused"},
		{"a later resume lifts it", gate(1), Tally{healthyAt(t0, 3)}, Controls{Paused: pause, Resumed: &Note{At: t0.Add(2 * time.Second)}}, t0.Add(bake), true, false, false, ""},
		{"a promotion opens a wave before its bake", gate(1), Tally{healthyAt(t0, 3)}, Controls{PromotedTo: 2}, t0, true, false, false, "promoted"},
		{"a promotion does not open the waves after it", gate(2), Tally{healthyAt(t0, 3), healthyAt(t0, 3)}, Controls{PromotedTo: 2}, t0, false, false, false, "bake"},
		{"a promotion does not lift a halt", gate(1), nil, Controls{PromotedTo: 4, Halted: &Note{Reason: "budget"}}, t0, false, true, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := c.g.Judge(c.t, c.c, c.now)
			if v.Open != c.open || v.Halted != c.halted || v.Paused != c.paused {
				t.Fatalf("verdict %+v; want open %v, halted %v, paused %v", v, c.open, c.halted, c.paused)
			}
			if !strings.Contains(v.Reason, c.contains) {
				t.Fatalf("reason %q does not say %q", v.Reason, c.contains)
			}
		})
	}
	// A node waiting on silent members learns when they will be taken for offline, and reads
	// the gate again then rather than at its next poll.
	silent := Tally{{Members: 2, Took: 1, Healthy: 1, Changed: t0, HealthChanged: t0}}
	v := gate(1).Judge(silent, Controls{}, t0.Add(time.Minute))
	if v.Open || !v.Until.Equal(t0.Add(3*time.Minute)) {
		t.Fatalf("waiting on a silent member: %+v, want until the quiet time has passed since its wave last changed", v)
	}
	if v := gate(1).Judge(silent, Controls{}, v.Until); !v.Open {
		t.Fatalf("at that moment: %+v, want open", v)
	}
}

func TestTallyTotal(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tally := Tally{{Members: 1, Took: 1, Healthy: 1, Changed: t0}, {Members: 4, Took: 3, Unhealthy: 2, Reverted: 2, Changed: t0.Add(time.Second), HealthChanged: t0}}
	got := tally.Total()
	want := WaveCount{Members: 5, Took: 4, Healthy: 1, Unhealthy: 2, Reverted: 2, Changed: t0.Add(time.Second), HealthChanged: t0}
	if got != want {
		t.Fatalf("Total = %+v, want %+v", got, want)
	}
	if (tally.Wave(5) != WaveCount{}) || (tally.Wave(-1) != WaveCount{}) {
		t.Fatal("a wave nobody reported in is not zero")
	}
}
