package watchers

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mms-io/mms/machines"
)

// gate is a ReconcileFunc that reports each call and holds it until released.
type gate struct {
	calls    atomic.Int32
	inflight atomic.Int32
	overlap  atomic.Bool
	started  chan []byte
	release  chan struct{}
}

func newGate() *gate {
	return &gate{started: make(chan []byte, 10), release: make(chan struct{})}
}

func (g *gate) reconcile(ctx context.Context, envelope []byte) *machines.Report {
	if g.inflight.Add(1) > 1 {
		g.overlap.Store(true)
	}
	defer g.inflight.Add(-1)
	g.calls.Add(1)
	g.started <- envelope
	select {
	case <-g.release:
	case <-ctx.Done():
	}
	return &machines.Report{Format: 1, Signed: true}
}

func (g *gate) waitStart(t *testing.T) []byte {
	t.Helper()
	select {
	case env := <-g.started:
		return env
	case <-time.After(10 * time.Second):
		t.Fatal("reconcile did not start within 10s")
		return nil
	}
}

// runWatcher starts w's loop and stops it when the test ends.
func runWatcher(t *testing.T, w *Watcher, g *gate) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	wg := &sync.WaitGroup{}
	wg.Add(1)
	go w.Run(ctx, wg)
	t.Cleanup(func() {
		cancel()
		close(g.release)
		wg.Wait()
	})
}

func TestLoop(t *testing.T) {
	const envelope = `{"machines":"W10="}`

	t.Run("reconciles on start with the data item's envelope", func(t *testing.T) {
		m, n := testMachine(t)
		if err := m.DataPut("spec", envelope); err != nil {
			t.Fatal(err)
		}
		g := newGate()
		w, err := newWatcher(m, "machines", []string{"MANAGE"}, nil, "", "", "1h", 0, map[string]any{"data_item": "spec"}, g.reconcile)
		if err != nil {
			t.Fatal(err)
		}
		runWatcher(t, w, g)

		if got := string(g.waitStart(t)); got != envelope {
			t.Fatalf("reconciled %q", got)
		}
		g.release <- struct{}{}
		s := n.next(t)
		if s.Outcome != OutcomeUnchanged || !slices.Equal(s.Triggers, []string{TriggerStart}) {
			t.Fatalf("state %+v", s)
		}
	})

	t.Run("coalesces every trigger that arrives during a reconcile into one more", func(t *testing.T) {
		m, n := testMachine(t)
		if err := m.DataPut("spec", envelope); err != nil {
			t.Fatal(err)
		}
		g := newGate()
		w, err := newWatcher(m, "machines", []string{"MANAGE"}, nil, "", "", "1h", 0, map[string]any{"data_item": "spec"}, g.reconcile)
		if err != nil {
			t.Fatal(err)
		}
		runWatcher(t, w, g)

		g.waitStart(t)
		for range 5 {
			w.poke(TriggerSpecification)
			w.NotifyStateChance()
		}
		g.release <- struct{}{}
		if s := n.next(t); !slices.Equal(s.Triggers, []string{TriggerStart}) {
			t.Fatalf("first reconcile triggers %v", s.Triggers)
		}

		g.waitStart(t)
		g.release <- struct{}{}
		if s := n.next(t); !slices.Equal(s.Triggers, []string{TriggerSpecification, TriggerState}) {
			t.Fatalf("second reconcile triggers %v", s.Triggers)
		}

		// One more trigger gives exactly one more reconcile, triggered by it alone: nothing
		// was left queued from the burst.
		w.poke(TriggerInterval)
		g.waitStart(t)
		g.release <- struct{}{}
		if s := n.next(t); !slices.Equal(s.Triggers, []string{TriggerInterval}) {
			t.Fatalf("third reconcile triggers %v", s.Triggers)
		}
		if c := g.calls.Load(); c != 3 {
			t.Fatalf("%d reconciles, want 3", c)
		}
		if g.overlap.Load() {
			t.Fatal("two reconciles ran at once")
		}
	})

	t.Run("never reconciles without a specification and says so", func(t *testing.T) {
		m, n := testMachine(t)
		g := newGate()
		w, err := newWatcher(m, "machines", []string{"MANAGE"}, nil, "", "", "1h", 0, map[string]any{"data_item": "spec"}, g.reconcile)
		if err != nil {
			t.Fatal(err)
		}
		runWatcher(t, w, g)

		s := n.next(t)
		if s.Outcome != OutcomeNoSpecification || g.calls.Load() != 0 {
			t.Fatalf("state %+v after %d reconciles", s, g.calls.Load())
		}
	})

	t.Run("does not reconcile outside its states", func(t *testing.T) {
		m, _ := testMachine(t)
		if err := m.DataPut("spec", envelope); err != nil {
			t.Fatal(err)
		}
		g := newGate()
		w, err := newWatcher(m, "machines", []string{"MAINTENANCE"}, nil, "", "", "1h", 0, map[string]any{"data_item": "spec"}, g.reconcile)
		if err != nil {
			t.Fatal(err)
		}
		w.runOnce(context.Background(), []string{TriggerInterval})
		if g.calls.Load() != 0 {
			t.Fatal("reconciled in state MANAGE with state_match MAINTENANCE")
		}
		if s := w.CurrentState().(*StateNotification); s.Outcome != OutcomeNone {
			t.Fatalf("state %+v", s)
		}
	})

	t.Run("reconciles when the data item changes, long before the interval", func(t *testing.T) {
		m, n := testMachine(t)
		if err := m.DataPut("spec", envelope); err != nil {
			t.Fatal(err)
		}
		g := newGate()
		w, err := newWatcher(m, "machines", []string{"MANAGE"}, nil, "", "", "1h", 0, map[string]any{"data_item": "spec"}, g.reconcile)
		if err != nil {
			t.Fatal(err)
		}
		runWatcher(t, w, g)
		g.waitStart(t)
		g.release <- struct{}{}
		n.next(t)

		const next = `{"machines":"W10=","signature":"00"}`
		if err := m.DataPut("spec", next); err != nil {
			t.Fatal(err)
		}
		if got := string(g.waitStart(t)); got != next {
			t.Fatalf("reconciled %q", got)
		}
		g.release <- struct{}{}
		if s := n.next(t); !slices.Equal(s.Triggers, []string{TriggerSpecification}) {
			t.Fatalf("triggers %v", s.Triggers)
		}

		// Removing the data item is noticed too, and reported without reconciling.
		if err := m.DataDelete("spec"); err != nil {
			t.Fatal(err)
		}
		s := n.next(t)
		if s.Outcome != OutcomeNoSpecification || !slices.Equal(s.Triggers, []string{TriggerSpecification}) || g.calls.Load() != 2 {
			t.Fatalf("state %+v after %d reconciles", s, g.calls.Load())
		}
	})

	t.Run("refuses a data item that is not an envelope, without reconciling", func(t *testing.T) {
		m, n := testMachine(t)
		if err := m.DataPut("spec", []any{"not", "an", "envelope"}); err != nil {
			t.Fatal(err)
		}
		g := newGate()
		w, err := newWatcher(m, "machines", nil, nil, "", "", "1h", 0, map[string]any{"data_item": "spec"}, g.reconcile)
		if err != nil {
			t.Fatal(err)
		}
		runWatcher(t, w, g)

		s := n.next(t)
		if s.Outcome != OutcomeNoSpecification || s.Error == "" || g.calls.Load() != 0 {
			t.Fatalf("state %+v after %d reconciles", s, g.calls.Load())
		}
	})
}

func TestEnvelopeFromData(t *testing.T) {
	const envelope = `{"machines":"W10=","signature":"00"}`
	cases := []struct {
		name  string
		value any
		want  string
	}{
		{"takes a string as it is", envelope, envelope},
		{"takes bytes as they are", []byte(envelope), envelope},
		{"re-encodes an envelope the kv watcher decoded", map[string]any{"machines": "W10=", "signature": "00"}, envelope},
		{"treats an empty string as no specification", "", ""},
		{"treats nil as no specification", nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := envelopeFromData(tc.value)
			if err != nil || string(got) != tc.want {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
	t.Run("refuses a value of another type", func(t *testing.T) {
		if _, err := envelopeFromData(42.0); err == nil {
			t.Fatal("accepted a number")
		}
	})
}
