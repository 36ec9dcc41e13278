package nodeloop

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/internal/testarchive"
	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/objstore"
)

// objEntry publishes an archive of machine name saying text to the Object Store bucket
// ARCHIVES and returns its entry, sourced from there.
func (f *fixture) objEntry(name, text string) spec.Entry {
	f.t.Helper()
	body, res := testarchive.Machine(f.t, name, map[string]string{"say.txt": text})
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	object := name + "-" + text + ".tgz"
	if _, err := objstore.Publish(ctx, f.js, "ARCHIVES", object, bytes.NewReader(body), 1); err != nil {
		f.t.Fatal(err)
	}
	return spec.Entry{Name: name, Source: "obj://ARCHIVES/" + object, Checksum: res.Checksum, VerifyChecksum: res.VerifyChecksum}
}

func TestUseObjectStore(t *testing.T) {
	t.Run("a loop installs an obj:// archive over the node's own connection", func(t *testing.T) {
		f := newFixture(t)
		dir := t.TempDir()
		obs := f.start(dir, time.Hour, func(l *Loop) {
			DefaultSettings().Apply(&l.Config)
			if err := UseObjectStore(&l.Config, f.js, ""); err != nil {
				t.Fatal(err)
			}
		})
		rev := f.put(nil, f.objEntry("web", "v1"))
		obs.wait(t, "the install", func(o []Outcome, _ []string) bool { _, ok := lastFor(o, rev, TriggerSpecification); return ok })
		o, _ := lastFor(obs.snapshot(), rev, TriggerSpecification)
		if o.Report.Failed() || !o.Report.Changed() {
			t.Fatalf("report %+v", o.Report)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "web", "say.txt")); err != nil || string(b) != "v1" {
			t.Fatalf("installed file: %q, %v", b, err)
		}
	})

	t.Run("registers nothing when allow_schemes leaves obj out, so obj:// is refused as not allowed", func(t *testing.T) {
		f := newFixture(t)
		s := DefaultSettings()
		st, _ := Lookup("allow_schemes")
		if err := st.Set(&s, "https"); err != nil {
			t.Fatal(err)
		}
		cfg := machines.Config{Dir: t.TempDir()}
		s.Apply(&cfg)
		if err := UseObjectStore(&cfg, f.js, ""); err != nil {
			t.Fatal(err)
		}
		if _, ok := cfg.Sources[objstore.Scheme]; ok {
			t.Fatal("the obj source was registered though allow_schemes is https")
		}
		r := reconcileOne(t, cfg, f, f.objEntry("web", "v1"))
		if !errors.Is(r.Err, errs.ErrFetch) || !strings.Contains(r.Reason, `scheme "obj" is not allowed (allowed: https`) {
			t.Fatalf("web: %+v", r)
		}
	})

	t.Run("without a connection yet, refuses with the reason the host gives", func(t *testing.T) {
		f := newFixture(t)
		cfg := machines.Config{Dir: t.TempDir()}
		DefaultSettings().Apply(&cfg)
		if err := UseObjectStore(&cfg, nil, "the machine's JetStream connection is not up yet"); err != nil {
			t.Fatal(err)
		}
		r := reconcileOne(t, cfg, f, f.objEntry("web", "v1"))
		if !errors.Is(r.Err, errs.ErrFetch) || !strings.Contains(r.Reason, "the machine's JetStream connection is not up yet") {
			t.Fatalf("web: %+v", r)
		}
	})
}

// reconcileOne reconciles cfg.Dir with a specification of entry signed by the fixture's key
// and returns entry's result.
func reconcileOne(t *testing.T, cfg machines.Config, f *fixture, entry spec.Entry) machines.Result {
	t.Helper()
	cfg.Trust = spec.Trust{Keys: append(cfg.Trust.Keys, f.pub)}
	env := testarchive.Envelope(t, f.priv, 1, time.Now().Add(-time.Minute), entry)
	rep := machines.Reconcile(context.Background(), cfg, env)
	for _, r := range rep.Results {
		if r.Name == entry.Name {
			return r
		}
	}
	t.Fatalf("no result for %s: %+v", entry.Name, rep)
	return machines.Result{}
}
