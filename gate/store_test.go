package gate

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mms-io/mms/internal/testnats"
)

func openGate(t testing.TB) (*Store, jetstream.JetStream) {
	t.Helper()
	srv := testnats.Start(t)
	_, js := testnats.Connect(t, srv.ClientURL())
	g, err := Ensure(context.Background(), js, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return g, js
}

func TestCountersAddUpByWaveInOneRead(t *testing.T) {
	ctx := context.Background()
	g, js := openGate(t)
	change, other := ChangeID("web", strings.Repeat("a", 64)), ChangeID("web", strings.Repeat("b", 64))
	if change == other || change == ChangeID("db", strings.Repeat("a", 64)) {
		t.Fatal("two changes share an ID")
	}
	if tally, err := g.Tally(ctx, change); err != nil || len(tally) != 0 {
		t.Fatalf("a change nobody counted reads %v, %v", tally, err)
	}
	before := time.Now().Add(-time.Second)
	for n := range 3 {
		if err := g.Add(ctx, change, 0, Members, 1, "node-"+fmt.Sprint(n)); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []struct {
		wave  int
		k     Kind
		delta int
		by    string
	}{{0, Took, 1, "a"}, {0, Took, 1, "b"}, {0, Healthy, 1, "a"}, {0, Healthy, 1, "b"}, {0, Healthy, -1, "b"}, {0, Unhealthy, 1, "b"},
		{2, Members, 1, "c"}, {2, Reverted, 1, "c"}, {0, Took, 1, "a"}, {2, Members, 1, "c"}} { // the last two are resent, and counted once
		if err := g.Add(ctx, change, a.wave, a.k, a.delta, a.by); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Add(ctx, other, 0, Members, 5, "a"); err != nil {
		t.Fatal(err)
	}
	tally, err := g.Tally(ctx, change)
	if err != nil {
		t.Fatal(err)
	}
	if len(tally) != 3 {
		t.Fatalf("tally has %d waves, want 3 (the second empty): %+v", len(tally), tally)
	}
	w := tally[0]
	if w.Members != 3 || w.Took != 2 || w.Healthy != 1 || w.Unhealthy != 1 || w.Reverted != 0 {
		t.Fatalf("wave 1 counts %+v", w)
	}
	if w.Changed.Before(before) || w.HealthChanged.Before(before) || w.HealthChanged.After(w.Changed.Add(time.Second)) {
		t.Fatalf("wave 1 times %v, %v", w.Changed, w.HealthChanged)
	}
	if tally[1].Members != 0 || tally[2].Members != 1 || tally[2].Reverted != 1 || !tally[2].HealthChanged.IsZero() {
		t.Fatalf("waves 2 and 3 count %+v, %+v", tally[1], tally[2])
	}

	// Another node's Open sees the same gate; Open on a server without it says so.
	if _, err := Open(ctx, js, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, js, Options{Counters: "NOPE"}); !errors.Is(err, ErrNoGate) {
		t.Fatalf("Open of a missing stream = %v, want ErrNoGate", err)
	}
}

func TestControlsNeedTrustedSignaturesToLetARolloutGoOn(t *testing.T) {
	ctx := context.Background()
	g, _ := openGate(t)
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	trusted := []ed25519.PublicKey{pub}
	change := ChangeID("web", strings.Repeat("c", 64))
	t0 := time.Now().UTC().Truncate(time.Second)

	if c, refused, err := g.Controls(ctx, change, trusted); err != nil || c.Paused != nil || c.Halted != nil || len(refused) != 0 {
		t.Fatalf("a change with no controls reads %+v, %v, %v", c, refused, err)
	}
	if err := g.Put(ctx, Control{Action: ActionPause, Change: change, By: "ops", Reason: "looking", At: t0}, nil); err != nil {
		t.Fatal(err)
	}
	if err := g.Put(ctx, Control{Action: ActionResume, Change: change, At: t0.Add(time.Second)}, nil); !errors.Is(err, ErrUnsigned) {
		t.Fatalf("an unsigned resume = %v, want ErrUnsigned", err)
	}
	if err := g.Put(ctx, Control{Action: ActionResume, Change: change, At: t0.Add(time.Second)}, stranger); err != nil {
		t.Fatal(err)
	}
	if err := g.Put(ctx, Control{Action: ActionPromote, Change: change, Wave: 3, At: t0}, stranger); err != nil {
		t.Fatal(err)
	}
	c, refused, err := g.Controls(ctx, change, trusted)
	if err != nil {
		t.Fatal(err)
	}
	if c.Paused == nil || c.Paused.By != "ops" || c.Paused.Reason != "looking" || !c.Paused.At.Equal(t0) {
		t.Fatalf("pause reads %+v", c.Paused)
	}
	if c.Resumed != nil || c.PromotedTo != 0 || len(refused) != 2 {
		t.Fatalf("a stranger's resume and promotion were taken: %+v, refused %v", c, refused)
	}

	if err := g.Put(ctx, Control{Action: ActionResume, Change: change, At: t0.Add(time.Second)}, key); err != nil {
		t.Fatal(err)
	}
	if err := g.Put(ctx, Control{Action: ActionPromote, Change: change, Wave: 3, At: t0}, key); err != nil {
		t.Fatal(err)
	}
	if err := g.Put(ctx, Control{Action: ActionHalt, Change: change, Reason: "first"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := g.Put(ctx, Control{Action: ActionHalt, Change: change, Reason: "second"}, nil); !errors.Is(err, ErrHalted) {
		t.Fatalf("a second halt = %v, want ErrHalted", err)
	}
	c, refused, err = g.Controls(ctx, change, trusted)
	if err != nil || len(refused) != 0 {
		t.Fatalf("Controls = %v, refused %v", err, refused)
	}
	if c.Resumed == nil || c.PromotedTo != 3 || c.Halted == nil || c.Halted.Reason != "first" {
		t.Fatalf("controls read %+v (halt %+v)", c, c.Halted)
	}
}

func TestAControlCopiedToAnotherChangeIsRefused(t *testing.T) {
	ctx := context.Background()
	g, _ := openGate(t)
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	a, b := ChangeID("web", strings.Repeat("a", 64)), ChangeID("web", strings.Repeat("b", 64))
	value, err := SignControl(Control{Action: ActionPromote, Change: a, Wave: 4, At: time.Now()}, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.controls.Put(ctx, controlKey(b, ActionPromote), value); err != nil {
		t.Fatal(err)
	}
	c, refused, err := g.Controls(ctx, b, []ed25519.PublicKey{pub})
	if err != nil || c.PromotedTo != 0 || len(refused) != 1 {
		t.Fatalf("a promotion signed for change %s, replayed on %s: %+v, refused %v, %v", a, b, c, refused, err)
	}
}

func FuzzParseCounterSubject(f *testing.F) {
	change := ChangeID("web", strings.Repeat("a", 64))
	f.Add(counterSubject(change, 3, Healthy))
	f.Add("mms.rollout." + change + ".-1.took")
	f.Add("mms.rollout." + change + ".1.took.x")
	f.Add("mms.rollout." + change + ".+1.took")
	f.Add("mms.rollout." + change + ".01.took")
	f.Fuzz(func(t *testing.T, subject string) {
		wave, k, ok := parseCounterSubject(change, subject)
		if !ok {
			return
		}
		if wave < 0 || wave >= maxWaves || !kinds[k] {
			t.Fatalf("%q read as wave %d kind %q", subject, wave, k)
		}
		if again := counterSubject(change, wave, k); again != subject {
			t.Fatalf("%q reads as wave %d %s, which is written %q", subject, wave, k, again)
		}
	})
}

func TestWatchTellsOfEveryControlAsItIsWritten(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	g, _ := openGate(t)
	change := ChangeID("web", strings.Repeat("d", 64))
	events, err := g.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Add(time.Minute).Truncate(time.Millisecond)
	for _, c := range []Control{
		{Action: ActionReady, Change: change, Wave: 2, At: at, By: "node-1"},
		{Action: ActionPause, Change: change, By: "ops", Reason: "looking"},
		{Action: ActionHalt, Change: change, By: "node-2", Reason: "budget"},
	} {
		if err := g.Put(ctx, c, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Written behind the watch's back under a ready key, a control that says another wave is
	// not told.
	bad, _ := SignControl(Control{Action: ActionReady, Change: change, Wave: 3, At: at}, nil)
	if _, err := g.controls.Put(ctx, readyKey(change, 4), bad); err != nil {
		t.Fatal(err)
	}
	if err := g.Put(ctx, Control{Action: ActionHalt, Change: change, Reason: "second"}, nil); !errors.Is(err, ErrHalted) {
		t.Fatalf("a second halt = %v, want ErrHalted", err)
	}
	var got []Event
	for len(got) < 3 {
		select {
		case e := <-events:
			got = append(got, e)
		case <-ctx.Done():
			t.Fatalf("the watch told %+v", got)
		}
	}
	if got[0].Action != ActionReady || got[0].Wave != 2 || !got[0].At.Equal(at) || got[0].By != "node-1" ||
		got[1].Action != ActionPause || got[1].Reason != "looking" || got[2].Action != ActionHalt || got[2].Reason != "budget" {
		t.Fatalf("the watch told %+v", got)
	}
	select {
	case e := <-events:
		t.Fatalf("the watch told %+v too (a mislabelled ready hint, or a second halt, which is not written)", e)
	case <-time.After(200 * time.Millisecond): // nothing more may come: the window is the assertion
	}
}

func TestAReadyHintOnlyMovesLater(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	g, _ := openGate(t)
	change := ChangeID("web", strings.Repeat("e", 64))
	at := time.Now().UTC().Add(time.Minute).Truncate(time.Millisecond)
	hint := func(when time.Time, by string) {
		t.Helper()
		if err := g.Put(ctx, Control{Action: ActionReady, Change: change, Wave: 2, At: when, By: by}, nil); err != nil {
			t.Fatalf("hint %s by %s: %v", when, by, err)
		}
	}
	there := func() (Event, uint64) {
		t.Helper()
		e, err := g.controls.Get(ctx, readyKey(change, 2))
		if err != nil {
			t.Fatal(err)
		}
		ev, ok := eventOf(e.Key(), e.Value())
		if !ok {
			t.Fatalf("the hint there does not read: %s", e.Value())
		}
		return ev, e.Revision()
	}
	hint(at, "node-1")
	first, rev := there()
	if !first.At.Equal(at) || first.By != "node-1" {
		t.Fatalf("the first hint reads %+v", first)
	}
	// The same moment again, and an earlier one, tell nothing new: nothing is written.
	hint(at, "node-2")
	hint(at.Add(-time.Second), "node-3")
	if ev, r := there(); r != rev || ev.By != "node-1" {
		t.Fatalf("after a hint as late and an earlier one, the hint is %+v at revision %d, want node-1's at %d", ev, r, rev)
	}
	// A later moment (a late report moved the wave's last health) replaces it.
	hint(at.Add(time.Second), "node-4")
	if ev, r := there(); r == rev || ev.By != "node-4" || !ev.At.Equal(at.Add(time.Second)) {
		t.Fatalf("after a later hint, the hint is %+v at revision %d", ev, r)
	}
	// A hint written in between a node's read and its write is looked at again, not overwritten.
	stale, rev := there()
	later, _ := SignControl(Control{Action: ActionReady, Change: change, Wave: 2, At: at.Add(time.Hour), By: "node-5"}, nil)
	if _, err := g.controls.Update(ctx, readyKey(change, 2), later, rev); err != nil {
		t.Fatal(err)
	}
	// (hint takes a write on a stale revision for another node's hint in between.)
	if _, err := g.controls.Update(ctx, readyKey(change, 2), later, rev); !errors.Is(err, jetstream.ErrKeyExists) {
		t.Fatalf("a write on a stale revision = %v, want jetstream.ErrKeyExists", err)
	}
	value, _ := SignControl(Control{Action: ActionReady, Change: change, Wave: 2, At: stale.At.Add(time.Minute), By: "node-6"}, nil)
	if err := g.hint(ctx, readyKey(change, 2), value, stale.At.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if ev, _ := there(); ev.By != "node-5" {
		t.Fatalf("a hint earlier than the one written in between replaced it: %+v", ev)
	}
	// Deleted (the bucket's history purged it), a hint is written afresh.
	if err := g.controls.Delete(ctx, readyKey(change, 2)); err != nil {
		t.Fatal(err)
	}
	hint(at, "node-7")
	if ev, _ := there(); ev.By != "node-7" {
		t.Fatalf("after a delete, the hint is %+v", ev)
	}
}
