package install

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// installKeeping stages and commits files as the machine name with CommitKeepingPrevious.
func installKeeping(t testing.TB, s *Store, name, tag string, files map[string]string) {
	t.Helper()
	st := stage(t, s, name, files)
	if err := s.CommitKeepingPrevious(st, Managed{Name: name, Checksum: tag}); err != nil {
		st.Discard()
		t.Fatalf("CommitKeepingPrevious(%q): %v", name, err)
	}
}

func TestRevertSwapsThePreviousVersionBack(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	install(t, s, "web", "v1", version("v1", 3))
	if _, ok := s.Previous("web"); ok {
		t.Fatal("a plain Commit kept a previous version")
	}
	installKeeping(t, s, "web", "v2", version("v2", 3))
	p, ok := s.Previous("web")
	if !ok || p.Checksum != "v1" {
		t.Fatalf("after keeping, Previous = %+v, %v; want v1", p, ok)
	}
	if got := readTree(t, s.PreviousPath("web")); !equalFiles(got, version("v1", 3)) {
		t.Fatalf("the kept tree is %v, want v1's files", got)
	}
	if got := readTree(t, filepath.Join(dir, "web")); !equalFiles(got, version("v2", 3)) {
		t.Fatalf("installed %v, want v2", got)
	}

	m, err := s.Revert("web")
	if err != nil || m.Checksum != "v1" {
		t.Fatalf("Revert = %+v, %v; want v1", m, err)
	}
	if got := readTree(t, filepath.Join(dir, "web")); !equalFiles(got, version("v1", 3)) {
		t.Fatalf("after the revert web holds %v, want v1", got)
	}
	if rec, _ := s.Managed("web"); rec.Checksum != "v1" {
		t.Fatalf("record says %q after the revert, want v1", rec.Checksum)
	}
	if _, ok := s.Previous("web"); ok {
		t.Fatal("a previous version is still kept after the revert used it")
	}
	if left := mmsEntries(t, dir); len(left) != 0 {
		t.Fatalf("the revert left %v", left)
	}
	if _, err := s.Revert("web"); !errors.Is(err, ErrNoPrevious) {
		t.Fatalf("a second Revert = %v, want ErrNoPrevious", err)
	}

	// The record survives a reopen.
	installKeeping(t, s, "web", "v3", version("v3", 3))
	s.Close()
	s = openStore(t, dir)
	if p, ok := s.Previous("web"); !ok || p.Checksum != "v1" {
		t.Fatalf("after reopening, Previous = %+v, %v; want v1", p, ok)
	}
}

func TestPreviousIsDroppedWhenNoLongerTheOneBefore(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	install(t, s, "web", "v1", version("v1", 2))
	installKeeping(t, s, "web", "v2", version("v2", 2))
	installKeeping(t, s, "web", "v3", version("v3", 2))
	if p, _ := s.Previous("web"); p.Checksum != "v2" {
		t.Fatalf("kept %q, want v2 (the one just replaced)", p.Checksum)
	}
	if got := mmsEntries(t, dir); !slices.Equal(got, []string{prevName("web")}) {
		t.Fatalf("entries %v, want only the one kept", got)
	}
	install(t, s, "web", "v4", version("v4", 2))
	if _, ok := s.Previous("web"); ok {
		t.Fatal("a plain Commit left the version before the one it replaced as previous")
	}
	if left := mmsEntries(t, dir); len(left) != 0 {
		t.Fatalf("a plain Commit left %v", left)
	}
	installKeeping(t, s, "web", "v5", version("v5", 2))
	if err := s.Remove("web"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Previous("web"); ok {
		t.Fatal("Remove kept the previous version of a machine it removed")
	}
	if left := mmsEntries(t, dir); len(left) != 0 {
		t.Fatalf("Remove left %v", left)
	}
}

func TestRevertWithoutPreviousChangesNothing(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	installKeeping(t, s, "web", "v1", version("v1", 2)) // a fresh install has nothing before it
	if _, err := s.Revert("web"); !errors.Is(err, ErrNoPrevious) {
		t.Fatalf("Revert = %v, want ErrNoPrevious", err)
	}
	if got := readTree(t, filepath.Join(dir, "web")); !equalFiles(got, version("v1", 2)) {
		t.Fatalf("web holds %v after a refused revert", got)
	}
}

func TestOpenForgetsAPreviousVersionThatIsNotTheOneRecorded(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	install(t, s, "web", "v1", version("v1", 2))
	installKeeping(t, s, "web", "v2", version("v2", 2))
	s.Close()
	// Someone replaces the kept tree, and leaves another for a machine mms does not manage.
	prev := filepath.Join(dir, prevName("web"))
	if err := os.RemoveAll(prev); err != nil {
		t.Fatal(err)
	}
	writeTree(t, prev, version("planted", 2))
	writeTree(t, filepath.Join(dir, prevName("db")), version("planted", 1))

	s = openStore(t, dir)
	if _, ok := s.Previous("web"); ok {
		t.Fatal("Open kept a previous version whose tree is not the one recorded")
	}
	if _, err := s.Revert("web"); !errors.Is(err, ErrNoPrevious) {
		t.Fatalf("Revert = %v, want ErrNoPrevious", err)
	}
	if left := mmsEntries(t, dir); len(left) != 0 {
		t.Fatalf("Open left %v", left)
	}
	if got := readTree(t, filepath.Join(dir, "web")); !equalFiles(got, version("v2", 2)) {
		t.Fatalf("web holds %v, want v2 untouched", got)
	}
}
