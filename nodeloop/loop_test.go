package nodeloop

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLoop(t *testing.T) {
	t.Run("installs a put, reports it to Observe as a change and saves it for mms status", func(t *testing.T) {
		f := newFixture(t)
		dir := t.TempDir()
		obs := f.start(dir, time.Hour, nil)
		rev := f.put(nil, f.entry("web", "v1"))
		obs.wait(t, "the change", func(o []Outcome, _ []string) bool { _, ok := lastFor(o, rev, TriggerSpecification); return ok })
		o, _ := lastFor(obs.outcomes, rev, TriggerSpecification)
		if o.Report.Failed() || !o.Report.Changed() || o.Created.IsZero() {
			t.Fatalf("report %+v, created %s", o.Report, o.Created)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "web", "say.txt")); err != nil || string(b) != "v1" {
			t.Fatalf("installed file: %q, %v", b, err)
		}
		lr, ok, err := ReadLastReport(dir)
		if err != nil || !ok || lr.Revision != rev || !strings.Contains(lr.Trigger, string(TriggerSpecification)) {
			t.Fatalf("last report %+v, %v, %v", lr, ok, err)
		}
	})

	t.Run("saves no last report without the observer that saves it", func(t *testing.T) {
		f := newFixture(t)
		dir := t.TempDir()
		obs := f.start(dir, time.Hour, func(l *Loop) { l.Observers = l.Observers[1:] })
		rev := f.put(nil, f.entry("web", "v1"))
		obs.wait(t, "the change", func(o []Outcome, _ []string) bool { _, ok := lastFor(o, rev, TriggerSpecification); return ok })
		if _, ok, _ := ReadLastReport(dir); ok {
			t.Fatal("a last report was saved")
		}
	})

	t.Run("never runs two reconciles at once, and ends on the newest of a burst of puts", func(t *testing.T) {
		f := newFixture(t)
		dir := t.TempDir()
		var mu sync.Mutex
		inFlight, most := 0, 0
		entered := make(chan struct{}, 1)
		release := make(chan struct{})
		obs := f.start(dir, 20*time.Millisecond, func(l *Loop) {
			// Every entry names a governor: it marks when a reconcile downloads, and holds the
			// first download until the burst is published.
			l.Config.Governor = func(ctx context.Context, name, governor string) (func(), error) {
				mu.Lock()
				inFlight++
				most = max(most, inFlight)
				mu.Unlock()
				select {
				case entered <- struct{}{}:
					<-release
				default:
				}
				return func() { mu.Lock(); inFlight--; mu.Unlock() }, nil
			}
		})
		e := f.entry("web", "v0")
		e.Governor = "g"
		f.put(nil, e)
		<-entered
		var last uint64
		for i := range 5 {
			e := f.entry("web", "v"+string(rune('1'+i)))
			e.Governor = "g"
			last = f.put(nil, e)
		}
		close(release)
		obs.wait(t, "the newest revision installed", func(o []Outcome, _ []string) bool {
			r, ok := lastFor(o, last, TriggerSpecification)
			return ok && !r.Report.Failed()
		})
		mu.Lock()
		defer mu.Unlock()
		if most != 1 {
			t.Fatalf("%d downloads ran at once", most)
		}
		var prev uint64
		for _, o := range obs.outcomes {
			if o.Has(TriggerSpecification) && o.Report != nil && o.Revision <= prev {
				t.Fatalf("revision %d reconciled after %d", o.Revision, prev)
			}
			if o.Has(TriggerSpecification) && o.Report != nil {
				prev = o.Revision
			}
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "web", "say.txt")); string(b) != "v5" {
			t.Fatalf("installed %q, want v5", b)
		}
	})

	t.Run("purges nothing when the key is deleted, and keeps repairing what it installed", func(t *testing.T) {
		f := newFixture(t)
		dir := t.TempDir()
		obs := f.start(dir, 20*time.Millisecond, nil)
		rev := f.put(nil, f.entry("web", "v1"))
		obs.wait(t, "the install", func(o []Outcome, _ []string) bool { _, ok := lastFor(o, rev, TriggerSpecification); return ok })
		kv, err := f.js.KeyValue(context.Background(), bucket)
		if err != nil {
			t.Fatal(err)
		}
		if err := kv.Delete(context.Background(), key); err != nil {
			t.Fatal(err)
		}
		obs.wait(t, "the deletion, reported as no specification", func(o []Outcome, logs []string) bool {
			return count(logs, "specification deleted") > 0 && len(o) > 0 && o[len(o)-1].Missing
		})
		file := filepath.Join(dir, "web", "say.txt")
		if err := os.WriteFile(file, []byte("tampered"), 0o644); err != nil {
			t.Fatal(err)
		}
		obs.wait(t, "a repair of the last accepted specification", func(o []Outcome, _ []string) bool {
			r, ok := lastFor(o, rev, TriggerFallback)
			return ok && r.Report.Changed()
		})
		if b, err := os.ReadFile(file); err != nil || string(b) != "v1" {
			t.Fatalf("the machine after the deletion: %q, %v", b, err)
		}
	})

	t.Run("says once per specification, at info, that an entry is not for this node", func(t *testing.T) {
		f := newFixture(t)
		obs := f.start(t.TempDir(), 20*time.Millisecond, func(l *Loop) { l.Config.Node.Identity = "db1" })
		web := f.entry("web", "1")
		web.Match = "identity('^web')"
		f.put(nil, web)
		const said = "INFO not for this node"
		passes := func(o []Outcome) int {
			n := 0
			for _, out := range o {
				if out.Report != nil && out.Report.Err == nil {
					n++
				}
			}
			return n
		}
		obs.wait(t, "three passes", func(o []Outcome, logs []string) bool { return passes(o) >= 3 })
		if n := count(obs.snapshotLogs(), said); n != 1 {
			t.Fatalf("said %d times over three passes, want once", n)
		}
		f.put(nil, web, f.entry("db", "1"))
		seen := passes(obs.snapshot())
		obs.wait(t, "three passes of the new specification", func(o []Outcome, logs []string) bool { return passes(o) >= seen+3 })
		if n := count(obs.snapshotLogs(), said); n != 2 {
			t.Fatalf("said %d times over two specifications, want twice", n)
		}
	})

	t.Run("says there is no specification until one is published", func(t *testing.T) {
		f := newFixture(t)
		obs := f.start(t.TempDir(), 20*time.Millisecond, nil)
		obs.wait(t, "two idle ticks", func(o []Outcome, logs []string) bool {
			missing := 0
			for _, out := range o {
				if out.Missing && out.Report == nil {
					missing++
				}
			}
			return missing >= 2 && count(logs, "no specification yet") >= 2
		})
	})

	t.Run("keeps repairing what the last accepted specification installed when the newest is refused", func(t *testing.T) {
		f := newFixture(t)
		dir := t.TempDir()
		obs := f.start(dir, 20*time.Millisecond, nil)
		good := f.put(nil, f.entry("web", "v1"))
		obs.wait(t, "the install", func(o []Outcome, _ []string) bool { _, ok := lastFor(o, good, TriggerSpecification); return ok })
		_, other, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		bad := f.put(other, f.entry("web", "v2"))
		obs.wait(t, "the refusal", func(o []Outcome, _ []string) bool {
			r, ok := lastFor(o, bad, TriggerSpecification)
			return ok && r.Report.Err != nil
		})
		file := filepath.Join(dir, "web", "say.txt")
		if err := os.WriteFile(file, []byte("tampered"), 0o644); err != nil {
			t.Fatal(err)
		}
		obs.wait(t, "a repair by the fallback", func(o []Outcome, _ []string) bool {
			for _, out := range o {
				if out.Has(TriggerFallback) && out.Revision == good && out.Report.Changed() {
					return true
				}
			}
			return false
		})
		if b, _ := os.ReadFile(file); string(b) != "v1" {
			t.Fatalf("after the repair the file says %q", b)
		}
	})
}
