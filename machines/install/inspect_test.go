package install

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mms-io/mms/machines/spec"
)

func TestInspectChangesNothing(t *testing.T) {
	t.Run("a directory mms never touched stays untouched", func(t *testing.T) {
		dir := t.TempDir()
		s, err := Inspect(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.ManagedNames()) != 0 || s.Accepted() != nil {
			t.Fatalf("record of a fresh directory: %v %v", s.ManagedNames(), s.Accepted())
		}
		if _, err := s.Stage("web"); !errors.Is(err, ErrReadOnly) {
			t.Fatalf("Stage: %v", err)
		}
		if err := s.SetAccepted(spec.Accepted{Format: 1}); !errors.Is(err, ErrReadOnly) {
			t.Fatalf("SetAccepted: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 0 {
			t.Fatalf("Inspect wrote %v", entries)
		}
	})
	t.Run("reads the record while another process holds the lock, and writes nothing", func(t *testing.T) {
		dir := t.TempDir()
		w, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		if err := w.SetAccepted(spec.Accepted{Format: 2, Version: 7}); err != nil {
			t.Fatal(err)
		}
		before, _ := os.ReadFile(filepath.Join(dir, ".mms", "state.json"))
		s, err := Inspect(dir)
		if err != nil {
			t.Fatal(err)
		}
		if a := s.Accepted(); a == nil || a.Version != 7 {
			t.Fatalf("accepted = %+v", a)
		}
		s.SetVerified("web", nil)
		if err := s.Remove("web"); !errors.Is(err, ErrReadOnly) {
			t.Fatalf("Remove: %v", err)
		}
		s.Close()
		after, _ := os.ReadFile(filepath.Join(dir, ".mms", "state.json"))
		if string(before) != string(after) {
			t.Fatal("Inspect changed state.json")
		}
	})
}
