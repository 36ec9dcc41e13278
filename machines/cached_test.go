package machines

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mms-io/mms/machines/cache"
	"github.com/mms-io/mms/machines/install"
	"github.com/mms-io/mms/machines/spec"
)

// cachedConfig is the fixture's configuration with an archive cache of maxBytes.
func (f *fixture) cachedConfig(maxBytes int64) Config {
	cfg := f.config()
	cfg.CacheMaxBytes = maxBytes
	return cfg
}

// fetches is how many times the archive server was asked for the entry's archive.
func (f *fixture) fetches(url string) int {
	return f.srv.Count(url[strings.LastIndex(url, "/"):])
}

func TestArchiveCache(t *testing.T) {
	reconcile := func(t *testing.T, cfg Config, env []byte, name string) Result {
		t.Helper()
		rep := Reconcile(t.Context(), cfg, env)
		r := result(t, rep, name)
		if r.Failed() {
			t.Fatalf("%s: %+v", name, r)
		}
		return r
	}

	t.Run("a repair after tampering takes the kept archive and fetches nothing", func(t *testing.T) {
		f := newFixture(t)
		cfg := f.cachedConfig(cache.DefaultMaxBytes)
		web := f.entry("web", "1", map[string]string{"machine.yaml": "name: web\n", "app.txt": "v1\n"})
		env := f.envelope(nil, web)
		if r := reconcile(t, cfg, env, "web"); r.Action != ActionInstall || r.FromCache {
			t.Fatalf("install: %+v", r)
		}
		if err := os.WriteFile(filepath.Join(f.dir, "web", "app.txt"), []byte("tampered\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg.FullVerify = true
		r := reconcile(t, cfg, env, "web")
		if r.Action != ActionRepair || !r.FromCache || f.fetches(web.Source) != 1 {
			t.Fatalf("repair: %+v, %d fetches", r, f.fetches(web.Source))
		}
		if got := readFile(t, filepath.Join(f.dir, "web", "app.txt")); got != "v1\n" {
			t.Fatalf("repaired app.txt holds %q", got)
		}
	})

	t.Run("going back to the previous version fetches nothing", func(t *testing.T) {
		f, cfg, v1, v2 := updatedOnce(t, reconcile)
		r := reconcile(t, cfg, f.envelope(nil, v1), "web")
		if r.Action != ActionUpdate || !r.FromCache || f.fetches(v1.Source) != 1 || f.fetches(v2.Source) != 1 {
			t.Fatalf("back to v1: %+v, fetches v1 %d v2 %d", r, f.fetches(v1.Source), f.fetches(v2.Source))
		}
		if got := readFile(t, filepath.Join(f.dir, "web", "app.txt")); got != "v1\n" {
			t.Fatalf("app.txt holds %q", got)
		}
	})

	t.Run("a tampered cached archive is detected and fetched again", func(t *testing.T) {
		f, cfg, v1, _ := updatedOnce(t, reconcile)
		kept := install.StatePathFor(f.dir, filepath.Join(install.ArchiveCacheName, v1.Checksum+".tgz"))
		b, err := os.ReadFile(kept)
		if err != nil {
			t.Fatalf("v1's archive is not kept: %v", err)
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(kept, b, 0o600); err != nil {
			t.Fatal(err)
		}
		r := reconcile(t, cfg, f.envelope(nil, v1), "web")
		if r.FromCache || f.fetches(v1.Source) != 2 {
			t.Fatalf("back to v1: %+v, %d fetches of v1", r, f.fetches(v1.Source))
		}
		if got := readFile(t, filepath.Join(f.dir, "web", "app.txt")); got != "v1\n" {
			t.Fatalf("app.txt holds %q", got)
		}
		// and kept again, as fetched
		if u, err := cache.ReadUsage(f.dir); err != nil || u.Entries != 2 {
			t.Fatalf("cache usage %+v, %v", u, err)
		}
	})

	t.Run("keeps nothing with a bound of 0", func(t *testing.T) {
		f := newFixture(t)
		cfg := f.cachedConfig(0)
		web := f.entry("web", "1", map[string]string{"machine.yaml": "name: web\n"})
		reconcile(t, cfg, f.envelope(nil, web), "web")
		if _, err := os.Stat(install.StatePathFor(f.dir, install.ArchiveCacheName)); !os.IsNotExist(err) {
			t.Fatalf("a cache directory exists with a bound of 0: %v", err)
		}
	})

	t.Run("a bound of 0 removes what an earlier bound kept, at the next download", func(t *testing.T) {
		f := newFixture(t)
		v1 := f.entry("web", "1", map[string]string{"machine.yaml": "name: web\n", "app.txt": "v1\n"})
		v2 := f.entry("web", "2", map[string]string{"machine.yaml": "name: web\n", "app.txt": "v2\n"})
		reconcile(t, f.cachedConfig(cache.DefaultMaxBytes), f.envelope(nil, v1), "web")
		if u, err := cache.ReadUsage(f.dir); err != nil || u.Entries != 1 {
			t.Fatalf("usage with a bound: %+v, %v", u, err)
		}
		reconcile(t, f.cachedConfig(0), f.envelope(nil, v2), "web")
		if u, err := cache.ReadUsage(f.dir); err != nil || u.Entries != 0 {
			t.Fatalf("usage after a download with a bound of 0: %+v, %v", u, err)
		}
	})

	t.Run("never holds more than its bound, dropping the least recently used", func(t *testing.T) {
		f := newFixture(t)
		const bound = 4000 // two of these archives (about 1.9 KiB each: random bytes do not compress)
		cfg := f.cachedConfig(bound)
		var kept []string
		for _, v := range []string{"1", "2", "3", "4"} {
			e := f.entry("web", v, map[string]string{"machine.yaml": "name: web\n", "blob": string(randomBytes(t, 1500))})
			reconcile(t, cfg, f.envelope(nil, e), "web")
			u, err := cache.ReadUsage(f.dir)
			if err != nil || u.Bytes > bound {
				t.Fatalf("after version %s: usage %+v, %v", v, u, err)
			}
			kept = append(kept, e.Checksum)
			if !slices.Contains(u.Checksums, e.Checksum) {
				t.Fatalf("after version %s: the newest archive is not kept: %+v", v, u)
			}
			if v == "4" && (u.Entries != 2 || slices.Contains(u.Checksums, kept[0]) || slices.Contains(u.Checksums, kept[1])) {
				t.Fatalf("after version 4: usage %+v, want the two newest only", u)
			}
		}
	})
}

// updatedOnce installs web v1 and then v2 with an archive cache of the default bound, and
// returns the fixture, that configuration and both entries.
func updatedOnce(t *testing.T, reconcile func(*testing.T, Config, []byte, string) Result) (*fixture, Config, spec.Entry, spec.Entry) {
	t.Helper()
	f := newFixture(t)
	cfg := f.cachedConfig(cache.DefaultMaxBytes)
	v1 := f.entry("web", "1", map[string]string{"machine.yaml": "name: web\n", "app.txt": "v1\n"})
	v2 := f.entry("web", "2", map[string]string{"machine.yaml": "name: web\n", "app.txt": "v2\n"})
	reconcile(t, cfg, f.envelope(nil, v1), "web")
	reconcile(t, cfg, f.envelope(nil, v2), "web")
	return f, cfg, v1, v2
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
