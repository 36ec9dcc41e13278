package machines

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/errs"
)

// clock is a settable time for Config.Now.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestRetryMemory(t *testing.T) {
	// setup returns a fixture, a config remembering failures with a one-hour first wait, its
	// clock, and an entry whose source answers 404 until it is put on the server.
	setup := func(t *testing.T) (*fixture, Config, *clock, string) {
		f := newFixture(t)
		clk := &clock{t: time.Now()}
		cfg := f.config()
		cfg.Now = clk.now
		cfg.Retry = NewRetryMemory(RetryPolicy{Min: time.Hour, Max: 4 * time.Hour})
		return f, cfg, clk, "/web-missing.tgz"
	}
	reconcile := func(t *testing.T, cfg Config, env []byte) Result {
		t.Helper()
		rep := Reconcile(context.Background(), cfg, env)
		if rep.Err != nil {
			t.Fatal(rep.Err)
		}
		return result(t, rep, "web")
	}

	t.Run("holds a failing entry back until its next attempt is due, then tries again", func(t *testing.T) {
		f, cfg, clk, missing := setup(t)
		e := f.entry("web", "1", map[string]string{"run": "1"})
		e.Source = f.srv.URL + missing
		env := f.envelope(nil, e)

		r := reconcile(t, cfg, env)
		if !r.Failed() {
			t.Fatalf("first attempt: want a failure, got %+v", r)
		}
		// It says when it is attempted again: between half the first wait and all of it.
		if wait := r.RetryAt.Sub(clk.t); wait < 30*time.Minute || wait > time.Hour {
			t.Errorf("retry at %s, %s from now: want within the first wait", r.RetryAt, wait)
		}
		if want := "attempted again at the first reconcile after " + r.RetryAt.UTC().Format(time.RFC3339); !strings.Contains(r.Reason, want) {
			t.Errorf("reason %q does not say %q", r.Reason, want)
		}
		first := f.srv.Count(missing)
		if first == 0 {
			t.Fatal("the first reconcile made no request")
		}
		clk.t = clk.t.Add(29 * time.Minute) // less than half the first wait: surely not due
		r = reconcile(t, cfg, env)
		if !r.Failed() || f.srv.Count(missing) != first {
			t.Fatalf("a held entry was downloaded again: %d requests, result %+v", f.srv.Count(missing), r)
		}
		if !errors.Is(r.Err, errs.ErrFetch) || !strings.Contains(r.Reason, "not attempted again before") {
			t.Fatalf("the held result should say why and keep the last failure's family: %v", r.Err)
		}
		clk.t = clk.t.Add(time.Hour) // past the longest first wait
		reconcile(t, cfg, env)
		if f.srv.Count(missing) == first {
			t.Fatal("a due entry was not attempted again")
		}
	})

	t.Run("attempts a changed entry at once, and installs it", func(t *testing.T) {
		f, cfg, _, missing := setup(t)
		good := f.entry("web", "1", map[string]string{"run": "1"})
		bad := good
		bad.Source = f.srv.URL + missing
		reconcile(t, cfg, f.envelope(nil, bad))
		if r := reconcile(t, cfg, f.envelope(nil, good)); r.Failed() || r.Action != ActionInstall {
			t.Fatalf("the changed entry should install at once: %+v", r)
		}
	})

	t.Run("forgets an entry once it installs", func(t *testing.T) {
		f, cfg, clk, missing := setup(t)
		body, res := machineArchive(t, "web", map[string]string{"run": "1"})
		e := f.entry("web", "1", map[string]string{"run": "1"})
		e.Source, e.Checksum, e.VerifyChecksum = f.srv.URL+missing, res.Checksum, res.VerifyChecksum
		env := f.envelope(nil, e)
		reconcile(t, cfg, env)
		f.srv.Put(missing, body)
		clk.t = clk.t.Add(2 * time.Hour)
		if r := reconcile(t, cfg, env); r.Failed() {
			t.Fatalf("the source is back: %+v", r)
		}
		if n := len(cfg.Retry.entries); n != 0 {
			t.Fatalf("the memory still holds %d entries after the install", n)
		}
	})

	t.Run("without a memory every reconcile attempts the download again", func(t *testing.T) {
		f, cfg, _, missing := setup(t)
		cfg.Retry = nil
		e := f.entry("web", "1", map[string]string{"run": "1"})
		e.Source = f.srv.URL + missing
		env := f.envelope(nil, e)
		reconcile(t, cfg, env)
		first := f.srv.Count(missing)
		reconcile(t, cfg, env)
		if f.srv.Count(missing) <= first {
			t.Fatal("a reconcile without memory held the entry back")
		}
	})

	t.Run("a download cut short by its context is not a failure", func(t *testing.T) {
		m := NewRetryMemory(RetryPolicy{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		step := Step{Name: "web", Action: ActionInstall}
		m.record(ctx, step, context.Canceled, time.Now())
		if err := m.hold(step, time.Now()); err != nil {
			t.Fatalf("held after a cancelled download: %v", err)
		}
	})
}

func TestRetryPolicyWait(t *testing.T) {
	t.Run("doubles after each failure, jittered between half and all, never past Max", func(t *testing.T) {
		p := RetryPolicy{Min: time.Second, Max: 10 * time.Second}
		for failures, full := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 40: 10 * time.Second} {
			for range 100 {
				if d := p.wait(failures); d < full/2 || d > full {
					t.Fatalf("after %d failures: waited %s, want %s to %s", failures, d, full/2, full)
				}
			}
		}
	})
	t.Run("fills in the defaults", func(t *testing.T) {
		m := NewRetryMemory(RetryPolicy{})
		if m.policy.Min != DefaultRetryMin || m.policy.Max != DefaultRetryMax {
			t.Fatalf("policy %+v", m.policy)
		}
	})
}
