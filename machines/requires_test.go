package machines

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/mms-io/mms/internal/testarchive"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/install"
	"github.com/mms-io/mms/machines/match"
	"github.com/mms-io/mms/machines/spec"
)

// requiringEnvelope packs entries as the fixture's next v2 version, signed by its key, with
// a requires list (which mms pack refuses for features this mms does not know).
func (f *fixture) requiringEnvelope(requires []string, entries ...spec.Entry) []byte {
	f.t.Helper()
	if entries == nil {
		entries = []spec.Entry{}
	}
	f.ver++
	payload := fmt.Sprintf(`{"version":%d,"issued":%q,"requires":%s,"machines":%s}`,
		f.ver, f.issued.UTC().Format(time.RFC3339), mustMarshal(f.t, requires), mustMarshal(f.t, entries))
	env, err := spec.EncodeEnvelope([]byte(payload), f.priv)
	if err != nil {
		f.t.Fatal(err)
	}
	return env
}

func mustMarshal(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReconcileRefusesUnknownFeatures installs a machine, then gives every way into a
// machines directory a spec that omits it but requires features this mms does not know: each
// refuses it as a whole, says which features, and purges nothing.
func TestReconcileRefusesUnknownFeatures(t *testing.T) {
	f := newFixture(t)
	web := f.entry("web", "1", map[string]string{"a.txt": "a\n"})
	if rep := f.reconcile(f.envelope(nil, web)); rep.Failed() {
		t.Fatalf("setup: %+v", rep)
	}
	installed, state, version := snapshot(t, f.dir), testarchive.Tree(t, f.dir), f.acceptedVersion(t)
	unchanged := func(t *testing.T) {
		t.Helper()
		if got := snapshot(t, f.dir); !reflect.DeepEqual(got, installed) || got["web/a.txt"] != "a\n" {
			t.Fatalf("the machines changed:\n%v\nwant\n%v", got, installed)
		}
		if got := testarchive.Tree(t, f.dir); !reflect.DeepEqual(got, state) {
			t.Fatalf("the directory changed:\n%v\nwant\n%v", got, state)
		}
		if v := f.acceptedVersion(t); v != version {
			t.Fatalf("accepted version %d, want %d", v, version)
		}
	}
	refused := func(t *testing.T, err error, features ...string) {
		t.Helper()
		if !errors.Is(err, errs.ErrUnsupported) || errors.Is(err, errs.ErrInvalidSpec) {
			t.Fatalf("got %v, want errs.ErrUnsupported", err)
		}
		for _, want := range append(features, "this node's mms is older than the specification needs") {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%q does not say %q", err, want)
			}
		}
	}

	t.Run("Reconcile refuses a spec requiring an unknown feature and purges nothing", func(t *testing.T) {
		rep := f.reconcile(f.requiringEnvelope([]string{"teleport"}))
		refused(t, rep.Err, `feature "teleport"`)
		if !rep.Failed() || rep.Changed() || len(rep.Results) != 0 {
			t.Fatalf("report %+v", rep)
		}
		unchanged(t)
	})
	t.Run("Reconcile names both of two unknown features", func(t *testing.T) {
		rep := f.reconcile(f.requiringEnvelope([]string{"second-signature", "teleport"}, web))
		refused(t, rep.Err, `features "second-signature" and "teleport"`)
		unchanged(t)
	})
	t.Run("ReconcileStore, the node loop's way in (mms agent, the Choria watcher), refuses it too", func(t *testing.T) {
		st, err := install.Open(f.dir)
		if err != nil {
			t.Fatal(err)
		}
		rep := ReconcileStore(context.Background(), f.config(), st, f.requiringEnvelope([]string{"teleport"}))
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		refused(t, rep.Err, `"teleport"`)
		if rep.Changed() {
			t.Fatalf("report %+v", rep)
		}
		if got := snapshot(t, f.dir); !reflect.DeepEqual(got, installed) {
			t.Fatalf("the machines changed:\n%v\nwant\n%v", got, installed)
		}
		if v := f.acceptedVersion(t); v != version {
			t.Fatalf("accepted version %d, want %d", v, version)
		}
	})
	t.Run("Preview (mms apply --dry-run) refuses it", func(t *testing.T) {
		state = testarchive.Tree(t, f.dir) // the store above was opened and closed
		plan, rep := Preview(f.config(), f.requiringEnvelope([]string{"teleport"}))
		refused(t, rep.Err, `"teleport"`)
		if plan != nil {
			t.Fatalf("plan %+v", plan)
		}
		unchanged(t)
	})
	t.Run("CheckPublishable (mms put, mms pack) refuses it", func(t *testing.T) {
		s, err := CheckPublishable(f.requiringEnvelope([]string{"teleport"}, web), f.config().Trust, match.Limits{}, time.Now())
		if s != nil {
			t.Fatalf("publishable: %+v", s)
		}
		refused(t, err, `"teleport"`)
	})
	t.Run("the spec that follows, requiring nothing, is acted on", func(t *testing.T) {
		rep := f.reconcile(f.requiringEnvelope([]string{}))
		if rep.Err != nil || result(t, rep, "web").Action != ActionRemove {
			t.Fatalf("report %+v, %v", rep, rep.Err)
		}
	})
}
