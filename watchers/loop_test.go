package watchers

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/choria-io/go-choria/aagent/machine"

	"github.com/mms-io/mms/internal/testwait"
	"github.com/mms-io/mms/nodeloop"
)

// The loop itself (coalescing, pre-emption, fallback, holding the directory) is nodeloop's and
// tested there; these tests check what the watcher adds: the data item as a source, the
// machine's states as the gate, and the notifications, through the real core.

// emptySpec is an unsigned v1 specification with no entries: with no key configured the
// watcher accepts it, as go-choria did.
const emptySpec = `{"machines":"W10="}`

// runWatcher starts w's loop and stops it when the test ends.
func runWatcher(t *testing.T, w *Watcher) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	wg := &sync.WaitGroup{}
	wg.Add(1)
	go w.Run(ctx, wg)
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
}

// dataItemWatcher is a watcher of testMachine's machine, on the data item spec.
func dataItemWatcher(t *testing.T, m *machine.Machine, states []string) *Watcher {
	t.Helper()
	w, err := newWatcher(m, "machines", states, nil, "", "", "1h", 0, map[string]any{"data_item": "spec", "splay": "0s"})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestDataItemSource(t *testing.T) {
	t.Run("reconciles on start with what the data item holds", func(t *testing.T) {
		m, n := testMachine(t)
		if err := m.DataPut("spec", emptySpec); err != nil {
			t.Fatal(err)
		}
		runWatcher(t, dataItemWatcher(t, m, []string{"MANAGE"}))
		s := n.next(t)
		if s.Outcome != SummaryUnchanged || !slices.Equal(s.Triggers, []string{"start"}) || s.Format != 1 {
			t.Fatalf("state %+v", s)
		}
		if s.Warning == "" {
			t.Error("an unsigned specification accepted without a key carries no warning")
		}
	})

	t.Run("reconciles when the data item changes, long before the interval, and says when it is removed", func(t *testing.T) {
		m, n := testMachine(t)
		if err := m.DataPut("spec", emptySpec); err != nil {
			t.Fatal(err)
		}
		runWatcher(t, dataItemWatcher(t, m, []string{"MANAGE"}))
		n.next(t)

		// The same empty list, as a kv watcher stores a decoded JSON object.
		if err := m.DataPut("spec", map[string]any{"machines": "W10=", "signature": ""}); err != nil {
			t.Fatal(err)
		}
		if s := n.next(t); !slices.Equal(s.Triggers, []string{"specification"}) || s.Outcome != SummaryUnchanged {
			t.Fatalf("state %+v", s)
		}
		if err := m.DataDelete("spec"); err != nil {
			t.Fatal(err)
		}
		if s := n.next(t); s.Outcome != SummaryNoSpecification || !slices.Equal(s.Triggers, []string{"specification"}) {
			t.Fatalf("state %+v", s)
		}
	})

	t.Run("refuses a data item that is not an envelope, and says why", func(t *testing.T) {
		m, n := testMachine(t)
		if err := m.DataPut("spec", []any{"not", "an", "envelope"}); err != nil {
			t.Fatal(err)
		}
		runWatcher(t, dataItemWatcher(t, m, nil))
		s := n.next(t)
		if s.Outcome != SummaryNoSpecification || s.Error == "" {
			t.Fatalf("state %+v", s)
		}
	})

	t.Run("does not reconcile outside its states, and reconciles as the machine enters one", func(t *testing.T) {
		// testdata/maintenance: a machines watcher with state_match [MAINTENANCE], in a machine
		// that starts in MANAGE, loaded and started by go-choria.
		m, n, _ := startMachine(t, "maintenance", filepath.Join(t.TempDir(), "machines"), func(m *machine.Machine) error {
			return m.DataPut("spec", emptySpec)
		})
		n.waitLines(t, 1, skippedIn("MANAGE", "start"))
		if got := n.published(); got != 0 {
			t.Fatalf("published %d states in MANAGE with state_match MAINTENANCE", got)
		}
		// The transition wakes the loop, long before the interval.
		if err := m.Transition("enter_maintenance"); err != nil {
			t.Fatal(err)
		}
		s := n.next(t)
		if s.Outcome != SummaryUnchanged || !slices.Contains(s.Triggers, "state") {
			t.Fatalf("state %+v", s)
		}
	})

	t.Run("saves its outcome for mms status in the machines directory", func(t *testing.T) {
		m, n := testMachine(t)
		if err := m.DataPut("spec", emptySpec); err != nil {
			t.Fatal(err)
		}
		runWatcher(t, dataItemWatcher(t, m, nil))
		n.next(t)
		dir := filepath.Dir(m.Directory())
		testwait.Eventually(t, waitFor, "a last report in "+dir, func() bool {
			_, ok, err := nodeloop.ReadLastReport(dir)
			return ok && err == nil
		})
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
