package machines

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mms-io/mms/machines/rollout"
	"github.com/mms-io/mms/machines/spec"
)

// fixedRollout answers the reconcile's questions as told, and remembers them.
type fixedRollout struct {
	admit, revert bool
	asked         []string
}

func (r *fixedRollout) Admit(e spec.Entry, installed string) (bool, string) {
	r.asked = append(r.asked, "admit "+e.Name+" over "+installed)
	return r.admit, "wave 2 of 2: waits"
}

func (r *fixedRollout) Revert(e spec.Entry) (bool, string) {
	r.asked = append(r.asked, "revert "+e.Name)
	return r.revert, "unhealthy: says so"
}

func staged(t *testing.T, e spec.Entry) spec.Entry {
	t.Helper()
	p, err := rollout.ParsePolicy([]byte(`{"waves":["50%","100%"]}`))
	if err != nil {
		t.Fatal(err)
	}
	e.Rollout = &p
	return e
}

func resultFor(t *testing.T, rep *Report, name string) Result {
	t.Helper()
	if rep.Err != nil {
		t.Fatalf("reconcile refused: %v", rep.Err)
	}
	for _, r := range rep.Results {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no result for %s in %+v", name, rep.Results)
	return Result{}
}

func TestAnEntryWithAPolicyIsNeverInstalledAtOnceWithoutAGate(t *testing.T) {
	f := newFixture(t)
	web := staged(t, f.entry("web", "1", map[string]string{"a.txt": "a\n"}))
	r := resultFor(t, f.reconcile(f.envelope(nil, web)), "web")
	if r.Action != ActionRefuse || !errors.Is(r.Err, ErrNoStagedRollouts) {
		t.Fatalf("result %+v, want a refusal wrapping ErrNoStagedRollouts", r)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "web")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("web was installed: %v", err)
	}
}

func TestTheGateHoldsAChangeBackAndTakesOneBack(t *testing.T) {
	f := newFixture(t)
	v1 := f.entry("web", "1", map[string]string{"a.txt": "one\n"})
	if rep := f.reconcile(f.envelope(nil, v1)); rep.Failed() {
		t.Fatalf("setup: %+v", rep)
	}
	v2 := staged(t, f.entry("web", "2", map[string]string{"a.txt": "two\n"}))
	gate := &fixedRollout{}
	cfg := f.config()
	cfg.Rollout = gate
	say := func() string { b, _ := os.ReadFile(filepath.Join(f.dir, "web", "a.txt")); return string(b) }

	r := resultFor(t, Reconcile(context.Background(), cfg, f.envelope(nil, v2)), "web")
	if r.Action != ActionWait || r.Failed() || r.Reason != "wave 2 of 2: waits" || say() != "one\n" {
		t.Fatalf("held back: %+v, web says %q", r, say())
	}
	if len(gate.asked) != 1 || gate.asked[0] != "admit web over "+v1.Checksum {
		t.Fatalf("the gate was asked %q", gate.asked)
	}

	gate.admit = true
	r = resultFor(t, Reconcile(context.Background(), cfg, f.envelope(nil, v2)), "web")
	if r.Action != ActionUpdate || r.Failed() || say() != "two\n" {
		t.Fatalf("admitted: %+v, web says %q", r, say())
	}
	if _, err := os.Stat(filepath.Join(f.dir, ".mms-prev-web", "a.txt")); err != nil {
		t.Fatalf("the version a staged change replaced is not kept: %v", err)
	}

	gate.revert = true
	r = resultFor(t, Reconcile(context.Background(), cfg, f.envelope(nil, v2)), "web")
	if r.Action != ActionRevert || r.Failed() || say() != "one\n" {
		t.Fatalf("reverted: %+v, web says %q", r, say())
	}

	// Reverted, the node is back on v1 and the gate says whether v2 may come again.
	gate.revert, gate.admit = false, false
	if r = resultFor(t, Reconcile(context.Background(), cfg, f.envelope(nil, v2)), "web"); r.Action != ActionWait || say() != "one\n" {
		t.Fatalf("after the revert: %+v, web says %q", r, say())
	}
}

func TestARevertWithNothingBeforeRemovesTheMachine(t *testing.T) {
	f := newFixture(t)
	web := staged(t, f.entry("web", "1", map[string]string{"a.txt": "a\n"}))
	cfg := f.config()
	cfg.Rollout = &fixedRollout{admit: true}
	if r := resultFor(t, Reconcile(context.Background(), cfg, f.envelope(nil, web)), "web"); r.Action != ActionInstall || r.Failed() {
		t.Fatalf("install: %+v", r)
	}
	cfg.Rollout = &fixedRollout{revert: true}
	r := resultFor(t, Reconcile(context.Background(), cfg, f.envelope(nil, web)), "web")
	if r.Action != ActionRevert || r.Failed() {
		t.Fatalf("revert: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "web")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("web is still there after a revert with nothing to go back to: %v", err)
	}
}
