package machines

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mms-io/mms/machines/install"
	"github.com/mms-io/mms/machines/spec"
)

// goChoriaInstall puts e's machine into f.dir as go-choria's archive watcher leaves it (the
// archive's tree at <name>/, and the empty tmp/ it downloads into), with the manager directory
// mm_<name> its machines watcher renders. It installs through mms elsewhere and moves the tree
// in, so the content is the archive's, byte for byte.
func (f *fixture) goChoriaInstall(t *testing.T, e spec.Entry) {
	t.Helper()
	other := t.TempDir()
	cfg := f.config()
	cfg.Dir = other
	if rep := Reconcile(context.Background(), cfg, f.envelope(nil, e)); rep.Failed() {
		t.Fatalf("install elsewhere: %+v", rep)
	}
	if err := os.Rename(filepath.Join(other, e.Name), filepath.Join(f.dir, e.Name)); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(f.dir, "tmp"), 0o700)
	writeManager(t, f.dir, e.Name, goChoriaRendering{"machineswatcher", e.Name, f.dir, e.Source, e.Checksum, e.VerifyChecksum}.render(t))
}

func TestReconcileGoChoriaManagers(t *testing.T) {
	t.Run("adopts a machine go-choria installed without a download and retires its manager", func(t *testing.T) {
		f := newFixture(t)
		web := f.entry("web", "1", map[string]string{"a.txt": "a\n"})
		f.goChoriaInstall(t, web)
		before := f.srv.Total()
		rep := f.reconcile(f.envelope(nil, web))
		if r := result(t, rep, "web"); r.Action != ActionAdopt || r.Failed() {
			t.Fatalf("web: %+v", r)
		}
		if r := result(t, rep, "mm_web"); r.Action != ActionRetire || r.Failed() {
			t.Fatalf("mm_web: %+v", r)
		}
		if f.srv.Total() != before {
			t.Fatal("adoption downloaded the archive")
		}
		if exists(filepath.Join(f.dir, "mm_web")) {
			t.Fatal("mm_web is still there")
		}
		if readFile(t, filepath.Join(f.dir, "web", "a.txt")) != "a\n" || !exists(filepath.Join(f.dir, "tmp")) {
			t.Fatal("web or go-choria's tmp changed")
		}
		entries, _ := os.ReadDir(f.dir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".mms-old-") {
				t.Fatalf("left %s", e.Name())
			}
		}
		// A later update applies normally.
		web2 := f.entry("web", "2", map[string]string{"a.txt": "b\n"})
		rep = f.reconcile(f.envelope(nil, web2))
		if r := result(t, rep, "web"); r.Action != ActionUpdate || r.Failed() {
			t.Fatalf("web: %+v", r)
		}
		if readFile(t, filepath.Join(f.dir, "web", "a.txt")) != "b\n" {
			t.Fatal("not updated")
		}
	})

	t.Run("keeps a look-alike manager and reports why", func(t *testing.T) {
		f := newFixture(t)
		web := f.entry("web", "1", map[string]string{"a.txt": "a\n"})
		f.goChoriaInstall(t, web)
		os.WriteFile(filepath.Join(f.dir, "mm_web", "hook.sh"), []byte("#!/bin/sh\n"), 0o700)
		before := snapshot(t, filepath.Join(f.dir, "mm_web"))
		rep := f.reconcile(f.envelope(nil, web))
		if r := result(t, rep, "web"); r.Action != ActionAdopt || r.Failed() {
			t.Fatalf("web: %+v", r)
		}
		r := result(t, rep, "mm_web")
		if r.Action != ActionLeave || r.Failed() || !strings.Contains(r.Reason, "not a go-choria manager rendering") || !strings.Contains(r.Reason, "hook.sh") {
			t.Fatalf("mm_web: %+v", r)
		}
		if after := snapshot(t, filepath.Join(f.dir, "mm_web")); len(after) != len(before) || after["hook.sh"] != before["hook.sh"] {
			t.Fatalf("mm_web changed: %v", after)
		}
	})

	t.Run("adopts an older version go-choria installed and replaces it on the next reconcile", func(t *testing.T) {
		f := newFixture(t)
		old := f.entry("web", "1", map[string]string{"a.txt": "a\n"})
		f.goChoriaInstall(t, old)
		web := f.entry("web", "2", map[string]string{"a.txt": "b\n"})
		before := f.srv.Total()
		rep := f.reconcile(f.envelope(nil, web))
		r := result(t, rep, "web")
		if r.Action != ActionReplace || r.Failed() {
			t.Fatalf("web: %+v", r)
		}
		if result(t, rep, "mm_web").Action != ActionRetire || exists(filepath.Join(f.dir, "mm_web")) {
			t.Fatal("mm_web not retired")
		}
		if f.srv.Total() != before || readFile(t, filepath.Join(f.dir, "web", "a.txt")) != "a\n" {
			t.Fatal("the machine changed in the reconcile that retired its manager")
		}
		rep = f.reconcile(f.envelope(nil, web))
		if r := result(t, rep, "web"); r.Action != ActionUpdate || r.Failed() {
			t.Fatalf("web: %+v", r)
		}
		if readFile(t, filepath.Join(f.dir, "web", "a.txt")) != "b\n" {
			t.Fatal("not updated")
		}
	})

	t.Run("refuses a hand-placed machine whose manager is a look-alike, and keeps both", func(t *testing.T) {
		f := newFixture(t)
		old := f.entry("web", "1", map[string]string{"a.txt": "a\n"})
		f.goChoriaInstall(t, old)
		r := goChoriaRendering{"machineswatcher", "web", filepath.Join(f.dir, "other"), old.Source, old.Checksum, old.VerifyChecksum}
		writeManager(t, f.dir, "web", r.render(t))
		web := f.entry("web", "2", map[string]string{"a.txt": "b\n"})
		rep := f.reconcile(f.envelope(nil, web))
		if r := result(t, rep, "web"); r.Action != ActionRefuse {
			t.Fatalf("web: %+v", r)
		}
		if r := result(t, rep, "mm_web"); r.Action != ActionLeave {
			t.Fatalf("mm_web: %+v", r)
		}
		if !exists(filepath.Join(f.dir, "mm_web", "machine.yaml")) || readFile(t, filepath.Join(f.dir, "web", "a.txt")) != "a\n" {
			t.Fatal("changed")
		}
	})

	t.Run("defers an install while go-choria's manager watches the machine", func(t *testing.T) {
		f := newFixture(t)
		web := f.entry("web", "1", map[string]string{"a.txt": "a\n"})
		writeManager(t, f.dir, "web", goChoriaRendering{"pluginswatcher", "web", f.dir, web.Source, web.Checksum, web.VerifyChecksum}.render(t))
		rep := f.reconcile(f.envelope(nil, web))
		if r := result(t, rep, "web"); r.Action != ActionDefer || r.Failed() {
			t.Fatalf("web: %+v", r)
		}
		if exists(filepath.Join(f.dir, "web")) || exists(filepath.Join(f.dir, "mm_web")) {
			t.Fatal("installed in the reconcile that retired the manager, or did not retire it")
		}
		rep = f.reconcile(f.envelope(nil, web))
		if r := result(t, rep, "web"); r.Action != ActionInstall || r.Failed() {
			t.Fatalf("web: %+v", r)
		}
	})

	t.Run("keeps the manager when the adoption fails", func(t *testing.T) {
		f := newFixture(t)
		web := f.entry("web", "1", map[string]string{"a.txt": "a\n"})
		f.goChoriaInstall(t, web)
		cfg := f.config()
		plan, rep := Preview(cfg, f.envelope(nil, web))
		if rep.Err != nil {
			t.Fatal(rep.Err)
		}
		for i := range plan.Steps { // the machine vanishes between plan and apply
			if plan.Steps[i].Name == "web" {
				os.RemoveAll(filepath.Join(f.dir, "web"))
			}
		}
		st, err := install.Open(f.dir)
		if err != nil {
			t.Fatal(err)
		}
		results := Apply(context.Background(), cfg, st, plan)
		st.Close()
		for _, r := range results {
			if r.Name == "mm_web" && (r.Action != ActionRetire || r.Err == nil) {
				t.Fatalf("mm_web: %+v", r)
			}
		}
		if !exists(filepath.Join(f.dir, "mm_web", "machine.yaml")) {
			t.Fatal("retired a manager of a machine mms did not take over")
		}
	})

	t.Run("dry run shows adopt, retire and leave and changes nothing", func(t *testing.T) {
		f := newFixture(t)
		web := f.entry("web", "1", map[string]string{"a.txt": "a\n"})
		db := f.entry("db", "1", map[string]string{"b.txt": "b\n"})
		f.goChoriaInstall(t, web)
		f.goChoriaInstall(t, db)
		os.WriteFile(filepath.Join(f.dir, "mm_db", "machine.yaml"), []byte("not: [yaml"), 0o600)
		before := snapshot(t, f.dir)
		_, rep := Preview(f.config(), f.envelope(nil, web, db))
		got := map[string]Action{}
		for _, r := range rep.Results {
			got[r.Name] = r.Action
		}
		want := map[string]Action{"web": ActionAdopt, "mm_web": ActionRetire, "db": ActionAdopt, "mm_db": ActionLeave}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("%s: got %s, want %s (%+v)", k, got[k], v, rep.Results)
			}
		}
		if after := snapshot(t, f.dir); len(after) != len(before) {
			t.Fatalf("dry run changed the directory: %v", after)
		}
	})
}
