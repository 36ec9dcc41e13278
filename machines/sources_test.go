package machines

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/fetch"
	"github.com/mms-io/mms/machines/match"
	"github.com/mms-io/mms/machines/spec"
)

// memSource serves archives from memory under mem://NAME: a second kind of source, as the
// Object Store will be, to prove the registry.
type memSource struct {
	archives map[string][]byte
	fetched  int
}

func (m *memSource) Fetch(_ context.Context, src fetch.Source, want string, w io.Writer) (fetch.Result, error) {
	m.fetched++
	body, ok := m.archives[strings.TrimPrefix(src.URL, "mem://")]
	if !ok {
		return fetch.Result{}, fmt.Errorf("%w: no archive at %s", errs.ErrFetch, src)
	}
	sum := sha256.Sum256(body)
	if got := hex.EncodeToString(sum[:]); got != want {
		return fetch.Result{SHA256: got}, fmt.Errorf("%w: expected %s got %s", errs.ErrChecksum, want, got)
	}
	_, err := io.Copy(w, bytes.NewReader(body))
	return fetch.Result{Bytes: int64(len(body)), SHA256: want}, err
}

func TestSources(t *testing.T) {
	f := newFixture(t)
	body, res := machineArchive(t, "web", map[string]string{"machine.yaml": "name: web\n"})
	mem := &memSource{archives: map[string][]byte{"web": body}}
	cfg := f.config()
	cfg.Sources = map[string]Fetcher{"mem": mem}
	entry := spec.Entry{Name: "web", Source: "mem://web", Checksum: res.Checksum, VerifyChecksum: res.VerifyChecksum}

	t.Run("installs from a source registered for its scheme", func(t *testing.T) {
		rep := Reconcile(context.Background(), cfg, f.envelope(nil, entry))
		if r := result(t, rep, "web"); r.Failed() || r.Action != ActionInstall || mem.fetched != 1 {
			t.Fatalf("web: %+v, fetched %d", r, mem.fetched)
		}
	})
	t.Run("the signed checksum decides, even when a source does not check it", func(t *testing.T) {
		// a source with a bug: it serves another archive and says nothing
		liar := sourceFunc(func(_ context.Context, _ fetch.Source, want string, w io.Writer) (fetch.Result, error) {
			other, _ := machineArchive(t, "web", map[string]string{"machine.yaml": "name: web\n", "evil": "x"})
			n, err := w.Write(other)
			return fetch.Result{Bytes: int64(n), SHA256: want}, err
		})
		c := cfg
		c.Sources = map[string]Fetcher{"liar": liar}
		e := entry
		e.Name, e.Source = "web", "liar://web"
		d := newFixture(t)
		c.Dir, c.Trust = d.dir, spec.Trust{Keys: []ed25519.PublicKey{d.pub}}
		rep := Reconcile(context.Background(), c, d.envelope(nil, e))
		if r := result(t, rep, "web"); !errors.Is(r.Err, errs.ErrChecksum) || !strings.Contains(r.Reason, res.Checksum) {
			t.Fatalf("web: %+v", r)
		}
		if _, err := os.Stat(filepath.Join(d.dir, "web")); !os.IsNotExist(err) {
			t.Fatalf("the unverified archive was installed: %v", err)
		}
	})
	t.Run("the signed checksum decides, whatever the source", func(t *testing.T) {
		bad := entry
		bad.Name, bad.Source = "db", "mem://web"
		bad.Checksum = strings.Repeat("ab", 32)
		rep := Reconcile(context.Background(), cfg, f.envelope(nil, entry, bad))
		if r := result(t, rep, "db"); !errors.Is(r.Err, errs.ErrChecksum) {
			t.Fatalf("db: %+v", r)
		}
	})
	t.Run("leaves a scheme nobody registered to the HTTP fetcher, which refuses it", func(t *testing.T) {
		other := entry
		other.Name, other.Source = "app", "ftp://host/app.tgz"
		rep := Reconcile(context.Background(), cfg, f.envelope(nil, entry, other))
		if r := result(t, rep, "app"); !r.Failed() || !strings.Contains(r.Reason+fmt.Sprint(r.Err), "not allowed") {
			t.Fatalf("app: %+v", r)
		}
	})
	t.Run("uses a registered source only when its scheme is allowed", func(t *testing.T) {
		c := cfg
		c.AllowedSchemes = []string{"https"}
		before := mem.fetched
		other := entry
		other.Name = "api"
		rep := Reconcile(context.Background(), c, f.envelope(nil, entry, other))
		r := result(t, rep, "api")
		if !r.Failed() || !errors.Is(r.Err, errs.ErrFetch) || !strings.Contains(r.Reason, `scheme "mem" is not allowed (allowed: https`) || mem.fetched != before {
			t.Fatalf("api: %+v, fetched %d", r, mem.fetched-before)
		}
	})
	t.Run("allowing only a registered scheme refuses http", func(t *testing.T) {
		c := cfg
		c.AllowedSchemes = []string{"mem"}
		web := entry
		web.Name = "app"
		web.Source = "http://127.0.0.1:1/app.tgz"
		rep := Reconcile(context.Background(), c, f.envelope(nil, web))
		if r := result(t, rep, "app"); !r.Failed() || !strings.Contains(r.Reason, `scheme "http" is not allowed (allowed: mem`) {
			t.Fatalf("app: %+v", r)
		}
	})
	t.Run("says how to allow a scheme in the host's words", func(t *testing.T) {
		c := cfg
		c.AllowedSchemes = []string{"https"}
		c.RaiseHint = func(setting string) string { return "the " + setting + " property" }
		other := entry
		other.Name, other.Source = "app", "http://127.0.0.1:1/app.tgz"
		rep := Reconcile(context.Background(), c, f.envelope(nil, other))
		if r := result(t, rep, "app"); !strings.Contains(r.Reason, `scheme "http" is not allowed (allowed: https; add it with the allow_schemes property)`) {
			t.Fatalf("app: %+v", r)
		}
	})
	t.Run("says when an allowed scheme has no source here", func(t *testing.T) {
		c := cfg
		c.AllowedSchemes = []string{"https", "obj"}
		obj := entry
		obj.Name, obj.Source = "app", "obj://archives/app.tgz"
		rep := Reconcile(context.Background(), c, f.envelope(nil, obj))
		if r := result(t, rep, "app"); !r.Failed() || !errors.Is(r.Err, errs.ErrFetch) || !strings.Contains(r.Reason, "nothing here reads it") {
			t.Fatalf("app: %+v", r)
		}
	})
	t.Run("refuses a source that would replace the HTTP fetcher", func(t *testing.T) {
		c := cfg
		c.Sources = map[string]Fetcher{"https": mem}
		rep := Reconcile(context.Background(), c, f.envelope(nil, entry))
		if r := result(t, rep, "web"); !r.Failed() {
			t.Fatalf("web: %+v", r)
		}
	})
}

func TestCheckPublishable(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	trust := spec.Trust{Keys: []ed25519.PublicKey{f.pub}}
	good := f.entry("web", "1", map[string]string{"machine.yaml": "name: web\n"})

	t.Run("accepts what a node with those keys and limits accepts", func(t *testing.T) {
		if _, err := CheckPublishable(f.envelope(nil, good), trust, match.Limits{}, now); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("refuses a matcher the node's limits refuse, though it compiles with larger ones", func(t *testing.T) {
		long := good
		long.Match = "identity('" + strings.Repeat("a", 200) + "')"
		env := f.envelope(nil, long)
		if _, err := CheckPublishable(env, trust, match.Limits{}, now); err != nil {
			t.Fatalf("default limits: %v", err)
		}
		if _, err := CheckPublishable(env, trust, match.Limits{MaxLength: 50}, now); !errors.Is(err, errs.ErrLimit) && !strings.Contains(fmt.Sprint(err), "max_matcher_length") {
			t.Fatalf("a node allowing 50 characters: %v", err)
		}
	})
	t.Run("refuses a signature the keys do not verify", func(t *testing.T) {
		_, other, _ := ed25519.GenerateKey(rand.Reader)
		if _, err := CheckPublishable(f.envelope(other, good), trust, match.Limits{}, now); !errors.Is(err, errs.ErrSignature) {
			t.Fatalf("got %v", err)
		}
	})
}

// sourceFunc is a Fetcher made of a function.
type sourceFunc func(ctx context.Context, src fetch.Source, want string, w io.Writer) (fetch.Result, error)

func (f sourceFunc) Fetch(ctx context.Context, src fetch.Source, want string, w io.Writer) (fetch.Result, error) {
	return f(ctx, src, want, w)
}
