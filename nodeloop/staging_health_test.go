package nodeloop

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/mms-io/mms/gate"
	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/rollout"
)

// TestAHealthyChangeIsCheckedAgainOnlyWithCheckHealthy: once healthy, a change's health is
// not asked again (mms agent's health_command ran every second for ever before), unless the
// host says a healthy machine may still fail (Choria's failed_states), when it is asked every
// second on.
func TestAHealthyChangeIsCheckedAgainOnlyWithCheckHealthy(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	g, err := gate.Ensure(ctx, f.js, gate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := rollout.ParsePolicy([]byte(`{"waves":["100%"],"bake":"1s","healthy_deadline":"1m"}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, checkHealthy := range []bool{false, true} {
		var mu sync.Mutex
		now, asked := time.Now(), 0
		s := &Staging{Identity: "node-1", CheckHealthy: checkHealthy, Poll: time.Minute, Logger: slog.New(slog.DiscardHandler),
			Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
			Health: func(context.Context, string, rollout.Policy, time.Time) (Health, string) {
				mu.Lock()
				defer mu.Unlock()
				asked++
				return HealthGood, "fine"
			}}
		s.SetGate(g, "")
		e := f.entry("web", "checked-"+map[bool]string{false: "once", true: "on"}[checkHealthy])
		e.Rollout = &p
		if ok, why := s.Admit(e, ""); !ok {
			t.Fatalf("the only wave is not admitted: %s", why)
		}
		s.Observe(Outcome{Report: &machines.Report{Results: []machines.Result{{Name: e.Name, Checksum: e.Checksum, Action: machines.ActionInstall}}}})
		s.Step(ctx)
		if st := s.Status(e.Name, e.Checksum); st == nil || st.Phase != PhaseHealthy || asked != 1 {
			t.Fatalf("after the first look: %+v, health asked %d times", st, asked)
		}
		for range 3 {
			mu.Lock()
			now = now.Add(10 * time.Second)
			mu.Unlock()
			s.Step(ctx)
		}
		want, wantNext := 1, time.Minute
		if checkHealthy {
			want, wantNext = 4, healthEvery
		}
		if asked != want {
			t.Errorf("CheckHealthy %v: health asked %d times over three looks 10s apart, want %d", checkHealthy, asked, want)
		}
		if next := s.nextLook(); next != wantNext {
			t.Errorf("CheckHealthy %v: the next look is in %s, want %s", checkHealthy, next, wantNext)
		}
	}
}
