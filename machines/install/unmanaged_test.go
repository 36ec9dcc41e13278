package install

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mms-io/mms/machines/errs"
)

func TestRemoveUnmanaged(t *testing.T) {
	approve := func() error { return nil }
	t.Run("removes an approved directory and leaves no staging behind", func(t *testing.T) {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "mm_web"), 0o755)
		os.WriteFile(filepath.Join(dir, "mm_web", "machine.yaml"), []byte("x"), 0o644)
		s := openStore(t, dir)
		if err := s.RemoveUnmanaged("mm_web", approve); err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 || entries[0].Name() != ".mms" {
			t.Fatalf("left %v", entries)
		}
	})
	t.Run("leaves the directory when the check refuses at the last moment", func(t *testing.T) {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "mm_web"), 0o755)
		s := openStore(t, dir)
		no := errors.New("changed since the plan")
		if err := s.RemoveUnmanaged("mm_web", func() error { return no }); !errors.Is(err, no) {
			t.Fatalf("got %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "mm_web")); err != nil {
			t.Fatal("removed")
		}
	})
	t.Run("removes a planted symlink, never its target", func(t *testing.T) {
		dir, target := t.TempDir(), t.TempDir()
		os.WriteFile(filepath.Join(target, "keep"), []byte("x"), 0o644)
		os.Symlink(target, filepath.Join(dir, "mm_web"))
		s := openStore(t, dir)
		if err := s.RemoveUnmanaged("mm_web", approve); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(target, "keep")); err != nil {
			t.Fatal("followed the symlink")
		}
	})
	t.Run("refuses a machine mms manages, and a bad name", func(t *testing.T) {
		dir := t.TempDir()
		s := openStore(t, dir)
		if err := s.Commit(stage(t, s, "web", map[string]string{"machine.yaml": "x"}), Managed{Checksum: "a", VerifyChecksum: "b"}); err != nil {
			t.Fatal(err)
		}
		if err := s.RemoveUnmanaged("web", approve); !errors.Is(err, errs.ErrInvalidSpec) {
			t.Fatalf("got %v", err)
		}
		if err := s.RemoveUnmanaged("../x", approve); !errors.Is(err, errs.ErrInvalidSpec) {
			t.Fatalf("got %v", err)
		}
	})
}
