package machines

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/spec"
)

func TestReconcileLifecycle(t *testing.T) {
	f := newFixture(t)
	web1 := f.entry("web", "1", map[string]string{"bin/run.sh": "echo one\n", "old.txt": "only in v1\n"})
	db := f.entry("db", "1", map[string]string{"db.conf": "x=1\n"})

	t.Run("installs every entry of a new spec", func(t *testing.T) {
		rep := f.reconcile(f.envelope(nil, web1, db))
		if rep.Err != nil || rep.Failed() || !rep.Signed || rep.Format != 2 {
			t.Fatalf("report: %+v", rep)
		}
		for _, name := range []string{"web", "db"} {
			if r := result(t, rep, name); r.Action != ActionInstall {
				t.Fatalf("%s: %+v", name, r)
			}
		}
		if got := readFile(t, filepath.Join(f.dir, "web", "bin", "run.sh")); got != "echo one\n" {
			t.Fatalf("run.sh = %q", got)
		}
	})
	t.Run("keeps what is installed without downloading again", func(t *testing.T) {
		before := f.srv.Total()
		rep := f.reconcile(f.envelope(nil, web1, db))
		if r := result(t, rep, "web"); r.Action != ActionKeep || r.Failed() {
			t.Fatalf("web: %+v", r)
		}
		if rep.Changed() || f.srv.Total() != before {
			t.Fatalf("an unchanged spec changed something or downloaded: %+v", rep)
		}
	})
	t.Run("updates to a new archive and the old files are gone", func(t *testing.T) {
		web2 := f.entry("web", "2", map[string]string{"bin/run.sh": "echo two\n"})
		rep := f.reconcile(f.envelope(nil, web2, db))
		if r := result(t, rep, "web"); r.Action != ActionUpdate || r.Failed() {
			t.Fatalf("web: %+v", r)
		}
		if got := readFile(t, filepath.Join(f.dir, "web", "bin", "run.sh")); got != "echo two\n" {
			t.Fatalf("run.sh = %q", got)
		}
		if _, err := os.Stat(filepath.Join(f.dir, "web", "old.txt")); !os.IsNotExist(err) {
			t.Fatalf("old.txt survived the update: %v", err)
		}
		web1 = web2
	})
	t.Run("repairs a tampered file on the next reconcile", func(t *testing.T) {
		target := filepath.Join(f.dir, "web", "bin", "run.sh")
		if err := os.WriteFile(target, []byte("echo evil\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		rep := f.reconcile(f.envelope(nil, web1, db))
		if r := result(t, rep, "web"); r.Action != ActionRepair || r.Failed() {
			t.Fatalf("web: %+v", r)
		}
		if got := readFile(t, target); got != "echo two\n" {
			t.Fatalf("run.sh = %q after repair", got)
		}
	})
	t.Run("purges a machine the spec drops, never a hand-placed one", func(t *testing.T) {
		hand := filepath.Join(f.dir, "handmade")
		os.MkdirAll(hand, 0o755)
		os.WriteFile(filepath.Join(hand, "machine.yaml"), []byte("name: handmade\n"), 0o644)
		rep := f.reconcile(f.envelope(nil, web1))
		if r := result(t, rep, "db"); r.Action != ActionRemove || r.Failed() {
			t.Fatalf("db: %+v", r)
		}
		if _, err := os.Stat(filepath.Join(f.dir, "db")); !os.IsNotExist(err) {
			t.Fatalf("db still there: %v", err)
		}
		if got := readFile(t, filepath.Join(hand, "machine.yaml")); got != "name: handmade\n" {
			t.Fatalf("hand-placed machine changed: %q", got)
		}
	})
	t.Run("an empty spec removes every managed machine and nothing else", func(t *testing.T) {
		rep := f.reconcile(f.envelope(nil))
		if r := result(t, rep, "web"); r.Action != ActionRemove {
			t.Fatalf("web: %+v", r)
		}
		if got := snapshot(t, f.dir); !reflect.DeepEqual(got, map[string]string{".": "dir", "handmade": "dir", "handmade/machine.yaml": "name: handmade\n"}) {
			t.Fatalf("left %v", got)
		}
	})
}

func TestReconcileRefusals(t *testing.T) {
	f := newFixture(t)
	web := f.entry("web", "1", map[string]string{"a.txt": "a\n"})
	if rep := f.reconcile(f.envelope(nil, web)); rep.Failed() {
		t.Fatalf("setup: %+v", rep)
	}
	installed := snapshot(t, f.dir)
	unchanged := func(t *testing.T) {
		t.Helper()
		if got := snapshot(t, f.dir); !reflect.DeepEqual(got, installed) {
			t.Fatalf("disk changed:\n%v\nwant\n%v", got, installed)
		}
	}

	t.Run("a spec signed by another key changes nothing", func(t *testing.T) {
		_, stranger, _ := ed25519.GenerateKey(rand.Reader)
		rep := f.reconcile(f.envelope(stranger))
		if !errors.Is(rep.Err, errs.ErrSignature) {
			t.Fatalf("got %v", rep.Err)
		}
		unchanged(t)
	})
	t.Run("an unsigned spec changes nothing", func(t *testing.T) {
		rep := f.reconcile(f.envelope(unsigned))
		if rep.Err == nil {
			t.Fatal("accepted")
		}
		unchanged(t)
	})
	t.Run("an older version changes nothing", func(t *testing.T) {
		saved := f.ver
		f.ver = 1 // the fixture started at 100
		rep := f.reconcile(f.envelope(nil))
		f.ver = saved
		if !errors.Is(rep.Err, errs.ErrRollback) {
			t.Fatalf("got %v", rep.Err)
		}
		unchanged(t)
	})
	t.Run("garbage changes nothing", func(t *testing.T) {
		rep := f.reconcile([]byte("not a spec"))
		if !errors.Is(rep.Err, errs.ErrInvalidSpec) {
			t.Fatalf("got %v", rep.Err)
		}
		unchanged(t)
	})
	t.Run("without any key nothing is done unless unsigned specs are allowed", func(t *testing.T) {
		cfg := f.config()
		cfg.Trust = spec.Trust{}
		rep := Reconcile(context.Background(), cfg, f.envelope(nil))
		if !errors.Is(rep.Err, errs.ErrInsecure) {
			t.Fatalf("got %v", rep.Err)
		}
		unchanged(t)
	})
	t.Run("a bad archive checksum is refused, the old version stays, others go on", func(t *testing.T) {
		bad := f.entry("web", "2", map[string]string{"a.txt": "new\n"})
		bad.Checksum = strings.Repeat("0", 64)
		other := f.entry("other", "1", nil)
		rep := f.reconcile(f.envelope(nil, bad, other))
		r := result(t, rep, "web")
		if !errors.Is(r.Err, errs.ErrChecksum) || !strings.Contains(r.Reason, "expected "+bad.Checksum) {
			t.Fatalf("web: %+v", r)
		}
		if readFile(t, filepath.Join(f.dir, "web", "a.txt")) != "a\n" {
			t.Fatal("the running version was touched")
		}
		if o := result(t, rep, "other"); o.Action != ActionInstall || o.Failed() {
			t.Fatalf("other: %+v", o)
		}
		if !rep.Failed() {
			t.Fatal("report does not say it failed")
		}
	})
	t.Run("an archive that 404s is refused and says so", func(t *testing.T) {
		gone := web
		gone.Source = f.srv.URL + "/missing.tgz"
		gone.Checksum = strings.Repeat("1", 64)
		rep := f.reconcile(f.envelope(nil, gone))
		r := result(t, rep, "web")
		if !errors.Is(r.Err, errs.ErrFetch) || !strings.Contains(r.Reason, "404") {
			t.Fatalf("web: %+v", r)
		}
		if readFile(t, filepath.Join(f.dir, "web", "a.txt")) != "a\n" {
			t.Fatal("the running version was touched")
		}
	})
}

func TestReconcileMatchers(t *testing.T) {
	f := newFixture(t)
	web := f.entry("web", "1", nil)
	if rep := f.reconcile(f.envelope(nil, web)); rep.Failed() {
		t.Fatalf("setup: %+v", rep)
	}
	t.Run("an entry whose matcher fails is neither installed nor removed", func(t *testing.T) {
		broken := web
		broken.Match = "identity('(')"
		fresh := f.entry("fresh", "1", nil)
		fresh.Match = "identity('(')"
		rep := f.reconcile(f.envelope(nil, broken, fresh))
		if r := result(t, rep, "web"); r.Action != ActionRefuse || !errors.Is(r.Err, errs.ErrMatcher) {
			t.Fatalf("web: %+v", r)
		}
		if _, err := os.Stat(filepath.Join(f.dir, "web", "machine.yaml")); err != nil {
			t.Fatal("web was removed")
		}
		if _, err := os.Stat(filepath.Join(f.dir, "fresh")); !os.IsNotExist(err) {
			t.Fatal("fresh was installed")
		}
	})
	t.Run("a false matcher skips a new entry and purges a managed one", func(t *testing.T) {
		elsewhere := web
		elsewhere.Match = "identity('^nowhere$')"
		other := f.entry("other", "1", nil)
		other.Match = "identity('^nowhere$')"
		rep := f.reconcile(f.envelope(nil, elsewhere, other))
		if r := result(t, rep, "web"); r.Action != ActionRemove || r.Failed() {
			t.Fatalf("web: %+v", r)
		}
		if r := result(t, rep, "other"); r.Action != ActionSkip {
			t.Fatalf("other: %+v", r)
		}
		if f.srv.Count("/other-1.tgz") != 0 {
			t.Fatal("a node whose matcher is false downloaded the archive")
		}
	})
}

func TestReconcileHandPlacedMachines(t *testing.T) {
	f := newFixture(t)
	web := f.entry("web", "1", map[string]string{"a.txt": "a\n"})
	t.Run("a hand-placed machine of the same name that does not verify is refused and kept", func(t *testing.T) {
		os.MkdirAll(filepath.Join(f.dir, "web"), 0o755)
		os.WriteFile(filepath.Join(f.dir, "web", "machine.yaml"), []byte("mine\n"), 0o644)
		rep := f.reconcile(f.envelope(nil, web))
		if r := result(t, rep, "web"); r.Action != ActionRefuse || !errors.Is(r.Err, errs.ErrNotManaged) {
			t.Fatalf("web: %+v", r)
		}
		if readFile(t, filepath.Join(f.dir, "web", "machine.yaml")) != "mine\n" {
			t.Fatal("hand-placed machine replaced")
		}
		os.RemoveAll(filepath.Join(f.dir, "web"))
	})
	t.Run("a machine already on disk that verifies is adopted without a download", func(t *testing.T) {
		other := t.TempDir()
		cfg := f.config()
		cfg.Dir = other
		if rep := Reconcile(context.Background(), cfg, f.envelope(nil, web)); rep.Failed() {
			t.Fatalf("install elsewhere: %+v", rep)
		}
		if err := os.Rename(filepath.Join(other, "web"), filepath.Join(f.dir, "web")); err != nil {
			t.Fatal(err)
		}
		before := f.srv.Total()
		rep := f.reconcile(f.envelope(nil, web))
		if r := result(t, rep, "web"); r.Action != ActionAdopt || r.Failed() {
			t.Fatalf("web: %+v", r)
		}
		if f.srv.Total() != before {
			t.Fatal("adoption downloaded the archive")
		}
		rep = f.reconcile(f.envelope(nil))
		if r := result(t, rep, "web"); r.Action != ActionRemove || r.Failed() {
			t.Fatalf("an adopted machine is managed, so purged when dropped: %+v", r)
		}
	})
}

func TestPreviewChangesNothing(t *testing.T) {
	f := newFixture(t)
	web := f.entry("web", "1", nil)
	plan, rep := Preview(f.config(), f.envelope(nil, web))
	if rep.Err != nil || len(plan.Steps) != 1 || plan.Steps[0].Action != ActionInstall {
		t.Fatalf("plan %+v report %+v", plan, rep)
	}
	if entries, _ := os.ReadDir(f.dir); len(entries) != 0 {
		t.Fatalf("preview wrote %v", entries)
	}
	if f.srv.Total() != 0 {
		t.Fatal("preview downloaded")
	}
}

func TestReconcileGovernor(t *testing.T) {
	f := newFixture(t)
	web := f.entry("web", "1", nil)
	web.Governor = "WEB"
	var entered, released []string
	cfg := f.config()
	cfg.Governor = func(ctx context.Context, name, governor string) (func(), error) {
		entered = append(entered, name+"/"+governor)
		return func() { released = append(released, name) }, nil
	}
	if rep := Reconcile(context.Background(), cfg, f.envelope(nil, web)); rep.Failed() {
		t.Fatalf("%+v", rep)
	}
	if !reflect.DeepEqual(entered, []string{"web/WEB"}) || !reflect.DeepEqual(released, []string{"web"}) {
		t.Fatalf("entered %v released %v", entered, released)
	}
	t.Run("a governor that cannot be entered stops only that entry", func(t *testing.T) {
		cfg.Governor = func(ctx context.Context, name, governor string) (func(), error) {
			return nil, errors.New("governor full")
		}
		upd := f.entry("web", "2", map[string]string{"x": "y"})
		upd.Governor = "WEB"
		rep := Reconcile(context.Background(), cfg, f.envelope(nil, upd))
		if r := result(t, rep, "web"); !r.Failed() || !strings.Contains(r.Reason, "governor full") {
			t.Fatalf("%+v", r)
		}
	})
}

func TestResetRollbackIsDeliberate(t *testing.T) {
	f := newFixture(t)
	if rep := f.reconcile(f.envelope(nil)); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	f.ver = 1
	old := f.envelope(nil)
	if rep := f.reconcile(old); !errors.Is(rep.Err, errs.ErrRollback) {
		t.Fatalf("accepted a lower version: %v", rep.Err)
	}
	cfg := f.config()
	cfg.ResetRollback = true
	if rep := Reconcile(context.Background(), cfg, old); rep.Err != nil {
		t.Fatalf("reset did not let the lower version in: %v", rep.Err)
	}
	f.ver = 0
	if rep := f.reconcile(f.envelope(nil)); !errors.Is(rep.Err, errs.ErrRollback) {
		t.Fatalf("the reset was not a one-off: %v", rep.Err)
	}

	t.Run("a reset with a refused specification changes nothing: an old one replayed later is still refused", func(t *testing.T) {
		f := newFixture(t)
		f.ver = 100
		if rep := f.reconcile(f.envelope(nil)); rep.Err != nil {
			t.Fatal(rep.Err)
		}
		before := f.acceptedVersion(t)
		data, err := json.Marshal([]spec.Entry{})
		if err != nil {
			t.Fatal(err)
		}
		issued := time.Now().Add(-2 * time.Hour)
		expired, _, err := spec.Pack(data, spec.PackOptions{Format: 2, Version: 200, Issued: issued, Expires: issued.Add(time.Hour), Key: f.priv})
		if err != nil {
			t.Fatal(err)
		}
		cfg := f.config()
		cfg.ResetRollback = true
		if rep := Reconcile(context.Background(), cfg, expired); !errors.Is(rep.Err, errs.ErrExpired) {
			t.Fatalf("an expired specification with a reset: %v", rep.Err)
		}
		if got := f.acceptedVersion(t); got != before {
			t.Fatalf("the refused reset changed the record from version %d to %d", before, got)
		}
		f.ver = 1
		if rep := f.reconcile(f.envelope(nil)); !errors.Is(rep.Err, errs.ErrRollback) {
			t.Fatalf("a replayed older specification after the refused reset: %v", rep.Err)
		}
	})
}
