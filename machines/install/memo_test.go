package install

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/spec"
)

func TestRememberedRecord(t *testing.T) {
	clock = func() time.Time { return time.Now().Add(time.Hour) } // every file looks old
	t.Cleanup(func() { clock = time.Now })
	dir := t.TempDir()
	accepted := func() int64 {
		t.Helper()
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if a := s.Accepted(); a != nil {
			return a.Version
		}
		return 0
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetAccepted(spec.Accepted{Format: 2, Version: 3}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	t.Run("an unchanged record is the one remembered", func(t *testing.T) {
		if v := accepted(); v != 3 {
			t.Fatalf("version %d", v)
		}
		path := filepath.Join(dir, ".mms", "state.json")
		fi, _ := os.Lstat(path)
		if _, ok := recall(path, statStamp(fi)); !ok {
			t.Fatal("the record read was not remembered")
		}
		if v := accepted(); v != 3 {
			t.Fatalf("version %d from memory", v)
		}
	})
	t.Run("a record another writer replaced is read again", func(t *testing.T) {
		other := Record{Machines: map[string]Managed{}, Accepted: &spec.Accepted{Format: 2, Version: 9}}
		data, err := other.Encode()
		if err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(dir, ".mms", "new")
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, ".mms", "state.json")); err != nil {
			t.Fatal(err)
		}
		if v := accepted(); v != 9 {
			t.Fatalf("read version %d, want the replaced record's 9", v)
		}
	})
	t.Run("a record rewritten in place is read again", func(t *testing.T) {
		other := Record{Machines: map[string]Managed{}, Accepted: &spec.Accepted{Format: 2, Version: 12}}
		data, _ := other.Encode()
		if err := os.WriteFile(filepath.Join(dir, ".mms", "state.json"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		if v := accepted(); v != 12 {
			t.Fatalf("read version %d, want 12", v)
		}
	})
}
