package nodeloop

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/internal/testarchive"
	"github.com/mms-io/mms/machines/install"
	"github.com/mms-io/mms/machines/spec"
)

func TestPreemption(t *testing.T) {
	t.Run("a newer specification cancels the download in progress and applies at once", func(t *testing.T) {
		f := newFixture(t)
		dir := t.TempDir()
		obs := f.start(dir, time.Hour, nil)

		url, asked := testarchive.Hanging(t)
		sum := sha256.Sum256([]byte("never served"))
		hung := spec.Entry{Name: "web", Source: url, Checksum: hex.EncodeToString(sum[:]), VerifyChecksum: hex.EncodeToString(sum[:])}
		first := f.put(nil, hung)
		select {
		case <-asked:
		case <-time.After(waitLong):
			t.Fatal("the first specification's download did not start")
		}

		fix := f.put(nil, f.entry("web", "fixed"))
		obs.wait(t, "the fix installed", func(o []Outcome, _ []string) bool {
			r, ok := lastFor(o, fix, TriggerSpecification)
			return ok && r.Report.Changed()
		})
		if b, err := os.ReadFile(filepath.Join(dir, "web", "say.txt")); err != nil || string(b) != "fixed" {
			t.Fatalf("installed %q, %v", b, err)
		}
		pre, ok := lastFor(obs.snapshot(), first, TriggerSpecification)
		if !ok || !pre.Preempted {
			t.Fatalf("the first reconcile is not reported pre-empted: %+v", pre)
		}
		if count(obs.snapshotLogs(), "pre-empts the reconcile in progress") != 1 {
			t.Errorf("the pre-emption is not logged once: %v", obs.snapshotLogs())
		}
	})
}

func TestHoldsTheDirectory(t *testing.T) {
	t.Run("cleans stale staging when it starts, before any specification", func(t *testing.T) {
		f := newFixture(t)
		dir := t.TempDir()
		// What a crash in the middle of an install leaves: a staging directory with a random suffix.
		stale := filepath.Join(dir, ".mms-stage-web-0123456789abcdef")
		if err := os.MkdirAll(filepath.Join(stale, "web"), 0o755); err != nil {
			t.Fatal(err)
		}
		obs := f.start(dir, time.Hour, nil)
		obs.wait(t, "the cleaning", func(_ []Outcome, logs []string) bool {
			return count(logs, "removed what an interrupted install left behind") > 0
		})
		if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the stale staging is still there: %v", err)
		}
	})

	t.Run("refuses a second holder for its whole life, naming itself", func(t *testing.T) {
		f := newFixture(t)
		dir := t.TempDir()
		obs := f.start(dir, time.Hour, nil)
		obs.wait(t, "the start", func(_ []Outcome, logs []string) bool { return count(logs, "node loop starting") > 0 })
		_, err := install.Open(dir)
		if !errors.Is(err, install.ErrLocked) || !strings.Contains(err.Error(), install.Holder()) {
			t.Fatalf("a second Open while the loop runs: %v", err)
		}
		rev := f.put(nil, f.entry("web", "v1"))
		obs.wait(t, "the install", func(o []Outcome, _ []string) bool { _, ok := lastFor(o, rev, TriggerSpecification); return ok })
		if _, err := install.Open(dir); !errors.Is(err, install.ErrLocked) {
			t.Fatalf("a second Open after a reconcile: %v", err)
		}
	})

	t.Run("waits for a directory another process holds, and takes it when it is let go", func(t *testing.T) {
		f := newFixture(t)
		dir := t.TempDir()
		other, err := install.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		obs := f.start(dir, time.Hour, nil)
		rev := f.put(nil, f.entry("web", "v1"))
		obs.wait(t, "the refusal to hold", func(_ []Outcome, logs []string) bool {
			return count(logs, "cannot hold the machines directory") > 0
		})
		if _, err := os.Stat(filepath.Join(dir, "web")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("installed while another process held the directory: %v", err)
		}
		if err := other.Close(); err != nil {
			t.Fatal(err)
		}
		obs.wait(t, "the install once the directory is free", func(o []Outcome, _ []string) bool {
			for _, out := range o {
				if out.Revision == rev && out.Accepted() && out.Report.Changed() {
					return true
				}
			}
			return false
		})
	})
}

func TestFallbackAfterRestart(t *testing.T) {
	t.Run("after a restart, while the newest specification is refused, keeps repairing what the last accepted one installed", func(t *testing.T) {
		f := newFixture(t)
		dir := t.TempDir()
		ctx, stop := context.WithCancel(context.Background())
		first := f.startCtx(ctx, dir, time.Hour)
		good := f.put(nil, f.entry("web", "v1"))
		first.wait(t, "the install", func(o []Outcome, _ []string) bool { _, ok := lastFor(o, good, TriggerSpecification); return ok })
		stop()
		first.stopped(t)

		// While the node is down, a specification no trusted key signed is published.
		_, other, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		bad := f.put(other, f.entry("web", "evil"))

		obs := f.start(dir, 20*time.Millisecond, nil)
		obs.wait(t, "the refusal", func(o []Outcome, _ []string) bool {
			r, ok := lastFor(o, bad, TriggerStart)
			if !ok {
				r, ok = lastFor(o, bad, TriggerSpecification)
			}
			return ok && r.Report.Err != nil
		})
		file := filepath.Join(dir, "web", "say.txt")
		if err := os.WriteFile(file, []byte("tampered"), 0o644); err != nil {
			t.Fatal(err)
		}
		obs.wait(t, "a repair of the revision accepted before the restart", func(o []Outcome, _ []string) bool {
			r, ok := lastFor(o, good, TriggerFallback)
			return ok && r.Report.Changed()
		})
		if b, _ := os.ReadFile(file); string(b) != "v1" {
			t.Fatalf("after the repair the file says %q", b)
		}
	})
}
