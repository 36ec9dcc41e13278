package cache

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/install"
)

func TestTakeAfterKeep(t *testing.T) {
	t.Run("returns the same bytes, at offset 0, once the download is gone", func(t *testing.T) {
		f := newFixture(t)
		c := f.open(1 << 20)
		sum, path, data := f.archive(5000)
		f.keep(c, sum, path)
		if err := os.Remove(path); err != nil { // as staging is discarded after an install
			t.Fatal(err)
		}
		file, ok, err := c.Take(sum)
		if err != nil || !ok {
			t.Fatalf("Take = %v, %v; want a hit", ok, err)
		}
		defer file.Close()
		if off, _ := file.Seek(0, io.SeekCurrent); off != 0 {
			t.Errorf("the file is at offset %d, want 0", off)
		}
		got, _ := io.ReadAll(file)
		if !bytes.Equal(got, data) {
			t.Errorf("Take returned %d bytes that differ from the %d kept", len(got), len(data))
		}
		if u := c.Usage(); !reflect.DeepEqual(u, Usage{Entries: 1, Bytes: 5000, MaxBytes: 1 << 20, Checksums: []string{sum}}) {
			t.Errorf("Usage = %+v", u)
		}
	})
	t.Run("names the file by checksum only, and takes an upper-case checksum as the same archive", func(t *testing.T) {
		f := newFixture(t)
		c := f.open(1 << 20)
		sum, path, data := f.archive(100)
		f.keep(c, strings.ToUpper(sum), path)
		des, _ := os.ReadDir(f.dir())
		if len(des) != 1 || des[0].Name() != sum+".tgz" {
			t.Fatalf("cache directory holds %v, want only %s.tgz", des, sum)
		}
		if got := f.take(c, strings.ToUpper(sum)); !bytes.Equal(got, data) {
			t.Errorf("upper-case Take missed or returned other bytes")
		}
	})
	t.Run("misses an archive it never kept", func(t *testing.T) {
		f := newFixture(t)
		c := f.open(1 << 20)
		if got := f.take(c, strings.Repeat("ab", 32)); got != nil {
			t.Errorf("Take of an unknown checksum hit")
		}
	})
	t.Run("hard-links a download on the same filesystem instead of copying it", func(t *testing.T) {
		f := newFixture(t)
		c := f.open(1 << 20)
		sum, path, _ := f.archive(100)
		f.keep(c, sum, path)
		a, _ := os.Stat(path)
		b, err := os.Stat(filepath.Join(f.dir(), sum+".tgz"))
		if err != nil || !os.SameFile(a, b) {
			t.Errorf("the cached archive is not a hard link of the download (%v)", err)
		}
	})
	t.Run("copies a download from another filesystem", func(t *testing.T) {
		f := newFixture(t)
		f.stageElsewhere(t)
		c := f.open(1 << 20)
		sum, path, data := f.archive(70000)
		f.keep(c, sum, path)
		a, _ := os.Stat(path)
		b, err := os.Stat(filepath.Join(f.dir(), sum+".tgz"))
		if err != nil || os.SameFile(a, b) {
			t.Fatalf("want a copy in the cache (%v)", err)
		}
		if b.Mode().Perm() != 0o600 {
			t.Errorf("the copy has mode %04o, want 0600", b.Mode().Perm())
		}
		if got := f.take(c, sum); !bytes.Equal(got, data) {
			t.Errorf("Take of the copy missed or returned other bytes")
		}
		if !strings.Contains(f.logs.String(), "copying") {
			t.Errorf("the fallback to a copy was not logged:\n%s", f.logs)
		}
	})
}

func sameDevice(t *testing.T, a, b string) bool {
	t.Helper()
	var sa, sb syscall.Stat_t
	if syscall.Stat(a, &sa) != nil || syscall.Stat(b, &sb) != nil {
		t.Fatal("stat")
	}
	return sa.Dev == sb.Dev
}

func TestTakeRefusesATamperedArchive(t *testing.T) {
	t.Run("a changed byte, same size: removed, a miss, and a warning with both checksums", func(t *testing.T) {
		f := newFixture(t)
		c := f.open(1 << 20)
		sum, path, data := f.archive(3000)
		f.keep(c, sum, path)
		os.Remove(path)
		cachedPath := filepath.Join(f.dir(), sum+".tgz")
		tampered := bytes.Clone(data)
		tampered[1234] ^= 0xff
		if err := os.WriteFile(cachedPath, tampered, 0o600); err != nil {
			t.Fatal(err)
		}
		file, ok, err := c.Take(sum)
		if err != nil || ok || file != nil {
			t.Fatalf("Take = %v, %v, %v; want a miss without error", file, ok, err)
		}
		if _, err := os.Lstat(cachedPath); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the tampered archive is still there (%v)", err)
		}
		if u := c.Usage(); u.Entries != 0 || u.Bytes != 0 {
			t.Errorf("Usage = %+v after removing the only archive", u)
		}
		logs := f.logs.String()
		for _, want := range []string{"level=WARN", "checksum=" + sum, "expected=" + sum, "got=" + sumOf(tampered)} {
			if !strings.Contains(logs, want) {
				t.Errorf("the warning lacks %q:\n%s", want, logs)
			}
		}
	})
	t.Run("an archive replaced by a symlink to another archive is removed, not what it points to", func(t *testing.T) {
		f := newFixture(t)
		c := f.open(1 << 20)
		a, pa, _ := f.archive(100)
		b, pb, dataB := f.archive(100)
		f.keep(c, a, pa)
		f.keep(c, b, pb)
		link := filepath.Join(f.dir(), a+".tgz")
		os.Remove(link)
		if err := os.Symlink(b+".tgz", link); err != nil {
			t.Fatal(err)
		}
		if got := f.take(c, a); got != nil {
			t.Fatalf("Take through a symlink hit")
		}
		if _, err := os.Lstat(link); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the symlink is still there (%v)", err)
		}
		if got := f.take(c, b); !bytes.Equal(got, dataB) {
			t.Errorf("the archive the symlink pointed to is gone or changed")
		}
	})
	t.Run("an archive replaced by a FIFO is removed without blocking", func(t *testing.T) {
		f := newFixture(t)
		c := f.open(1 << 20)
		sum, path, _ := f.archive(100)
		f.keep(c, sum, path)
		name := filepath.Join(f.dir(), sum+".tgz")
		os.Remove(name)
		if err := syscall.Mkfifo(name, 0o600); err != nil {
			t.Fatal(err)
		}
		done := make(chan []byte)
		go func() { done <- f.take(c, sum) }()
		select {
		case got := <-done:
			if got != nil {
				t.Errorf("Take of a FIFO hit")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Take blocked on a FIFO")
		}
		if _, err := os.Lstat(name); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the FIFO is still there (%v)", err)
		}
	})
	t.Run("an archive deleted behind the cache's back is a miss", func(t *testing.T) {
		f := newFixture(t)
		c := f.open(1 << 20)
		sum, path, _ := f.archive(100)
		f.keep(c, sum, path)
		os.Remove(filepath.Join(f.dir(), sum+".tgz"))
		if got := f.take(c, sum); got != nil {
			t.Errorf("Take of a deleted archive hit")
		}
		if u := c.Usage(); u.Entries != 0 || u.Bytes != 0 {
			t.Errorf("Usage = %+v, want the deleted archive forgotten", u)
		}
	})
}

func TestKeep(t *testing.T) {
	t.Run("a linked file that does not hash to its checksum is never taken: a miss, removed", func(t *testing.T) {
		f := newFixture(t)
		c := f.open(1000)
		_, path, _ := f.archive(1000)
		other, _, _ := f.archive(10)
		f.keep(c, other, path) // linked as it is: Keep reads nothing
		if file, ok, err := c.Take(other); ok || err != nil {
			if file != nil {
				file.Close()
			}
			t.Fatalf("Take = %v, %v; want a miss", ok, err)
		}
		if n := dirBytes(t, f.dir()); n != 0 {
			t.Errorf("the cache directory holds %d bytes after the refusal", n)
		}
		if !strings.Contains(f.logs.String(), other) {
			t.Errorf("the refusal was not logged with the checksum:\n%s", f.logs)
		}
	})
	t.Run("refuses a copy that does not hash to the checksum, and keeps nothing", func(t *testing.T) {
		f := newFixture(t)
		f.stageElsewhere(t)
		c := f.open(1000)
		_, path, _ := f.archive(1000)
		other, _, _ := f.archive(10)
		err := c.Keep(other, path)
		if !errors.Is(err, errs.ErrChecksum) || !strings.Contains(err.Error(), other) || !strings.Contains(err.Error(), path) {
			t.Fatalf("Keep = %v, want a checksum mismatch naming both the checksum and the path", err)
		}
		if n := dirBytes(t, f.dir()); n != 0 {
			t.Errorf("the cache directory holds %d bytes after a refusal", n)
		}
		// The refused archive's room was given back: one of the bound's full size fits.
		sum, p, _ := f.archive(1000)
		f.keep(c, sum, p)
		if u := c.Usage(); u.Entries != 1 {
			t.Errorf("Usage = %+v, want the second archive kept", u)
		}
	})
	t.Run("does not keep an archive larger than the bound, and evicts nothing for it", func(t *testing.T) {
		f := newFixture(t)
		c := f.open(1000)
		small, ps, _ := f.archive(600)
		f.keep(c, small, ps)
		big, pb, _ := f.archive(1001)
		f.keep(c, big, pb)
		if got := cached(t, f.dir()); len(got) != 1 || !got[small] {
			t.Errorf("cache holds %v, want only the small archive", got)
		}
		if !strings.Contains(f.logs.String(), "larger than the bound") {
			t.Errorf("not keeping it was not logged:\n%s", f.logs)
		}
	})
	t.Run("keeping an archive already kept is a use, not a second copy", func(t *testing.T) {
		f := newFixture(t)
		c := f.open(1 << 20)
		sum, path, _ := f.archive(100)
		f.keep(c, sum, path)
		f.keep(c, sum, path)
		if u := c.Usage(); u.Entries != 1 || u.Bytes != 100 {
			t.Errorf("Usage = %+v", u)
		}
	})
	t.Run("fails after Close", func(t *testing.T) {
		f := newFixture(t)
		c := f.open(1 << 20)
		sum, path, _ := f.archive(100)
		c.Close()
		if err := c.Keep(sum, path); !errors.Is(err, ErrClosed) {
			t.Errorf("Keep after Close = %v", err)
		}
		if _, _, err := c.Take(sum); !errors.Is(err, ErrClosed) {
			t.Errorf("Take after Close = %v", err)
		}
	})
}

func TestTheBoundIsNeverExceeded(t *testing.T) {
	t.Run("many archives of varied sizes, the least recently used (not added) go first", func(t *testing.T) {
		const max = 10000
		f := newFixture(t)
		c := f.open(max)
		// model is the cache as it should be: checksums from the least to the most recently used.
		var model []string
		sizes := map[string]int64{}
		modelBytes := func() (n int64) {
			for _, s := range model {
				n += sizes[s]
			}
			return n
		}
		use := func(sum string) {
			for i, s := range model {
				if s == sum {
					model = append(model[:i:i], model[i+1:]...)
				}
			}
			model = append(model, sum)
		}
		for i := range 60 {
			size := 200 + f.rng.IntN(3800)
			sum, path, _ := f.archive(size)
			sizes[sum] = int64(size)
			for modelBytes()+int64(size) > max {
				model = model[1:]
			}
			f.keep(c, sum, path)
			use(sum)
			if n := dirBytes(t, f.dir()); n > max {
				t.Fatalf("after Keep %d the cache directory holds %d bytes, over the bound of %d", i, n, max)
			}
			// Every third step, use the oldest survivor: it must then outlive younger ones.
			if i%3 == 0 && len(model) > 1 {
				if f.take(c, model[0]) == nil {
					t.Fatalf("step %d: the least recently used archive is missing before its eviction", i)
				}
				use(model[0])
			}
			got := cached(t, f.dir())
			if len(got) != len(model) {
				t.Fatalf("step %d: cache holds %d archives, the LRU model %d", i, len(got), len(model))
			}
			for _, s := range model {
				if !got[s] {
					t.Fatalf("step %d: archive %s should have survived (used more recently than those evicted)", i, s[:12])
				}
			}
			if u := c.Usage(); u.Bytes != dirBytes(t, f.dir()) || u.Entries != len(model) {
				t.Fatalf("step %d: Usage %+v disagrees with the directory", i, u)
			}
		}
	})
	t.Run("a refreshed archive survives, the next oldest goes", func(t *testing.T) {
		f := newFixture(t)
		c := f.open(3000)
		a, pa, _ := f.archive(1000)
		b, pb, _ := f.archive(1000)
		d, pd, _ := f.archive(1000)
		f.keep(c, a, pa)
		f.keep(c, b, pb)
		f.keep(c, d, pd)
		f.take(c, a) // a was added first but used last
		e, pe, _ := f.archive(1000)
		f.keep(c, e, pe)
		if got := cached(t, f.dir()); got[b] || !got[a] || !got[d] || !got[e] {
			t.Errorf("cache holds %v, want a, d and e (b least recently used)", got)
		}
	})
}

func TestOpen(t *testing.T) {
	t.Run("removes leftovers of a crash and ignores files it did not write", func(t *testing.T) {
		f := newFixture(t)
		f.open(1 << 20).Close()
		tmp := filepath.Join(f.dir(), tempPrefix+"CRASHED")
		if err := os.WriteFile(tmp, []byte("half an archive"), 0o600); err != nil {
			t.Fatal(err)
		}
		foreign := filepath.Join(f.dir(), "NOTES.txt")
		if err := os.WriteFile(foreign, []byte("hand-placed"), 0o600); err != nil {
			t.Fatal(err)
		}
		c := f.open(1 << 20)
		if _, err := os.Lstat(tmp); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the temporary file of a crash is still there (%v)", err)
		}
		if _, err := os.Lstat(foreign); err != nil {
			t.Errorf("a file the cache did not write was removed: %v", err)
		}
		if u := c.Usage(); u.Entries != 0 || u.Bytes != 0 {
			t.Errorf("Usage = %+v counts a file the cache did not write", u)
		}
	})
	t.Run("usage and the order of use survive reopening", func(t *testing.T) {
		f := newFixture(t)
		c := f.open(3000)
		a, pa, dataA := f.archive(1000)
		b, pb, _ := f.archive(1000)
		d, pd, _ := f.archive(500)
		f.keep(c, a, pa)
		f.keep(c, b, pb)
		f.keep(c, d, pd)
		f.take(c, a)
		want := c.Usage()
		c.Close()
		c = f.open(3000)
		if got := c.Usage(); !reflect.DeepEqual(got, want) {
			t.Errorf("Usage after reopening = %+v, want %+v", got, want)
		}
		if got := f.take(c, a); !bytes.Equal(got, dataA) {
			t.Errorf("Take after reopening missed")
		}
		e, pe, _ := f.archive(1000)
		f.keep(c, e, pe)
		if got := cached(t, f.dir()); got[b] || !got[a] || !got[d] || !got[e] {
			t.Errorf("cache holds %v, want b (least recently used before the restart) evicted", got)
		}
	})
	t.Run("a lowered bound evicts down to it at once", func(t *testing.T) {
		f := newFixture(t)
		c := f.open(10000)
		var sums []string
		for range 5 {
			sum, p, _ := f.archive(1000)
			f.keep(c, sum, p)
			sums = append(sums, sum)
		}
		c.Close()
		c = f.open(2500)
		if n := dirBytes(t, f.dir()); n > 2500 {
			t.Errorf("the cache directory holds %d bytes, over the new bound", n)
		}
		if got := cached(t, f.dir()); len(got) != 2 || !got[sums[3]] || !got[sums[4]] {
			t.Errorf("cache holds %v, want the two most recently used", got)
		}
	})
	t.Run("a negative bound is an error", func(t *testing.T) {
		f := newFixture(t)
		if _, err := Open(f.machines, -1, nil); err == nil {
			t.Error("Open with a negative bound succeeded")
		}
		if _, err := os.Lstat(filepath.Join(f.machines, ".mms")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a refused Open created .mms")
		}
	})
}

func TestDisabled(t *testing.T) {
	t.Run("a bound of 0 creates nothing and keeps nothing", func(t *testing.T) {
		f := newFixture(t)
		c := f.open(0)
		sum, path, _ := f.archive(100)
		f.keep(c, sum, path)
		if got := f.take(c, sum); got != nil {
			t.Error("a disabled cache hit")
		}
		unlock, err := c.Lock(t.Context(), sum)
		if err != nil {
			t.Fatal(err)
		}
		unlock()
		if _, err := os.Lstat(filepath.Join(f.machines, ".mms")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a disabled cache created .mms (%v)", err)
		}
		if u := c.Usage(); !reflect.DeepEqual(u, Usage{}) {
			t.Errorf("Usage = %+v", u)
		}
	})
	t.Run("a bound of 0 removes what a previous run kept", func(t *testing.T) {
		f := newFixture(t)
		c := f.open(1 << 20)
		sum, path, _ := f.archive(100)
		f.keep(c, sum, path)
		c.Close()
		f.open(0)
		if _, err := os.Lstat(f.dir()); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the archives of an earlier run are still there (%v)", err)
		}
	})
	t.Run("a nil cache is a disabled one", func(t *testing.T) {
		var c *Cache
		f := newFixture(t)
		sum, path, _ := f.archive(100)
		if err := c.Keep(sum, path); err != nil {
			t.Error(err)
		}
		if _, ok, err := c.Take(sum); ok || err != nil {
			t.Errorf("Take = %v, %v", ok, err)
		}
		if u := c.Usage(); !reflect.DeepEqual(u, Usage{}) {
			t.Errorf("Usage = %+v", u)
		}
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
}

func TestInvalidChecksumsAreRefused(t *testing.T) {
	f := newFixture(t)
	_, path, _ := f.archive(10)
	bad := []string{
		"",
		strings.Repeat("a", 63),
		strings.Repeat("a", 65),
		strings.Repeat("g", 64),
		"../" + strings.Repeat("a", 61),
		strings.Repeat("a", 60) + ".tgz",
		strings.Repeat("a", 62) + "/x",
		strings.Repeat("a", 63) + "\x00",
	}
	for _, c := range []*Cache{f.open(1 << 20), f.open(0), nil} {
		for _, sum := range bad {
			if _, _, err := c.Take(sum); !errors.Is(err, ErrInvalidChecksum) {
				t.Errorf("Take(%q) = %v", sum, err)
			}
			if err := c.Keep(sum, path); !errors.Is(err, ErrInvalidChecksum) {
				t.Errorf("Keep(%q) = %v", sum, err)
			}
			if _, err := c.Lock(t.Context(), sum); !errors.Is(err, ErrInvalidChecksum) {
				t.Errorf("Lock(%q) = %v", sum, err)
			}
		}
	}
	if des, _ := os.ReadDir(f.dir()); len(des) != 0 {
		t.Errorf("the cache directory holds %v", des)
	}
}

func TestUnsafeArchivesDirectoryIsRefused(t *testing.T) {
	prepare := func(t *testing.T) *fixture {
		f := newFixture(t)
		if _, err := install.StateDir(f.machines); err != nil {
			t.Fatal(err)
		}
		return f
	}
	refused := func(t *testing.T, f *fixture, why string) {
		t.Helper()
		c, err := Open(f.machines, 1<<20, nil)
		if err == nil {
			c.Close()
			t.Fatalf("Open accepted an archives directory that %s", why)
		}
		if !errors.Is(err, install.ErrStateDir) || !strings.Contains(err.Error(), f.dir()) {
			t.Errorf("Open = %v, want install.ErrStateDir naming %s", err, f.dir())
		}
		if _, err := ReadUsage(f.machines); !errors.Is(err, install.ErrStateDir) {
			t.Errorf("ReadUsage = %v, want install.ErrStateDir", err)
		}
	}
	t.Run("a symlink, and nothing is written where it points", func(t *testing.T) {
		f := prepare(t)
		elsewhere := t.TempDir()
		os.WriteFile(filepath.Join(elsewhere, tempPrefix+"x"), nil, 0o600)
		if err := os.Symlink(elsewhere, f.dir()); err != nil {
			t.Fatal(err)
		}
		refused(t, f, "is a symlink")
		if _, err := os.Lstat(filepath.Join(elsewhere, tempPrefix+"x")); err != nil {
			t.Errorf("a file where the symlink points was removed: %v", err)
		}
	})
	t.Run("writable by others (0777)", func(t *testing.T) {
		f := prepare(t)
		os.Mkdir(f.dir(), 0o700)
		if err := os.Chmod(f.dir(), 0o777); err != nil {
			t.Fatal(err)
		}
		refused(t, f, "is mode 0777")
	})
	t.Run("not a directory", func(t *testing.T) {
		f := prepare(t)
		os.WriteFile(f.dir(), nil, 0o600)
		refused(t, f, "is a file")
	})
	t.Run("owned by another user", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to give a directory to another user")
		}
		f := prepare(t)
		os.Mkdir(f.dir(), 0o700)
		if err := os.Chown(f.dir(), 65534, 65534); err != nil {
			t.Fatal(err)
		}
		refused(t, f, "belongs to another user")
	})
	t.Run("an unsafe .mms is refused before the archives directory is created", func(t *testing.T) {
		f := prepare(t)
		os.Chmod(filepath.Join(f.machines, ".mms"), 0o777)
		if _, err := Open(f.machines, 1<<20, nil); !errors.Is(err, install.ErrStateDir) {
			t.Errorf("Open = %v, want install.ErrStateDir", err)
		}
		if _, err := os.Lstat(f.dir()); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the archives directory was created through an unsafe .mms")
		}
	})
}

func TestReadUsage(t *testing.T) {
	t.Run("creates nothing in a machines directory without a cache", func(t *testing.T) {
		f := newFixture(t)
		u, err := ReadUsage(f.machines)
		if err != nil || !reflect.DeepEqual(u, Usage{}) {
			t.Errorf("ReadUsage = %+v, %v", u, err)
		}
		if _, err := os.Lstat(filepath.Join(f.machines, ".mms")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("ReadUsage created .mms (%v)", err)
		}
		if _, err := install.StateDir(f.machines); err != nil {
			t.Fatal(err)
		}
		if u, err := ReadUsage(f.machines); err != nil || !reflect.DeepEqual(u, Usage{}) {
			t.Errorf("ReadUsage = %+v, %v", u, err)
		}
		if _, err := os.Lstat(f.dir()); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("ReadUsage created the archives directory (%v)", err)
		}
	})
	t.Run("reports what the cache holds", func(t *testing.T) {
		f := newFixture(t)
		c := f.open(1 << 20)
		var sums []string
		for _, n := range []int{100, 2000, 30} {
			sum, p, _ := f.archive(n)
			f.keep(c, sum, p)
			sums = append(sums, sum)
		}
		slices.Sort(sums)
		u, err := ReadUsage(f.machines)
		if want := (Usage{Entries: 3, Bytes: 2130, Checksums: sums}); err != nil || !reflect.DeepEqual(u, want) {
			t.Errorf("ReadUsage = %+v, %v; want %+v", u, err, want)
		}
	})
}

// stageElsewhere puts the fixture's downloads on another filesystem than the cache's (/dev/shm),
// where Keep must copy; it skips the test when there is none.
func (f *fixture) stageElsewhere(t *testing.T) {
	t.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "mms-cache-test-")
	if err != nil {
		t.Skipf("no second filesystem: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if sameDevice(t, dir, f.machines) {
		t.Skip("/dev/shm is on the filesystem of the test's temporary directory")
	}
	f.staging = dir
}
