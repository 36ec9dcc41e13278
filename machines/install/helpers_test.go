package install

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// openStore opens a Store on dir and closes it when the test ends.
func openStore(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// version returns the files of a machine version: n files whose content names the version.
func version(tag string, n int) map[string]string {
	files := map[string]string{"machine.yaml": "name: " + tag + "\n"}
	for i := range n {
		files[fmt.Sprintf("lib/f%02d.txt", i)] = fmt.Sprintf("%s file %d\n", tag, i)
	}
	return files
}

// writeTree creates files (slash paths to contents) under dir.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// readTree returns every regular file under dir (slash paths to contents); it fails on
// anything else but directories.
func readTree(t testing.TB, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is a %s", p, d.Type())
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	return files
}

// stage stages files as the machine name.
func stage(t testing.TB, s *Store, name string, files map[string]string) *Staging {
	t.Helper()
	st, err := s.Stage(name)
	if err != nil {
		t.Fatalf("Stage(%q): %v", name, err)
	}
	writeTree(t, st.Path(), files)
	return st
}

// install stages and commits files as the machine name, recording tag as its checksum.
func install(t testing.TB, s *Store, name, tag string, files map[string]string) {
	t.Helper()
	st := stage(t, s, name, files)
	if err := s.Commit(st, Managed{Name: name, Checksum: tag}); err != nil {
		st.Discard()
		t.Fatalf("Commit(%q): %v", name, err)
	}
}

// mmsEntries lists the names in dir that mms creates beside machines.
func mmsEntries(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".mms-") {
			found = append(found, e.Name())
		}
	}
	return found
}

func equalFiles(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
