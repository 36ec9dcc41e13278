package watchers

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/spec"
)

func TestStateNotification(t *testing.T) {
	m, _ := testMachine(t)
	w, err := newWatcher(m, "machines", nil, nil, "", "", "1h", 0, map[string]any{"data_item": "spec"})
	if err != nil {
		t.Fatal(err)
	}

	report := &machines.Report{
		Format: 2, Version: 1700000000000, Signed: false,
		Results: []machines.Result{
			{Name: "db", Action: machines.ActionKeep},
			{Name: "old", Action: machines.ActionRemove, Reason: "no longer in the specification"},
			{Name: "web", Action: machines.ActionInstall, Err: fmt.Errorf("install %q: %w: expected aa got bb", "web", errs.ErrChecksum), Duration: 2 * time.Second},
		},
		Duration: 1500 * time.Millisecond,
	}
	n := w.notification([]string{"specification"}, 0, report, nil, time.Second)

	t.Run("says the outcome, the version and that it was accepted unsigned", func(t *testing.T) {
		if n.Outcome != SummaryFailed || n.Format != 2 || n.SpecVersion != 1700000000000 || n.Signed {
			t.Fatalf("notification %+v", n)
		}
		if n.Warning == "" || !strings.Contains(n.Warning, "unsigned") {
			t.Fatalf("no unsigned warning: %q", n.Warning)
		}
	})

	t.Run("is a CloudEvent of Choria's machines watcher state type", func(t *testing.T) {
		ce := n.CloudEvent()
		if ce.Type() != "io.choria.machine.watcher.machines.v1.state" || ce.Source() != "io.choria.machine" || ce.Subject() != testIdentity {
			t.Fatalf("event type %q source %q subject %q", ce.Type(), ce.Source(), ce.Subject())
		}
	})

	t.Run("lists per machine what happened and why in its JSON", func(t *testing.T) {
		data, err := n.JSON()
		if err != nil {
			t.Fatal(err)
		}
		var ev struct {
			Data StateNotification `json:"data"`
		}
		if err := json.Unmarshal(data, &ev); err != nil {
			t.Fatal(err)
		}
		got := ev.Data
		if got.Protocol != "io.choria.machine.watcher.machines.v1.state" || got.Machine != "machines_manager" || got.Type != "machines" {
			t.Fatalf("event fields %+v", got.Event)
		}
		if len(got.Outcomes) != 3 || got.Outcomes[1].Action != "remove" || got.Outcomes[1].Reason == "" ||
			!got.Outcomes[2].Failed || !strings.Contains(got.Outcomes[2].Error, "expected aa got bb") {
			t.Fatalf("machines %+v", got.Outcomes)
		}
		if got.Outcome != SummaryFailed || got.SpecVersion != 1700000000000 || got.Warning == "" {
			t.Fatalf("decoded %+v", got)
		}
	})

	t.Run("decodes as go-choria's machines watcher notification, for a stock choria machine watch", func(t *testing.T) {
		data, err := n.JSON()
		if err != nil {
			t.Fatal(err)
		}
		// The fields and types of go-choria's machineswatcher.StateNotification.
		var ev struct {
			Data struct {
				Identity                string   `json:"identity"`
				PreviousManagedMachines []string `json:"machines"`
				PreviousOutcome         string   `json:"previous_outcome"`
				PreviousRunTime         int64    `json:"previous_run_time"`
			} `json:"data"`
		}
		if err := json.Unmarshal(data, &ev); err != nil {
			t.Fatalf("go-choria's type cannot decode it: %v", err)
		}
		if got := strings.Join(ev.Data.PreviousManagedMachines, ","); got != "db" {
			t.Errorf("managed machines %q, want db (kept; web failed to install, old was removed)", got)
		}
		if ev.Data.PreviousOutcome != "failed" || ev.Data.PreviousRunTime <= 0 || ev.Data.Identity != testIdentity {
			t.Errorf("decoded %+v", ev.Data)
		}
	})

	t.Run("reads as one line in choria machine watch", func(t *testing.T) {
		s := n.String()
		for _, want := range []string{testIdentity + " machines_manager#machines failed v2 1700000000000 UNSIGNED",
			"keep db", "remove old", "install web (install \"web\": checksum mismatch: expected aa got bb)", "WARNING:", "(1.500s)"} {
			if !strings.Contains(s, want) {
				t.Errorf("%q does not contain %q", s, want)
			}
		}
	})

	t.Run("says why a specification was refused and warns of nothing else", func(t *testing.T) {
		r := &machines.Report{Err: fmt.Errorf("%w: signed by no trusted key", errs.ErrSignature)}
		n := w.notification(nil, 7, r, nil, time.Second)
		if n.Outcome != SummaryRefused || !strings.Contains(n.Error, "signed by no trusted key") || n.Warning != "" || n.Revision != 7 {
			t.Fatalf("notification %+v", n)
		}
		if !strings.Contains(n.String(), "refused: signature refused: signed by no trusted key") {
			t.Fatalf("string %q", n.String())
		}
	})

	t.Run("says when there is no specification", func(t *testing.T) {
		n := w.notification(nil, 0, nil, nil, 0)
		if n.Outcome != SummaryNoSpecification || !strings.Contains(n.Error, "nothing changed") || len(n.Outcomes) != 0 {
			t.Fatalf("notification %+v", n)
		}
	})

	t.Run("does not warn about a signed specification", func(t *testing.T) {
		n := w.notification(nil, 0, &machines.Report{Format: 1, Signed: true}, nil, 0)
		if n.Warning != "" || n.Outcome != SummaryUnchanged || !strings.Contains(n.String(), "unchanged v1 signed") {
			t.Fatalf("notification %+v %s", n, n.String())
		}
	})

	t.Run("decodes through the plugin's notification constructor", func(t *testing.T) {
		data, err := json.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		creator := ChoriaPlugin().Creator.(interface {
			UnmarshalNotification([]byte) (any, error)
			EventType() string
		})
		v, err := creator.UnmarshalNotification(data)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := v.(*StateNotification); !ok || got.Outcome != SummaryFailed {
			t.Fatalf("decoded %#v", v)
		}
		if creator.EventType() != "io.choria.machine.watcher.machines.v1.state" {
			t.Fatalf("event type %q", creator.EventType())
		}
	})
}

func TestReasonLabel(t *testing.T) {
	t.Run("names the error family, not the message", func(t *testing.T) {
		err := fmt.Errorf("install: %w", &errs.LimitError{Name: "max_files", Limit: 1, Unit: "files", What: "archive"})
		if got := reasonLabel(err); got != "limit" {
			t.Fatalf("got %q", got)
		}
		if got := reasonLabel(fmt.Errorf("open: %w", &spec.UnsupportedError{Features: []string{"rollout"}})); got != "unsupported" {
			t.Fatalf("a specification needing a newer mms: got %q", got)
		}
		if got := reasonLabel(errors.New("something new")); got != "other" {
			t.Fatalf("got %q", got)
		}
		if got := reasonLabel(nil); got != "" {
			t.Fatalf("got %q", got)
		}
	})
}
