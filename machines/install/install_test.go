package install

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mms-io/mms/machines/errs"
)

func TestCommit(t *testing.T) {
	t.Run("installs a new machine and records it", func(t *testing.T) {
		dir := t.TempDir()
		s := openStore(t, dir)
		v1 := version("v1", 3)
		st := stage(t, s, "web", v1)
		if filepath.Dir(st.Dir()) != dir || !isMMSName(filepath.Base(st.Dir())) || st.Path() != filepath.Join(st.Dir(), "web") {
			t.Fatalf("staging at %s / %s is not a dot-prefixed mms name beside the machines", st.Dir(), st.Path())
		}
		if fi, err := os.Stat(st.Dir()); err != nil || fi.Mode().Perm() != 0o755 {
			t.Fatalf("staging dir mode = %v, %v; want 0755", fi.Mode(), err)
		}
		if err := s.Commit(st, Managed{Checksum: "sum1", Source: "https://example.net/web.tgz"}); err != nil {
			t.Fatal(err)
		}
		if got := readTree(t, filepath.Join(dir, "web")); !equalFiles(got, v1) {
			t.Fatalf("installed %v, want %v", got, v1)
		}
		m, ok := s.Managed("web")
		if !ok || m.Name != "web" || m.Checksum != "sum1" || m.InstalledAt.IsZero() {
			t.Fatalf("Managed(web) = %+v, %v", m, ok)
		}
		if left := mmsEntries(t, dir); len(left) != 0 {
			t.Fatalf("left behind %v", left)
		}
		if err := st.Discard(); err != nil {
			t.Fatalf("Discard after Commit = %v", err)
		}
	})

	t.Run("swaps an update in and deletes the old version", func(t *testing.T) {
		dir := t.TempDir()
		s := openStore(t, dir)
		install(t, s, "web", "sum1", version("v1", 5))
		v2 := version("v2", 2) // fewer files: v1's extra files must not survive
		install(t, s, "web", "sum2", v2)
		if got := readTree(t, filepath.Join(dir, "web")); !equalFiles(got, v2) {
			t.Fatalf("installed %v, want exactly %v", got, v2)
		}
		if m, _ := s.Managed("web"); m.Checksum != "sum2" {
			t.Fatalf("record says %q, want sum2", m.Checksum)
		}
		if left := mmsEntries(t, dir); len(left) != 0 {
			t.Fatalf("left behind %v", left)
		}
	})

	t.Run("never replaces a hand-placed machine", func(t *testing.T) {
		dir := t.TempDir()
		s := openStore(t, dir)
		hand := version("hand", 2)
		writeTree(t, filepath.Join(dir, "web"), hand)
		st := stage(t, s, "web", version("v1", 2))
		defer st.Discard()
		if err := s.Commit(st, Managed{Checksum: "sum1"}); !errors.Is(err, errs.ErrNotManaged) {
			t.Fatalf("Commit over a hand-placed machine = %v, want ErrNotManaged", err)
		}
		if got := readTree(t, filepath.Join(dir, "web")); !equalFiles(got, hand) {
			t.Fatalf("hand-placed machine changed to %v", got)
		}
		if _, ok := s.Managed("web"); ok {
			t.Fatal("a refused Commit recorded the machine")
		}
	})

	t.Run("replaces a machine once it was adopted", func(t *testing.T) {
		dir := t.TempDir()
		s := openStore(t, dir)
		writeTree(t, filepath.Join(dir, "web"), version("hand", 2))
		if err := s.Adopt(Managed{Name: "web", Checksum: "sum0"}); err != nil {
			t.Fatal(err)
		}
		v1 := version("v1", 1)
		install(t, s, "web", "sum1", v1)
		if got := readTree(t, filepath.Join(dir, "web")); !equalFiles(got, v1) {
			t.Fatalf("installed %v, want %v", got, v1)
		}
	})

	t.Run("refuses a name Choria's loader would skip, before touching disk", func(t *testing.T) {
		dir := t.TempDir()
		s := openStore(t, dir)
		for _, name := range []string{"tmp", "web-temp", "../escape", ".hidden", ""} {
			if _, err := s.Stage(name); !errors.Is(err, errs.ErrInvalidSpec) {
				t.Errorf("Stage(%q) = %v, want ErrInvalidSpec", name, err)
			}
			if err := s.Remove(name); !errors.Is(err, errs.ErrInvalidSpec) {
				t.Errorf("Remove(%q) = %v, want ErrInvalidSpec", name, err)
			}
			if err := s.Adopt(Managed{Name: name}); !errors.Is(err, errs.ErrInvalidSpec) {
				t.Errorf("Adopt(%q) = %v, want ErrInvalidSpec", name, err)
			}
		}
		if left := mmsEntries(t, dir); len(left) != 0 {
			t.Fatalf("created %v", left)
		}
	})

	t.Run("refuses a record naming another machine than the staging", func(t *testing.T) {
		s := openStore(t, t.TempDir())
		st := stage(t, s, "web", version("v1", 1))
		defer st.Discard()
		if err := s.Commit(st, Managed{Name: "db"}); !errors.Is(err, errs.ErrInvalidSpec) {
			t.Fatalf("Commit = %v, want ErrInvalidSpec", err)
		}
	})

	t.Run("refuses a staged tree holding a symlink", func(t *testing.T) {
		dir := t.TempDir()
		s := openStore(t, dir)
		st := stage(t, s, "web", version("v1", 1))
		defer st.Discard()
		if err := os.Symlink("/etc/passwd", filepath.Join(st.Path(), "link")); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(st, Managed{}); !errors.Is(err, errs.ErrUnsafeArchive) {
			t.Fatalf("Commit = %v, want ErrUnsafeArchive", err)
		}
		if _, err := os.Lstat(filepath.Join(dir, "web")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("web exists after a refused Commit: %v", err)
		}
	})

	t.Run("discards a staging directory on request", func(t *testing.T) {
		dir := t.TempDir()
		s := openStore(t, dir)
		st := stage(t, s, "web", version("v1", 1))
		if err := st.Discard(); err != nil {
			t.Fatal(err)
		}
		if left := mmsEntries(t, dir); len(left) != 0 {
			t.Fatalf("left behind %v", left)
		}
		if err := s.Commit(st, Managed{}); err == nil {
			t.Fatal("Commit of a discarded staging succeeded")
		}
	})
}

func TestRemove(t *testing.T) {
	t.Run("removes a managed machine and its record", func(t *testing.T) {
		dir := t.TempDir()
		s := openStore(t, dir)
		install(t, s, "web", "sum1", version("v1", 3))
		install(t, s, "db", "sum1", version("v1", 1))
		if err := s.Remove("web"); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(filepath.Join(dir, "web")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("web still there: %v", err)
		}
		if got := s.ManagedNames(); !slices.Equal(got, []string{"db"}) {
			t.Fatalf("ManagedNames() = %v", got)
		}
		if left := mmsEntries(t, dir); len(left) != 0 {
			t.Fatalf("left behind %v", left)
		}
		s.Close()
		if got := openStore(t, dir).ManagedNames(); !slices.Equal(got, []string{"db"}) {
			t.Fatalf("after reopening, ManagedNames() = %v", got)
		}
	})

	t.Run("refuses an unrecorded machine and touches nothing", func(t *testing.T) {
		dir := t.TempDir()
		s := openStore(t, dir)
		hand := version("hand", 2)
		writeTree(t, filepath.Join(dir, "web"), hand)
		if err := s.Remove("web"); !errors.Is(err, errs.ErrNotManaged) {
			t.Fatalf("Remove = %v, want ErrNotManaged", err)
		}
		if err := s.Remove("absent"); !errors.Is(err, errs.ErrNotManaged) {
			t.Fatalf("Remove(absent) = %v, want ErrNotManaged", err)
		}
		if got := readTree(t, filepath.Join(dir, "web")); !equalFiles(got, hand) {
			t.Fatalf("hand-placed machine changed to %v", got)
		}
	})

	t.Run("drops a managed machine that is already gone from the record", func(t *testing.T) {
		dir := t.TempDir()
		s := openStore(t, dir)
		install(t, s, "web", "sum1", version("v1", 1))
		if err := os.RemoveAll(filepath.Join(dir, "web")); err != nil {
			t.Fatal(err)
		}
		if err := s.Remove("web"); err != nil {
			t.Fatal(err)
		}
		if _, ok := s.Managed("web"); ok {
			t.Fatal("web still recorded")
		}
	})

	t.Run("removes a symlink planted at the machine, never what it points to", func(t *testing.T) {
		dir, outside := t.TempDir(), t.TempDir()
		precious := version("precious", 2)
		writeTree(t, outside, precious)
		s := openStore(t, dir)
		install(t, s, "web", "sum1", version("v1", 1))
		if err := os.RemoveAll(filepath.Join(dir, "web")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, filepath.Join(dir, "web")); err != nil {
			t.Fatal(err)
		}
		if err := s.Remove("web"); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(filepath.Join(dir, "web")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the link is still there: %v", err)
		}
		if got := readTree(t, outside); !equalFiles(got, precious) {
			t.Fatalf("the link's target changed to %v", got)
		}
		if left := mmsEntries(t, dir); len(left) != 0 {
			t.Fatalf("left behind %v", left)
		}
	})

	t.Run("replaces a symlink planted at a managed machine without following it", func(t *testing.T) {
		dir, outside := t.TempDir(), t.TempDir()
		precious := version("precious", 2)
		writeTree(t, outside, precious)
		s := openStore(t, dir)
		install(t, s, "web", "sum1", version("v1", 1))
		os.RemoveAll(filepath.Join(dir, "web"))
		if err := os.Symlink(outside, filepath.Join(dir, "web")); err != nil {
			t.Fatal(err)
		}
		v2 := version("v2", 1)
		install(t, s, "web", "sum2", v2)
		if fi, err := os.Lstat(filepath.Join(dir, "web")); err != nil || !fi.IsDir() {
			t.Fatalf("web is %v, %v; want a directory", fi.Mode(), err)
		}
		if got := readTree(t, filepath.Join(dir, "web")); !equalFiles(got, v2) {
			t.Fatalf("installed %v", got)
		}
		if got := readTree(t, outside); !equalFiles(got, precious) {
			t.Fatalf("the link's target changed to %v", got)
		}
	})

	t.Run("refuses to adopt a symlink", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Symlink(t.TempDir(), filepath.Join(dir, "web")); err != nil {
			t.Fatal(err)
		}
		s := openStore(t, dir)
		if err := s.Adopt(Managed{Name: "web"}); err == nil {
			t.Fatal("Adopt accepted a symlink")
		}
	})
}

func TestCleanAtOpen(t *testing.T) {
	t.Run("removes stale mms staging and old directories, and only those", func(t *testing.T) {
		dir := t.TempDir()
		stale := []string{".mms-stage-web-0123456789abcdef", ".mms-old-db-fedcba9876543210", ".mms-stage-my-web.v2-00000000000000ff"}
		kept := []string{".mms-stage-x", ".mms-stage-web", ".mms-stage-web-0123456789ABCDEF", ".mms-stage-tmp-0123456789abcdef",
			".git", ".stage-web-0123456789abcdef", "tmp", "web-temp", "web"}
		for _, n := range append(slices.Clone(stale), kept...) {
			writeTree(t, filepath.Join(dir, n), map[string]string{"web/machine.yaml": "x"})
		}
		writeTree(t, dir, map[string]string{".mms/.state.json12345": "partial", ".mms/notes": "mine"})
		s := openStore(t, dir)
		want := append(slices.Clone(stale), ".mms/.state.json12345")
		got := s.Cleaned()
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("Cleaned() = %v, want %v", got, want)
		}
		for _, n := range stale {
			if _, err := os.Lstat(filepath.Join(dir, n)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s survived: %v", n, err)
			}
		}
		for _, n := range append(kept, ".mms/notes") {
			if _, err := os.Lstat(filepath.Join(dir, n)); err != nil {
				t.Errorf("%s was touched: %v", n, err)
			}
		}
	})

	t.Run("removes a stale staging symlink without following it", func(t *testing.T) {
		dir, outside := t.TempDir(), t.TempDir()
		writeTree(t, outside, map[string]string{"keep": "x"})
		if err := os.Symlink(outside, filepath.Join(dir, ".mms-stage-web-0123456789abcdef")); err != nil {
			t.Fatal(err)
		}
		openStore(t, dir)
		if got := readTree(t, outside); got["keep"] != "x" {
			t.Fatalf("the link's target changed to %v", got)
		}
	})
}

func TestConcurrentCommits(t *testing.T) {
	t.Run("commits and removes several machines at once without losing a record entry", func(t *testing.T) {
		dir := t.TempDir()
		s := openStore(t, dir)
		names := []string{"a", "b", "c", "d", "e", "f"}
		errc := make(chan error, len(names))
		for _, n := range names {
			st := stage(t, s, n, version(n, 2))
			go func() { errc <- s.Commit(st, Managed{Checksum: n}) }()
		}
		for range names {
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		}
		for _, n := range names[:3] {
			go func() { errc <- s.Remove(n) }()
		}
		for range names[:3] {
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
		if got := openStore(t, dir).ManagedNames(); !slices.Equal(got, names[3:]) {
			t.Fatalf("ManagedNames() = %v, want %v", got, names[3:])
		}
		for _, n := range names[3:] {
			if got := readTree(t, filepath.Join(dir, n)); !equalFiles(got, version(n, 2)) {
				t.Fatalf("%s holds %v", n, got)
			}
		}
	})
}
