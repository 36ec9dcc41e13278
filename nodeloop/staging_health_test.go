package nodeloop

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mms-io/mms/gate"
	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/rollout"
	"github.com/mms-io/mms/machines/spec"
)

// healthProbe is a node's staging controller on a clock the test moves, with a health check
// that is always good and counts how often it is asked.
type healthProbe struct {
	*Staging
	mu    sync.Mutex
	now   time.Time
	asked int
	fails bool // the machine entered a failed state
}

func newHealthProbe(t *testing.T, g GateStore, checkHealthy bool) *healthProbe {
	t.Helper()
	h := &healthProbe{now: time.Now()}
	h.Staging = &Staging{Identity: "node-1", CheckHealthy: checkHealthy, Poll: time.Hour, Logger: slog.New(slog.DiscardHandler),
		Now: func() time.Time { h.mu.Lock(); defer h.mu.Unlock(); return h.now },
		Health: func(context.Context, string, rollout.Policy, time.Time) (Health, string) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.asked++
			if h.fails {
				return HealthBad, "entered state FAILED"
			}
			return HealthGood, "fine"
		}}
	h.SetGate(g, "")
	return h
}

// install has the node take e, in the first wave, and look once: it is found healthy.
func (h *healthProbe) install(t *testing.T, e spec.Entry) {
	t.Helper()
	if ok, why := h.Admit(e, ""); !ok {
		t.Fatalf("the first wave is not admitted: %s", why)
	}
	h.Observe(Outcome{Report: &machines.Report{Results: []machines.Result{{Name: e.Name, Checksum: e.Checksum, Action: machines.ActionInstall}}}})
	h.Step(context.Background())
	if st := h.Status(e.Name, e.Checksum); st == nil || st.Phase != PhaseHealthy || h.times() != 1 {
		t.Fatalf("after the first look: %+v, health asked %d times", st, h.times())
	}
}

// after moves the clock on by d and looks.
func (h *healthProbe) after(d time.Duration) {
	h.mu.Lock()
	h.now = h.now.Add(d)
	h.mu.Unlock()
	h.Step(context.Background())
}

// fail has the machine enter a failed state.
func (h *healthProbe) fail() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fails = true
}

// expect checks that the health was asked asked times so far, and that the next look is in
// next.
func (h *healthProbe) expect(t *testing.T, when string, asked int, next time.Duration) {
	t.Helper()
	if h.times() != asked {
		t.Errorf("%s: health asked %d times, want %d", when, h.times(), asked)
	}
	if got := h.nextLook(); got != next {
		t.Errorf("%s: the next look is in %s, want %s", when, got, next)
	}
}

func (h *healthProbe) times() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.asked
}

// TestAHealthyChangeIsCheckedAgainOnlyWhileTheRolloutIsOn: once healthy, a change's health is
// not asked again (mms agent's health_command ran every second for as long as the change was
// the newest), unless the host says a healthy machine may still fail (Choria's
// failed_states). Then it is asked every second until the bake has passed since it was found
// healthy and since the last wave opened: a Choria machine failing weeks after a finished
// rollout took its change back and, past the budget, halted it and took it back fleet-wide.
func TestAHealthyChangeIsCheckedAgainOnlyWhileTheRolloutIsOn(t *testing.T) {
	f := newFixture(t)
	g := f.rolloutGate()
	p, err := rollout.ParsePolicy([]byte(`{"waves":["50%","100%"],"bake":"1m","healthy_deadline":"1h"}`))
	if err != nil {
		t.Fatal(err)
	}
	entry := func(text string) spec.Entry {
		e, _ := f.stagedEntryWhere("web", text, &p, []string{"node-1"}, func(byWave [][]string) bool { return len(byWave[0]) == 1 })
		return e
	}

	t.Run("without CheckHealthy, once", func(t *testing.T) {
		h := newHealthProbe(t, g, false)
		h.install(t, entry("once"))
		for range 3 {
			h.after(10 * time.Second)
		}
		h.expect(t, "three looks 10s apart", 1, time.Hour)
	})

	t.Run("with CheckHealthy, for the bake since it was healthy", func(t *testing.T) {
		h := newHealthProbe(t, g, true)
		h.install(t, entry("bake"))
		for range 3 {
			h.after(10 * time.Second)
		}
		h.expect(t, "within the bake", 4, healthEvery)
		h.after(31 * time.Second)
		h.after(time.Hour)
		h.expect(t, "once the bake passed", 4, time.Hour)
	})

	t.Run("with CheckHealthy, a failure within the bake is unhealthy, one after it nothing", func(t *testing.T) {
		within, past := newHealthProbe(t, g, true), newHealthProbe(t, g, true)
		ew, ep := entry("fails-within"), entry("fails-past")
		within.install(t, ew)
		past.install(t, ep)
		within.after(30 * time.Second)
		past.after(61 * time.Second)
		within.fail()
		past.fail()
		within.after(time.Second)
		past.after(time.Second)
		if st := within.Status(ew.Name, ew.Checksum); st.Phase != PhaseUnhealthy {
			t.Errorf("failed within the bake: %+v, want unhealthy", st)
		}
		if st := past.Status(ep.Name, ep.Checksum); st.Phase != PhaseHealthy {
			t.Errorf("failed after the bake: %+v, want healthy still (nothing taken back)", st)
		}
		if revert, why := past.Revert(ep); revert {
			t.Errorf("a machine failing after the bake is taken back: %s", why)
		}
	})

	t.Run("with CheckHealthy, on until the last wave has opened for the bake", func(t *testing.T) {
		h := newHealthProbe(t, g, true)
		e := entry("last-wave")
		h.install(t, e)
		h.mu.Lock()
		opens := h.now.Add(2 * time.Minute)
		h.mu.Unlock()
		h.event(gate.Event{Change: gate.ChangeID(e.Name, e.Checksum), Action: gate.ActionReady, Wave: 2, At: opens})
		h.after(2 * time.Minute) // past its own bake, not past the last wave's
		h.after(50 * time.Second)
		h.expect(t, "before the last wave's bake passed", 3, healthEvery)
		h.after(11 * time.Second)
		h.after(time.Hour)
		h.expect(t, "once the last wave opened a bake ago", 3, time.Hour)
	})
}

// TestAHintDoesNotOpenAWaveOverAPauseWrittenBeforeTheWatch: a node that never read the gate
// since it started (a restart during a paused rollout, whose watch hears only what is written
// after it starts) reads it when a ready hint for its wave comes, rather than opening on the
// hint when the wave's moment comes: the pause written before is in force. Before, the hint
// opened the wave over it.
func TestAHintDoesNotOpenAWaveOverAPauseWrittenBeforeTheWatch(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	g := f.rolloutGate()
	p, err := rollout.ParsePolicy([]byte(`{"waves":["50%","100%"],"bake":"1s","healthy_deadline":"1h"}`))
	if err != nil {
		t.Fatal(err)
	}
	e, _ := f.stagedEntryWhere("web", "paused", &p, []string{"node-1"}, func(byWave [][]string) bool { return len(byWave[1]) == 1 })
	id := gate.ChangeID(e.Name, e.Checksum)
	if err := g.Put(ctx, gate.Control{Action: gate.ActionPause, Change: id, Entry: e.Name, By: "ops", Reason: "looking into it"}, nil); err != nil {
		t.Fatal(err)
	}
	h := newHealthProbe(t, g, false)
	if ok, why := h.Admit(e, ""); ok {
		t.Fatal("the second wave was admitted at first sight")
	} else if !strings.Contains(why, "waits for the earlier waves") {
		t.Fatalf("at first sight: %s", why)
	}
	h.mu.Lock()
	at := h.now.Add(time.Minute) // the earlier wave completed; it bakes a minute
	h.mu.Unlock()
	h.event(gate.Event{Change: id, Action: gate.ActionReady, Wave: 2, At: at})
	h.Step(ctx)
	// Read as the hint came, a bake before the wave opens, not in the same instant as the
	// rest of the wave.
	if st := h.Status(e.Name, e.Checksum); !strings.Contains(st.Reason, "paused by ops") {
		t.Fatalf("as the hint came: %+v, want the pause read", st)
	}
	h.after(time.Minute)
	if ok, why := h.Admit(e, ""); ok {
		t.Fatal("a ready hint opened the wave over the pause written before the node watched")
	} else if !strings.Contains(why, "paused by ops") {
		t.Fatalf("after the hint: %s, want the pause", why)
	}
}
