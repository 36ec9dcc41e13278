package install

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mms-io/mms/machines/spec"
)

func TestNoteAccepted(t *testing.T) {
	onDisk := func(t *testing.T, dir string) int64 {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(dir, ".mms", "state.json"))
		if err != nil {
			return 0
		}
		rec, err := DecodeRecord(data)
		if err != nil || rec.Accepted == nil {
			return 0
		}
		return rec.Accepted.Version
	}
	t.Run("is on disk before the first change to the directory", func(t *testing.T) {
		dir := t.TempDir()
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		s.NoteAccepted(spec.Accepted{Format: 2, Version: 6})
		if v := onDisk(t, dir); v != 0 {
			t.Fatalf("written at once: %d", v)
		}
		if err := s.Commit(stage(t, s, "web", map[string]string{"machine.yaml": "name: web\n"}), Managed{Checksum: "a", VerifyChecksum: "b"}); err != nil {
			t.Fatal(err)
		}
		if v := onDisk(t, dir); v != 6 {
			t.Fatalf("after a commit the record on disk says version %d, want 6", v)
		}
	})
	t.Run("is written by Close when nothing changed", func(t *testing.T) {
		dir := t.TempDir()
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		s.NoteAccepted(spec.Accepted{Format: 2, Version: 7})
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if v := onDisk(t, dir); v != 7 {
			t.Fatalf("after Close the record on disk says version %d, want 7", v)
		}
	})
}
